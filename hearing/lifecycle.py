"""The hearing state machine: scheduled -> open <-> recess -> closed. Anything else is refused
(the API answers 409), so a closed hearing can never be reopened and its record grow."""

from __future__ import annotations

TRANSITIONS: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"open"}),
    "open": frozenset({"recess", "closed"}),
    "recess": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none"
        super().__init__(f"cannot go from {current!r} to {wanted!r} (allowed: {allowed})")
        self.current, self.wanted = current, wanted


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, wanted)
