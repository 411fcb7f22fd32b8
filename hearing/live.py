"""Runtime of hearings in progress: what must start when a hearing opens and stop when it
closes (media rooms, transcriber streams, courtroom capture plug in here). The database holds
the record; this holds the moving parts, rebuilt from the record after a restart."""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

Hook = Callable[[int, str], Awaitable[None]]


class LiveHearings:
    def __init__(self, state) -> None:  # noqa: ANN001 - AppState (import cycle)
        self.state = state
        self._hooks: list[Hook] = []

    def on_transition(self, hook: Hook) -> None:
        """Register a coroutine called with (hearing_id, new_state) after each transition."""
        self._hooks.append(hook)

    async def transition(self, hearing_id: int, new_state: str) -> None:
        for hook in self._hooks:
            try:
                await hook(hearing_id, new_state)
            except Exception:  # one failing subsystem must not undo the judge's decision
                log.exception("transition hook failed for hearing %s -> %s", hearing_id,
                              new_state)
        if new_state == "closed":
            self.state.clocks.pop(hearing_id, None)

    async def close(self) -> None:
        self._hooks.clear()
