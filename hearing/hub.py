"""Fan-out of live events to the WebSocket clients of each hearing.

Each client has a bounded outgoing queue. When a slow phone falls behind, droppable events
(partial transcripts, level meters) are discarded first, oldest first; if the queue is still
full of events that must not be lost, the client is disconnected and, on reconnect, gets a fresh
snapshot instead of a backlog. Nothing here ever blocks the hearing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)

DROPPABLE = frozenset({"partial", "meter", "lag"})


class Event(dict):
    """A published message: encoded to JSON once, however many clients receive it."""
    __slots__ = ("_text",)

    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text = json.dumps(self, ensure_ascii=False)
            return self._text


def encode(message: dict) -> str:
    return message.text() if isinstance(message, Event) else json.dumps(message,
                                                                        ensure_ascii=False)


@dataclass(eq=False)
class Client:
    hearing_id: int
    caller: object
    queue_size: int
    _q: deque = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    overflowed: bool = False
    #: Staff-only events (meters, lobby details) are not sent to participants.
    staff: bool = False
    #: The media participant id ("p<participant id>") this client signals for, if any.
    media_id: str | None = None

    def offer(self, message: dict) -> None:
        if self.overflowed:
            return
        if len(self._q) >= self.queue_size:
            for i, old in enumerate(self._q):
                if old.get("type") in DROPPABLE:
                    del self._q[i]
                    self.dropped += 1
                    break
            else:
                if message.get("type") in DROPPABLE:
                    self.dropped += 1
                    return
                self.overflowed = True  # the sender loop closes the socket
                self._wake.set()
                return
        self._q.append(message)
        self._wake.set()

    def offer_first(self, message: dict) -> None:
        """Put a message ahead of everything queued (the connection's snapshot)."""
        self._q.appendleft(message)
        self._wake.set()

    async def next_batch(self) -> list[dict]:
        while not self._q and not self.overflowed:
            self._wake.clear()
            await self._wake.wait()
        batch = list(self._q)
        self._q.clear()
        return batch


class Hub:
    def __init__(self) -> None:
        self._clients: dict[int, set[Client]] = {}
        self.listeners: list[Callable[[int, dict], None]] = []

    def add(self, client: Client) -> None:
        self._clients.setdefault(client.hearing_id, set()).add(client)

    def remove(self, client: Client) -> None:
        clients = self._clients.get(client.hearing_id)
        if clients:
            clients.discard(client)
            if not clients:
                del self._clients[client.hearing_id]

    def clients(self, hearing_id: int) -> set[Client]:
        return set(self._clients.get(hearing_id, ()))

    def publish(self, hearing_id: int, message: dict, *, staff_only: bool = False,
                only: Callable[[Client], bool] | None = None) -> None:
        message = Event(message)
        for client in self._clients.get(hearing_id, ()):
            if staff_only and not client.staff:
                continue
            if only is not None and not only(client):
                continue
            client.offer(message)
        for listener in self.listeners:
            listener(hearing_id, message)
