"""Fan-out of live events to the WebSocket clients of each hearing.

Each client has a bounded outgoing queue. When a slow phone falls behind, droppable events
(partial transcripts, level meters) are discarded first, oldest first; if the queue is still
full of events that must not be lost, the client is disconnected and, on reconnect, gets a fresh
snapshot instead of a backlog. Nothing here ever blocks the hearing.

On a court of several nodes the hub also forwards each event to the other nodes through the
bus (hearing/bus.py), subscribed per hearing while this node has clients of it, and delivers
theirs to its own clients: a judge on one node sees the hand raised by a phone on another.

The hub also knows who each client is (the credential it signed in with, its presence in the
hearing): a revoked invite or an ended session closes exactly those clients (``end``), and
captions reach only staff and admitted participants."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Callable

from hearing.bus import CONNECTIONS, Bus, LocalBus, events_subject
log = logging.getLogger(__name__)

DROPPABLE = frozenset({"partial", "meter", "lag"})
#: Live captions: what is said in the hearing, not for the lobby.
CAPTIONS = frozenset({"partial", "final"})


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
    #: the dropped messages by type (what the metrics count per reason)
    drops: Counter = field(default_factory=Counter)
    #: Staff-only events (meters, lobby details) are not sent to participants.
    staff: bool = False
    #: The media participant id ("p<participant id>") this client signals for, if any.
    media_id: str | None = None
    #: Hash of the session or invite token the client signed in with (see Hub.end).
    credential: str | None = None
    #: A participant's presence (lobby, admitted, ejected), kept current by published events.
    presence: str | None = None
    #: (close code, reason) once the server ends the connection; nothing more is queued.
    closing: tuple[int, str] | None = None
    #: The access levels the caller holds in the hearing (hearing.closures.allowed_levels):
    #: a message with a ``level`` (a caption: of its time; an evidence event: of its item; a
    #: note: of its moment) reaches only clients that hold it.
    levels: frozenset[str] = frozenset({"public"})

    @property
    def hears_captions(self) -> bool:
        return self.staff or self.presence == "admitted"

    def offer(self, message: dict) -> None:
        if self.closing is not None:
            return
        if len(self._q) >= self.queue_size:
            for i, old in enumerate(self._q):
                if old.get("type") in DROPPABLE:
                    del self._q[i]
                    self.dropped += 1
                    self.drops[old["type"]] += 1
                    break
            else:
                if message.get("type") in DROPPABLE:
                    self.dropped += 1
                    self.drops[message["type"]] += 1
                    return
                self.closing = (4000, "fell behind; reconnect for a fresh snapshot")
                self._wake.set()
                return
        self._q.append(message)
        self._wake.set()

    @property
    def queued(self) -> int:
        """Messages waiting to be sent to this client."""
        return len(self._q)

    def offer_first(self, message: dict) -> None:
        """Put a message ahead of everything queued (the connection's snapshot)."""
        if self.closing is None:
            self._q.appendleft(message)
            self._wake.set()

    def end(self, notice: dict, code: int) -> None:
        """The server ends this connection: what is still queued is dropped (the client no
        longer has a right to it), the notice is the last message, then the socket closes
        with ``code`` (the sender loop)."""
        if self.closing is not None:
            return
        self._q.clear()
        self._q.append(notice)
        self.closing = (code, str(notice.get("type", "closed")))
        self._wake.set()

    async def next_batch(self) -> list[dict]:
        while not self._q and self.closing is None:
            self._wake.clear()
            await self._wake.wait()
        batch = list(self._q)
        self._q.clear()
        return batch


@dataclass(frozen=True)
class Selector:
    """Which connections to end, in terms that travel to other nodes: those signed in with a
    credential (an invite's or a session's token hash), or one participant's in a hearing."""
    credential: str | None = None
    hearing_id: int | None = None
    participant_id: int | None = None

    def matches(self, client: Client) -> bool:
        if self.credential is not None:
            return client.credential == self.credential
        return (client.hearing_id == self.hearing_id and not client.staff
                and getattr(client.caller, "participant_id", None) == self.participant_id)


class Hub:
    def __init__(self, bus: Bus | None = None) -> None:
        self._clients: dict[int, set[Client]] = {}
        self.listeners: list[Callable[[int, dict], None]] = []
        self.bus: Bus = LocalBus()
        self.use_bus(bus if bus is not None else self.bus)
        #: messages dropped and connections closed, of clients no longer on the hub, by reason
        self.dropped_gone: Counter = Counter()
        self.closed: Counter = Counter()

    def use_bus(self, bus: Bus) -> None:
        """Join the other nodes: their events and connection endings reach this node."""
        self.bus = bus
        bus.subscribe(CONNECTIONS, self._end_from_other_node)

    def add(self, client: Client) -> None:
        hearing_id = client.hearing_id
        if hearing_id not in self._clients:
            self.bus.subscribe(events_subject(hearing_id),
                               lambda m, h=hearing_id: self._from_other_node(h, m))
        self._clients.setdefault(hearing_id, set()).add(client)

    def remove(self, client: Client) -> None:
        clients = self._clients.get(client.hearing_id)
        if clients and client in clients:
            clients.discard(client)
            self.dropped_gone.update(client.drops)
            self.closed[close_reason(client)] += 1
            if not clients:
                del self._clients[client.hearing_id]
                self.bus.unsubscribe(events_subject(client.hearing_id))

    def clients(self, hearing_id: int) -> set[Client]:
        return set(self._clients.get(hearing_id, ()))

    def all_clients(self) -> list[Client]:
        return [c for clients in self._clients.values() for c in clients]

    def dropped_by_reason(self) -> Counter:
        """Messages dropped since the start, by the dropped message's type."""
        total = Counter(self.dropped_gone)
        for client in self.all_clients():
            total.update(client.drops)
        return total

    def end(self, match: Callable[[Client], bool], notice: dict, code: int) -> list[Client]:
        """Close every client (of any hearing) that ``match`` selects, at once: off the hub, so
        no later event reaches it, with ``notice`` as its last message."""
        ended = [c for clients in self._clients.values() for c in clients if match(c)]
        for client in ended:
            client.end(notice, code)
            self.remove(client)
        return ended

    def end_everywhere(self, selector: Selector, notice: dict, code: int) -> list[Client]:
        """End the connections ``selector`` names on every node (a revoked invite, an ended
        session, an ejected participant); returns this node's."""
        self.bus.publish(CONNECTIONS, {"selector": asdict(selector), "notice": notice,
                                       "code": code})
        return self.end(selector.matches, notice, code)

    def _end_from_other_node(self, message: dict) -> None:
        try:
            selector = Selector(**message["selector"])
            notice, code = dict(message["notice"]), int(message["code"])
        except (KeyError, TypeError, ValueError):
            log.warning("a connection ending from another node is malformed; ignored")
            return
        self.end(selector.matches, notice, code)

    def publish(self, hearing_id: int, message: dict, *, staff_only: bool = False,
                actor: str | None = None) -> None:
        """Send to the hearing's clients on this node and on every other: all of them, only
        staff (``staff_only``), or staff and the one caller named by ``actor`` (what a
        participant submitted is theirs and the court's)."""
        message = Event(message)
        self._fan_out(hearing_id, message, staff_only, actor)
        self.bus.publish(events_subject(hearing_id),
                         {"staff_only": staff_only, "actor": actor, "message": dict(message)},
                         droppable=message.get("type") in DROPPABLE)
        for listener in self.listeners:
            listener(hearing_id, message)

    def _from_other_node(self, hearing_id: int, envelope: dict) -> None:
        message, actor = envelope.get("message"), envelope.get("actor")
        if isinstance(message, dict) and (actor is None or isinstance(actor, str)):
            self._fan_out(hearing_id, Event(message), bool(envelope.get("staff_only")), actor)

    def _fan_out(self, hearing_id: int, message: Event, staff_only: bool,
                 actor: str | None) -> None:
        clients = self._clients.get(hearing_id, ())
        _track_presence(clients, message)
        captions = message.get("type") in CAPTIONS
        for client in clients:
            if (staff_only or actor is not None) and not client.staff and (
                    actor is None or getattr(client.caller, "actor", None) != actor):
                continue
            if captions and not client.hears_captions:
                continue
            if message.get("level", "public") not in client.levels:
                continue
            client.offer(message)


def close_reason(client: Client) -> str:
    """Why a connection ended: the client went away, it fell behind, or the server ended it
    (the notice's type: a revoked invite, an ejection, an ended session ...)."""
    if client.closing is None:
        return "client"
    code, reason = client.closing
    return "fell_behind" if code == 4000 else reason


def _track_presence(clients: set[Client], message: dict) -> None:
    """A published participant record (joined, admitted, ejected, hand) carries the
    participant's presence: the clients of that participant take it over."""
    p = message.get("participant")
    if not isinstance(p, dict) or "presence" not in p:
        return
    for client in clients:
        if not client.staff and getattr(client.caller, "participant_id", None) == p.get("id"):
            client.presence = p["presence"]
