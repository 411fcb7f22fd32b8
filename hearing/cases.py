"""Cases as records: the case a hearing belongs to is found by (court, number), or opened
with the hearing that first names it. A case's number is unique within its court."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.models import Case, HearingKind


def find_case(s: Session, court_id: int | None, number: str) -> Case | None:
    q = select(Case).where(Case.number == number)
    q = q.where(Case.court_id.is_(None) if court_id is None else Case.court_id == court_id)
    return s.execute(q).scalar_one_or_none()


def case_for_hearing(s: Session, court_id: int | None, number: str, category: HearingKind,
                     title: str, judge_id: int | None, created_by: int | None) -> tuple[Case, bool]:
    """The case with this number in this court, or a new one; True when it was created."""
    case = find_case(s, court_id, number)
    if case is not None:
        return case, False
    case = Case(court_id=court_id, number=number, category=category, title=title,
                judge_id=judge_id, status="open", created_at=datetime.now(timezone.utc),
                created_by=created_by)
    s.add(case)
    s.flush()
    return case, True
