"""Who is calling, and what they may do. Every API handler asks here; the browser is never
trusted to hide a button it should not show."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hearing.api.errors import forbidden
from hearing.models import Hearing


@dataclass(frozen=True)
class Caller:
    kind: str  # "staff" | "participant"
    role: str
    name: str
    user_id: int | None = None
    participant_id: int | None = None
    hearing_id: int | None = None  # participants are bound to exactly one hearing
    csrf: str | None = None

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log."""
        if self.kind == "staff":
            return f"user:{self.user_id}:{self.role}"
        return f"participant:{self.participant_id}:{self.role}"


def is_assigned(caller: Caller, hearing: Hearing) -> bool:
    return caller.kind == "staff" and caller.user_id in (hearing.judge_id, hearing.secretary_id)


def can_view(caller: Caller, hearing: Hearing) -> bool:
    if caller.kind == "participant":
        return caller.hearing_id == hearing.id
    return caller.role == "admin" or is_assigned(caller, hearing)


def require_view(caller: Caller, hearing: Hearing) -> None:
    if not can_view(caller, hearing):
        raise forbidden("you are not part of this hearing")


def require_manage(caller: Caller, hearing: Hearing) -> None:
    """Participants and invites: the court administrator and the hearing's judge and secretary."""
    if caller.kind != "staff" or not (caller.role == "admin" or is_assigned(caller, hearing)):
        raise forbidden("only the court administrator, the judge or the secretary of this "
                        "hearing may do this")


def require_presiding(caller: Caller, hearing: Hearing) -> None:
    """Opening, recess, closing, admitting, muting and ejecting belong to the presiding judge."""
    if not (caller.kind == "staff" and caller.user_id == hearing.judge_id):
        raise forbidden("only the presiding judge may do this")


def require_staff_role(caller: Caller, *roles: str) -> None:
    if caller.kind != "staff" or caller.role not in roles:
        raise forbidden(f"only {' / '.join(roles)} may do this")


CALLER = web.RequestKey("caller", Caller)
