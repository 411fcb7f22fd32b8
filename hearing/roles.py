"""Who is calling: a staff member signed in with a session, or a participant holding an invite.
What each may do is decided in `hearing.access`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CallerKind = Literal["staff", "participant"]


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
        if self.kind == "staff":
            return f"user:{self.user_id}:{self.role}"
        return f"participant:{self.participant_id}:{self.role}"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"
