"""Cases as records: the case a hearing belongs to is found by (court, number), or opened
with the hearing that first names it. A case's number is unique within its court."""

from __future__ import annotations

from datetime import datetime, timezone

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from hearing.models import Case, HearingKind
from hearing.search.index import index_case


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
    index_case(s, case)
    return case, True


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    """``text`` anywhere in ``column``, ignoring case. SQLite folds only ASCII letters, so the
    usual spellings of a Cyrillic word (as typed, lower, upper, capitalised) are tried too."""
    escaped = {v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
               for v in (text, text.lower(), text.upper(), text.capitalize())}
    return or_(*(column.ilike(f"%{v}%", escape="\\") for v in sorted(escaped)))
