"""Who is calling: a member of the court's staff signed in with a session, a party's
professional (prosecutor, lawyer, representative) signed in with a session, or a participant
holding an invite. What each may do is decided in `hearing.access`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: "party": an account of a prosecutor, lawyer or representative; never court staff.
CallerKind = Literal["staff", "party", "participant"]


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    role: str
    name: str
    user_id: int | None = None
    participant_id: int | None = None
    hearing_id: int | None = None  # participants are bound to exactly one hearing
    csrf: str | None = None

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log."""
        if self.kind in ("staff", "party"):
            return f"user:{self.user_id}:{self.role}"
        return f"participant:{self.participant_id}:{self.role}"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def has_account(self) -> bool:
        """Signed in with a session (staff or party), not holding an invite."""
        return self.kind in ("staff", "party")
