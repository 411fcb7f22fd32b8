"""One caller's action as one database transaction: the change, its audit row, and the live
events that announce it. Events are held until the commit, so no client ever hears of an
action that was rolled back, and an action never commits without its audit row."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from hearing.models import AuditEvent, Hearing
from hearing.roles import Caller

if TYPE_CHECKING:
    from hearing.state import AppState

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Tx:
    s: Session
    state: "AppState"
    caller: Caller | None
    events: list[tuple[int, dict]] = field(default_factory=list)

    @property
    def me(self) -> Caller:
        assert self.caller is not None
        return self.caller

    def audit(self, hearing: Hearing | None, action: str, data: dict | None = None, *,
              actor: str | None = None) -> AuditEvent:
        """Append the audit row in this transaction (the caller is the actor unless named)."""
        who = actor if actor is not None else self.me.actor
        return self.state.audit(self.s, hearing, who, action, data)

    def publish(self, hearing_id: int, event: dict) -> None:
        """Send to the hearing's live clients once the transaction has committed."""
        self.events.append((hearing_id, event))


async def transaction(state: "AppState", caller: Caller | None,
                      fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                      **kwargs: P.kwargs) -> T:
    """Run fn(tx, ...) in a worker thread inside one transaction; publish its events after
    the commit."""
    events: list[tuple[int, dict]] = []

    def work(s: Session) -> T:
        return fn(Tx(s, state, caller, events), *args, **kwargs)

    started = time.perf_counter()
    try:
        result = await state.db.run(work)
    except BaseException:
        state.metrics.transaction_seconds.labels("error").observe(time.perf_counter() - started)
        raise
    state.metrics.transaction_seconds.labels("ok").observe(time.perf_counter() - started)
    for hearing_id, event in events:
        state.hub.publish(hearing_id, event)
    return result
