"""The message bus between the nodes of one court.

Live events of a hearing reach the clients of that hearing on every node: each node fans an
event out to its own clients at once and hands it to the bus for the others. One process alone
has no other node (``LocalBus``, the embedded default: nothing leaves the process); several
processes share a NATS server (``NatsBus``, configured by ``nats_url``).

Events are not durable: a client that missed some (its node lost the bus for a while) gets a
fresh snapshot when it reconnects, as after any drop. The outgoing queue is bounded; when it is
full, droppable events (partial captions, meters) are refused first, then the oldest others,
each counted in ``dropped``.

Commands go to one node by request and reply (``request``/``serve``): a node that does not
own a hearing's live state sends the live effect of a command (mute, eject, close) to the
owner's subject and waits for its answer. A refusal (a domain error) comes back as
{"error": message, "code": ..., "kind": ...} and is raised again on the asking node as the
same kind of error; no answer in time (the owner gone or overloaded) is ``Unavailable``: try
again.

Everything a court puts on NATS is named after its ``bus_prefix`` (default "courtroom"), so
several courts (or test runs) share one NATS server without meeting: the subjects the nodes
use here are relative ("hearing.7.events") and travel as "<prefix>.hearing.7.events", and the
JetStream streams and key-value buckets are named "<PREFIX>_<NAME>" (``stream_name``)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol

from hearing import errors
from hearing.errors import DomainError, Unavailable

log = logging.getLogger(__name__)

Handler = Callable[[dict], None]
#: Answers a request: its reply, or a domain error to send back.
Server = Callable[[dict], Awaitable[dict]]
#: The default ``bus_prefix``: one court alone on its NATS server.
DEFAULT_PREFIX = "courtroom"
#: What a prefix may be: one NATS subject token that also makes a valid stream name.
PREFIX_RE = re.compile(r"[A-Za-z0-9_-]+")
#: Subject of a hearing's live events (relative to the prefix, like the next two).
EVENTS = "hearing.{hearing_id}.events"
#: Subject of connection endings (a revoked invite, an ended session, an ejected participant),
#: which every node applies to its own clients.
CONNECTIONS = "connections"
#: Subject of the live effects of commands that a node does for the hearings it owns
#: (hearing.live.hearings).
NODE_LIVE = "node.{node_id}.live"


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot name a court's subjects and streams, or None when it can."""
    if not PREFIX_RE.fullmatch(prefix or ""):
        return (f"{prefix!r} is not a bus prefix: use letters, digits, '-' and '_' only "
                f"(it begins every NATS subject and names the JetStream streams)")
    return None


def stream_name(prefix: str, name: str) -> str:
    """A JetStream stream's or bucket's name under ``prefix``: "courtroom", "JOBS" ->
    "COURTROOM_JOBS" (upper case, '-' as '_'; asr.worker.PoolNames follows the same rule)."""
    return f"{prefix.upper().replace('-', '_')}_{name}"


def events_subject(hearing_id: int) -> str:
    return EVENTS.format(hearing_id=hearing_id)


def live_subject(node_id: str) -> str:
    return NODE_LIVE.format(node_id=node_id)


def error_reply(exc: BaseException) -> dict:
    """A failed request as it travels: a domain error by its kind (the class in
    hearing.errors it is), code, message and details; anything else as an internal error."""
    if isinstance(exc, DomainError):
        kind = next(k.__name__ for k in type(exc).__mro__
                    if getattr(errors, k.__name__, None) is k)
        extra = {k: v for k, v in exc.extra.items()
                 if isinstance(v, (str, int, float, bool)) or v is None}
        return {"error": exc.message, "code": exc.code, "kind": kind, "extra": extra}
    return {"error": f"{type(exc).__name__}: {exc}", "code": "internal"}


def raise_reply(reply: dict) -> None:
    """Raise the error a reply carries, as the kind of domain error it was."""
    kind = getattr(errors, str(reply.get("kind")), None)
    if isinstance(kind, type) and issubclass(kind, DomainError):
        raise kind(str(reply["error"]), code=reply.get("code"), **(reply.get("extra") or {}))
    raise RuntimeError(f"the other node failed: {reply.get('error')}")


class Bus(Protocol):
    node_id: str
    #: messages waiting to go to the other nodes (node load)
    queued: int

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def publish(self, subject: str, message: dict, *, droppable: bool = False) -> None:
        """Send to the other nodes that subscribed to ``subject``; never blocks."""

    def subscribe(self, subject: str, handler: Handler) -> None:
        """Deliver what other nodes publish on ``subject`` to ``handler`` (on the loop)."""

    def unsubscribe(self, subject: str) -> None: ...

    async def request(self, subject: str, message: dict, timeout_s: float = 10.0) -> dict:
        """Ask the one node that serves ``subject`` and return its reply; its refusal is
        raised here as the same kind of domain error, no answer in time as Unavailable."""

    def serve(self, subject: str, handler: Server) -> None:
        """Answer the requests sent to ``subject`` with ``handler`` (on the loop)."""


@dataclass
class LocalBus:
    """One process: there is no other node to tell. It is the only node there is, under one
    name across restarts ("local"), so a restarted server still holds what it held. Requests
    reach what this bus serves (the same process), else nobody: Unavailable."""
    node_id: str = "local"
    dropped: int = 0
    _served: dict[str, Server] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        """Nothing waits: there is no other node."""
        return 0

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

    async def request(self, subject: str, message: dict, timeout_s: float = 10.0) -> dict:
        handler = self._served.get(subject)
        if handler is None:
            raise Unavailable(f"nobody answers on {subject}; try again", code="no_responder")
        try:  # as over the wire: the handler gets its own copy, errors come back by kind
            return await asyncio.wait_for(handler(json.loads(json.dumps(message))), timeout_s)
        except asyncio.TimeoutError:
            raise Unavailable(f"no answer on {subject} in {timeout_s} s; try again",
                              code="no_answer") from None
        except DomainError:
            raise
        except Exception as exc:
            raise RuntimeError(f"the request on {subject} failed: {exc}") from exc

    def serve(self, subject: str, handler: Server) -> None:
        self._served[subject] = handler


@dataclass
class NatsOptions:
    url: str = "nats://127.0.0.1:4222"
    #: Messages waiting to be sent while the connection is slow or reconnecting.
    queue_size: int = 10_000
    #: How long a start waits for the server before the node refuses to start.
    connect_timeout_s: float = 5.0
    #: The court's ``bus_prefix``: the first token of every subject on the wire.
    prefix: str = DEFAULT_PREFIX


class NatsBus:
    """Several processes: core NATS publish/subscribe, in publish order per node. Each message
    carries its origin node, and a node ignores its own (it has already delivered them).
    Subjects are given relative to the court's prefix, which this class alone adds."""

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
        self._served: dict[str, Server] = {}
        self._serving: dict[str, object] = {}
        self._answering: set[asyncio.Task] = set()

    def wire(self, subject: str) -> str:
        """The subject as it travels: under the court's prefix."""
        return f"{self.options.prefix}.{subject}"

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
        for subject in list(self._served):
            await self._serve(subject)
        self._sender = asyncio.create_task(self._send_loop(), name="bus sender")

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None
        for task in list(self._answering):
            task.cancel()
        await asyncio.gather(*self._answering, return_exceptions=True)
        if self._nc is not None:
            await self._flush_queue()
            try:
                await self._nc.drain()
            except Exception:  # already closed by the server going away
                pass
            self._nc = None

    @property
    def queued(self) -> int:
        """Messages waiting to go to the NATS server."""
        return len(self._queue)

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

    async def request(self, subject: str, message: dict, timeout_s: float = 10.0) -> dict:
        import nats.errors
        if self._nc is None:
            raise Unavailable("this node is not connected to the bus; try again",
                              code="no_bus")
        data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            msg = await self._nc.request(self.wire(subject), data, timeout=timeout_s)
        except nats.errors.NoRespondersError:
            raise Unavailable(f"nobody answers on {subject}; try again",
                              code="no_responder") from None
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            raise Unavailable(f"no answer on {subject} in {timeout_s} s; try again",
                              code="no_answer") from None
        reply = json.loads(msg.data)
        if "error" in reply:
            raise_reply(reply)
        return reply.get("r") or {}

    def serve(self, subject: str, handler: Server) -> None:
        self._served[subject] = handler
        if self._nc is not None and subject not in self._serving:
            asyncio.get_running_loop().create_task(self._serve(subject))

    async def _serve(self, subject: str) -> None:
        if subject in self._serving or self._nc is None:
            return

        async def answer(msg) -> None:  # noqa: ANN001
            try:
                reply = {"r": await self._served[subject](json.loads(msg.data))}
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the asker
                if not isinstance(exc, DomainError):
                    log.exception("bus: serving %s failed", subject)
                reply = error_reply(exc)
            try:
                await msg.respond(json.dumps(reply, ensure_ascii=False,
                                             separators=(",", ":")).encode())
            except Exception as exc:  # the asker gave up, or the connection is gone
                log.warning("bus: could not answer on %s: %s", subject, exc)

        async def deliver(msg) -> None:  # noqa: ANN001
            # each request on its own task: a slow one (a close) does not hold up the others
            task = asyncio.get_running_loop().create_task(answer(msg))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        self._serving[subject] = await self._nc.subscribe(self.wire(subject), cb=deliver)

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
        self._subs[subject] = await self._nc.subscribe(self.wire(subject), cb=deliver)

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush_queue()

    async def _flush_queue(self) -> None:
        while self._queue and self._nc is not None:
            subject, data, _ = self._queue[0]
            try:
                await self._nc.publish(self.wire(subject), data)
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


def make_bus(nats_url: str, node_id: str = "", prefix: str = DEFAULT_PREFIX) -> Bus:
    """The bus a configuration asks for: NATS when a URL is set, else the process alone."""
    if nats_url:
        return NatsBus(NatsOptions(url=nats_url, prefix=prefix), node_id or None)
    return LocalBus(node_id=node_id) if node_id else LocalBus()
