"""The message bus between the nodes of one court.

Live events of a hearing reach the clients of that hearing on every node: each node fans an
event out to its own clients at once and hands it to the bus for the others. One process alone
has no other node (``LocalBus``, the embedded default: nothing leaves the process); several
processes share a NATS server (``NatsBus``, configured by ``nats_url``).

Events are not durable: a client that missed some (its node lost the bus for a while) gets a
fresh snapshot when it reconnects, as after any drop. The outgoing queue is bounded; when it is
full, droppable events (partial captions, meters) are refused first, then the oldest others,
each counted in ``dropped``."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

log = logging.getLogger(__name__)

Handler = Callable[[dict], None]
#: Subject of a hearing's live events.
EVENTS = "courtroom.hearing.{hearing_id}.events"
#: Subject of connection endings (a revoked invite, an ended session, an ejected participant),
#: which every node applies to its own clients.
CONNECTIONS = "courtroom.connections"


def events_subject(hearing_id: int) -> str:
    return EVENTS.format(hearing_id=hearing_id)


class Bus(Protocol):
    node_id: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def publish(self, subject: str, message: dict, *, droppable: bool = False) -> None:
        """Send to the other nodes that subscribed to ``subject``; never blocks."""

    def subscribe(self, subject: str, handler: Handler) -> None:
        """Deliver what other nodes publish on ``subject`` to ``handler`` (on the loop)."""

    def unsubscribe(self, subject: str) -> None: ...


@dataclass
class LocalBus:
    """One process: there is no other node to tell."""
    node_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    dropped: int = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def publish(self, subject: str, message: dict, *, droppable: bool = False) -> None:
        return None

    def subscribe(self, subject: str, handler: Handler) -> None:
        return None

    def unsubscribe(self, subject: str) -> None:
        return None


@dataclass
class NatsOptions:
    url: str = "nats://127.0.0.1:4222"
    #: Messages waiting to be sent while the connection is slow or reconnecting.
    queue_size: int = 10_000
    #: How long a start waits for the server before the node refuses to start.
    connect_timeout_s: float = 5.0


class NatsBus:
    """Several processes: core NATS publish/subscribe, in publish order per node. Each message
    carries its origin node, and a node ignores its own (it has already delivered them)."""

    def __init__(self, options: NatsOptions, node_id: str | None = None) -> None:
        self.options = options
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.dropped = 0
        self._nc = None
        self._queue: deque[tuple[str, bytes, bool]] = deque()
        self._wake = asyncio.Event()
        self._sender: asyncio.Task | None = None
        self._handlers: dict[str, Handler] = {}
        self._subs: dict[str, object] = {}

    async def start(self) -> None:
        import nats  # only a node of several needs the client
        try:  # reconnects never give up, so the first connection is bounded in time here
            self._nc = await asyncio.wait_for(nats.connect(
                self.options.url, connect_timeout=self.options.connect_timeout_s,
                max_reconnect_attempts=-1, allow_reconnect=True,
                error_cb=self._error, disconnected_cb=self._disconnected,
                reconnected_cb=self._reconnected), self.options.connect_timeout_s)
        except Exception as exc:
            raise RuntimeError(f"cannot reach the NATS server at {self.options.url}: "
                               f"{exc or type(exc).__name__}") from None
        for subject in list(self._handlers):
            await self._subscribe(subject)
        self._sender = asyncio.create_task(self._send_loop(), name="bus sender")

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None
        if self._nc is not None:
            await self._flush_queue()
            try:
                await self._nc.drain()
            except Exception:  # already closed by the server going away
                pass
            self._nc = None

    def publish(self, subject: str, message: dict, *, droppable: bool = False) -> None:
        data = json.dumps({"o": self.node_id, "m": message}, ensure_ascii=False,
                          separators=(",", ":")).encode()
        if len(self._queue) >= self.options.queue_size:
            if droppable:
                self.dropped += 1
                return
            for i, (_, _, old_droppable) in enumerate(self._queue):
                if old_droppable:
                    del self._queue[i]
                    break
            else:
                self._queue.popleft()
            self.dropped += 1
        self._queue.append((subject, data, droppable))
        self._wake.set()

    def subscribe(self, subject: str, handler: Handler) -> None:
        self._handlers[subject] = handler
        if self._nc is not None and subject not in self._subs:
            asyncio.get_running_loop().create_task(self._subscribe(subject))

    def unsubscribe(self, subject: str) -> None:
        self._handlers.pop(subject, None)
        sub = self._subs.pop(subject, None)
        if sub is not None:
            asyncio.get_running_loop().create_task(_quietly(sub.unsubscribe()))

    async def _subscribe(self, subject: str) -> None:
        if subject in self._subs or subject not in self._handlers or self._nc is None:
            return

        async def deliver(msg) -> None:  # noqa: ANN001
            try:
                envelope = json.loads(msg.data)
            except ValueError:
                log.warning("bus: a message on %s is not JSON; ignored", msg.subject)
                return
            if envelope.get("o") == self.node_id:
                return
            handler = self._handlers.get(subject)
            if handler is not None:
                try:
                    handler(envelope.get("m") or {})
                except Exception:
                    log.exception("bus: handler of %s failed", subject)
        self._subs[subject] = await self._nc.subscribe(subject, cb=deliver)

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush_queue()

    async def _flush_queue(self) -> None:
        while self._queue and self._nc is not None:
            subject, data, _ = self._queue[0]
            try:
                await self._nc.publish(subject, data)
            except Exception as exc:  # reconnecting: keep the message, try again shortly
                log.warning("bus: publish on %s deferred: %s", subject, exc)
                await asyncio.sleep(0.2)
                continue
            self._queue.popleft()

    async def _error(self, exc: Exception) -> None:
        log.warning("bus: %s", exc)

    async def _disconnected(self) -> None:
        log.warning("bus: disconnected from %s; reconnecting", self.options.url)

    async def _reconnected(self) -> None:
        log.info("bus: reconnected to %s", self.options.url)


async def _quietly(coro) -> None:  # noqa: ANN001
    try:
        await coro
    except Exception:
        pass


def make_bus(nats_url: str, node_id: str = "") -> Bus:
    """The bus a configuration asks for: NATS when a URL is set, else the process alone."""
    if nats_url:
        return NatsBus(NatsOptions(url=nats_url), node_id or None)
    return LocalBus(node_id=node_id) if node_id else LocalBus()
