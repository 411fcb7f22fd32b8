"""The hearing state machine: scheduled -> open <-> recess -> closed, or scheduled -> cancelled
(a hearing that never took place). Anything else is refused
(a conflict), so a closed hearing can never be reopened and its record grow."""

from __future__ import annotations

from hearing.errors import Conflict
from hearing.models import HEARING_STATES, HearingState

TRANSITIONS: dict[HearingState, frozenset[HearingState]] = {
    "scheduled": frozenset({"open", "cancelled"}),
    "open": frozenset({"recess", "closed"}),
    "recess": frozenset({"open", "closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
#: The states a transition can ask for, in the machine's order.
TARGETS: tuple[HearingState, ...] = tuple(
    s for s in HEARING_STATES if any(s in after for after in TRANSITIONS.values()))


class IllegalTransition(Conflict):
    def __init__(self, current: HearingState, wanted: HearingState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none"
        super().__init__(f"cannot go from {current!r} to {wanted!r} (allowed: {allowed})",
                         state=current)
        self.current, self.wanted = current, wanted


def check_transition(current: HearingState, wanted: HearingState) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, wanted)
