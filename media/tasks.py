"""Owned background tasks. Every long-lived task of a component (a room's audio pump, a
hearing's transcriber feed, a capture's watchdog) is started through the component's `Tasks`,
named, kept until it ends, logged if it fails, and cancelled and awaited when the component
closes, so a shutdown leaves nothing running and no exception goes unseen.

Lives in media because media, hardware and hearing all start tasks, and media is the lowest
package the other two may import."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

log = logging.getLogger(__name__)


class Tasks:
    """The tasks one component owns."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run coro as a task named `<owner>: <name>`, owned until it ends or close()."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.owner} is closed; cannot start {name}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.owner}: {name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    def named(self, name: str) -> list[asyncio.Task]:
        """Running tasks started under this name."""
        full = f"{self.owner}: {name}"
        return [t for t in self._tasks if t.get_name() == full]

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel(self, task: asyncio.Task) -> None:
        """Cancel one owned task and wait until it has ended."""
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def wait(self) -> None:
        """Wait for every task running now (and those they start) to end on its own."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task and wait until all have ended; nothing can be started after."""
        self._closed = True
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
