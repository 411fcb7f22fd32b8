"""Hearings in progress: each open hearing's room, streams and tasks, its transitions, and the
room events that go into the audit log.

One node owns a hearing's live state: the one holding its lease (hearing/leases.py), taken
when the live state is first needed (``ensure``: the hearing opens, a client offers media) and
renewed every third of ``lease_ttl_s``. A live effect asked on another node (mute, eject, a
dropped seat, a transition) is sent to the owner as a request on the bus
(courtroom.node.<owner>.live) and done there. Every live write of the owner (recording chunks
and recordings, room-event audit rows, machine segments, courtroom audit rows) checks its
fence in its own transaction (``fenced``); a lost renewal or a refused fence stops the
hearing's live state on this node at once, without finalising its recording: the node that
holds the lease now finishes it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing import leases
from hearing.bus import live_subject
from hearing.closures import LiveClosure, caption_level, live_closure
from hearing.errors import Unavailable, bad_request
from hearing.gaps import recording_gaps, seen_gaps
from hearing.leases import Lease, StaleOwner
from hearing.live.health import Gap, HealthMonitor
from hearing.live.transcription import Transcription, interpreters
from hearing.load import busy, has_room
from hearing.models import Hearing, Recording, RecordingChunk
from hearing.transcripts import speakers
from media.audio import AudioChunk
from media.blobstore import BlobStore
from media.clock import HearingClock
from media.seat_recorder import source_of_recording
from media.tasks import Tasks

if TYPE_CHECKING:
    from asr.scheduler import Scheduler, Stream
    from hearing.state import AppState
    from media.rtc import Room

log = logging.getLogger(__name__)
T = TypeVar("T")

Hook = Callable[[int, str], Awaitable[None]]
#: Room events written to the audit log (everything the recording timeline must show).
AUDITED = {"participant.joined", "participant.dropped", "participant.reconnected",
           "participant.left", "participant.removed", "mute", "unmute", "recording.chunk",
           "recording.final", "recording.overflow", "recording.error"}
#: How long a node waits for the owner to do a live effect, and for a transition (a close
#: flushes the transcripts and finalises the recordings there).
ROUTE_TIMEOUT_S = 10.0
TRANSITION_TIMEOUT_S = 120.0


@dataclass(eq=False)
class LiveHearing:
    hearing_id: int
    clock: HearingClock
    language: str
    vocabulary: list[str]
    #: speaker key -> label/role; loaded once, refreshed when a seat is renamed or a source
    #: nobody knew yet speaks (a participant added since)
    speakers: dict[str, dict]
    room: Room = field(init=False)
    #: source id -> its asr stream (on the shared scheduler: StreamKey(hearing_id, source id))
    streams: dict[str, Stream] = field(default_factory=dict)
    #: source id -> the language its open stream transcribes in (an interpreter's own, else
    #: the hearing's); sources whose stream flushes in its old language after a change
    stream_languages: dict[str, str] = field(default_factory=dict)
    relanguaging: set[str] = field(default_factory=set)
    #: source id -> its last finals: each source is prompted with its own words only, so a
    #: silent seat's hallucination cannot copy what another seat said
    recent_text: dict[str, list[str]] = field(default_factory=dict)
    tasks: Tasks = field(init=False)
    tree_heads: asyncio.Task | None = None  # the periodic signer
    closing: bool = False  # the streams are being flushed: no new audio
    speakers_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: this node's lease on the hearing (renewed by the "lease" task); its fence goes with
    #: every live write
    lease: Lease | None = None
    #: gaps and media health, told to the staff (the "health" task looks)
    health: HealthMonitor | None = None
    #: the hearing's closed spans as hearing.closures.live_closure gives them: each caption
    #: carries the level of its time (hearing.hub sends it only to clients holding it)
    closed_spans: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tasks = Tasks(f"hearing {self.hearing_id}")

    def remember(self, source_id: str, text: str) -> None:
        """A stored final of ``source_id``: the last 20 make that source's prompt."""
        recent = self.recent_text.setdefault(source_id, [])
        recent.append(text)
        del recent[:-20]

    def caption_level(self, start_ms: int, end_ms: int) -> str:
        return caption_level(self.closed_spans, start_ms, end_ms)

    def prompt(self, source_id: str) -> str:
        """The recent text of one source (at most 400 characters)."""
        return " ".join(self.recent_text.get(source_id, ()))[-400:]


class LiveHearings:
    """The live part of every open hearing this node owns, created on first need and finished
    when the hearing closes; transitions run here and reach the other components through
    hooks. A live effect on a hearing another node owns is sent to that node."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._hooks: list[Hook] = []
        self._live: dict[int, LiveHearing] = {}
        self._starting: dict[int, asyncio.Lock] = {}
        self.transcription = Transcription(state)
        self.blobs = BlobStore(Path(state.config.data_dir) / "blobs")
        self._tasks = Tasks("live hearings")  # stopping hearings whose lease was lost
        #: hearings whose close is under way here: one close each (the judge's, arriving
        #: while the owner finishes a close it noticed itself, waits for that one)
        self._closing: dict[int, asyncio.Task] = {}
        #: hearing -> the fence of this node's lease, from taking it to giving it up (also
        #: while a closing hearing flushes, and after it was lost); what live writes carry
        self._fences: dict[int, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        if state.transcripts is not None:
            state.transcripts.check_final = self._check_final
        #: the live effects other nodes may ask of this one (``serve``)
        self._ops: dict[str, Callable[..., Awaitable[None]]] = {
            "transition": self._transition, "set_muted": self._set_muted,
            "remove": self._remove, "dropped": self._dropped,
            "speakers_changed": self._speakers_changed, "closure": self._closure}
        state.hub.listeners.append(self._published)

    # -- ownership ----------------------------------------------------------------------------
    @property
    def node_id(self) -> str:
        return self.state.hub.bus.node_id

    @property
    def node_url(self) -> str:
        cfg = self.state.config
        return (cfg.node_url or cfg.base_url).rstrip("/")

    def lease(self, hearing_id: int) -> Lease | None:
        """This node's lease on the hearing, if it owns its live state."""
        live = self._live.get(hearing_id)
        return live.lease if live is not None else None

    def serve_commands(self) -> None:
        """Answer the live effects other nodes send for the hearings this node owns."""
        self.state.hub.bus.serve(live_subject(self.node_id), self.serve)

    async def serve(self, request: dict) -> dict:
        """One live effect sent by another node ({"op": ..., "args": {...}}), done here."""
        op = self._ops.get(str(request.get("op")))
        if op is None:
            raise bad_request(f"unknown live operation {request.get('op')!r}")
        await op(**(request.get("args") or {}))
        return {"node_id": self.node_id}

    async def _owner_elsewhere(self, hearing_id: int) -> Lease | None:
        """The lease of the other node that owns the hearing's live state, if one does (a
        server alone owns everything itself)."""
        if hearing_id in self._live or not self.state.config.nats_url:
            return None
        lease = await self.state.db.run(lambda s: leases.current(s, hearing_id))
        return lease if lease is not None and lease.node_id != self.node_id else None

    async def _call(self, op: str, timeout_s: float = ROUTE_TIMEOUT_S, **args: Any) -> None:
        """Do a live effect here unless another node owns the hearing, else on that node."""
        owner = await self._owner_elsewhere(args["hearing_id"])
        if owner is None:
            await self._ops[op](**args)
            return
        await self.state.hub.bus.request(live_subject(owner.node_id),
                                         {"op": op, "args": args}, timeout_s)

    async def fenced(self, hearing_id: int, work: Callable[[Session], T],
                     fence: int | None = None) -> T:
        """Run a live write of this node in one transaction that first checks its fence (by
        default that of its lease on the hearing): a node that no longer holds the hearing
        writes nothing and stops the hearing's live state here (StaleOwner is raised)."""
        if fence is None:
            fence = self._fence(hearing_id)

        def run(s: Session) -> T:
            leases.check_fence(s, hearing_id, fence)
            return work(s)
        try:
            return await self.state.db.run(run)
        except StaleOwner:
            self._lose(hearing_id, f"a write with fence {fence} was refused")
            raise

    def _fence(self, hearing_id: int) -> int:
        fence = self._fences.get(hearing_id)
        if fence is None:
            raise StaleOwner(f"hearing {hearing_id} is not held by this node",
                             code="stale_owner")
        return fence

    def _check_final(self, s: Session, hearing_id: int) -> None:
        """In a machine final's transaction (the database's thread): the fence of this node,
        if it has held the hearing (a final stored by a tool or a test is not live)."""
        fence = self._fences.get(hearing_id)
        if fence is None:
            return
        try:
            leases.check_fence(s, hearing_id, fence)
        except StaleOwner:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._lose, hearing_id,
                                                "a machine segment was refused")
            raise

    async def _keep_lease(self, live: LiveHearing) -> None:
        """Renew the lease every third of its lifetime; once it is lost (taken by another
        node, or not renewed in time) stop the hearing's live state here. A hearing closed
        while its close could not reach this node is finished here."""
        ttl = self.state.config.lease_ttl_s
        hid = live.hearing_id
        while True:
            await asyncio.sleep(ttl / 3)
            lease = live.lease

            def renew(s):  # noqa: ANN001, ANN202
                h = s.get(Hearing, hid)
                return leases.renew(s, lease, ttl), h.state if h is not None else "closed"
            try:
                renewed, hearing_state = await self.state.db.run(renew)
            except Exception as exc:  # the database away for a moment: try until it lapses
                if datetime.now(timezone.utc) < lease.expires_at:
                    log.warning("hearing %s: lease not renewed yet: %s", hid, exc)
                    continue
                renewed, hearing_state = None, None
            if renewed is None:
                self._lose(hid, "its lease was lost (taken by another node, or lapsed)")
                return
            live.lease = renewed
            if hearing_state == "closed":
                self._close(hid)
                return

    def _lose(self, hearing_id: int, why: str) -> None:
        """This node no longer holds the hearing: its live state stops here at once (no new
        audio, no new writes), and the room, capture and streams close in the background,
        their recordings left as chunks for the node that holds the lease now."""
        live = self._live.pop(hearing_id, None)  # its fence stays: late writes are refused
        if live is None:
            return
        live.closing = True
        fence = live.lease.fence if live.lease else None
        log.warning("hearing %s: %s; its live state stops on node %s (fence %s)",
                    hearing_id, why, self.node_id, fence)
        self.state.hub.publish(hearing_id, {"type": "media", "event": {
            "type": "node.lost", "node_id": self.node_id, "fence": fence, "reason": why}},
            staff_only=True)
        try:
            self._tasks.start(self._stop_lost(live), f"stop hearing {hearing_id}")
        except RuntimeError:  # the server is stopping: its shutdown closes the rest
            log.info("hearing %s: left to the shutdown to stop", hearing_id)

    async def _stop_lost(self, live: LiveHearing) -> None:
        try:
            await self.state.courtrooms.stop(live.hearing_id)
        except Exception:
            log.exception("stopping the courtroom capture of hearing %s", live.hearing_id)
        await self.transcription.close_streams(live)
        await live.room.shutdown()
        await self._settle(live)

    # -- transitions --------------------------------------------------------------------------
    def on_transition(self, hook: Hook) -> None:
        """Register a coroutine called with (hearing_id, new_state) after each transition."""
        self._hooks.append(hook)

    async def transition(self, hearing_id: int, new_state: str) -> None:
        """The live parts follow a transition on the node that owns the hearing (the node
        that opens it takes it when no other holds it)."""
        await self._call("transition", TRANSITION_TIMEOUT_S, hearing_id=hearing_id,
                         new_state=new_state)
        if new_state == "closed":
            self.state.clocks.pop(hearing_id, None)

    async def _transition(self, hearing_id: int, new_state: str) -> None:
        if new_state == "closed":
            await asyncio.shield(self._close(hearing_id))
        else:
            await self._follow(hearing_id, new_state)

    def _close(self, hearing_id: int) -> asyncio.Task:
        """The close of the hearing here: started once, awaited by whoever asks for it."""
        task = self._closing.get(hearing_id)
        if task is None:
            async def close() -> None:
                try:
                    await self._follow(hearing_id, "closed")
                    await self.finish(hearing_id)
                    self.state.clocks.pop(hearing_id, None)
                finally:
                    del self._closing[hearing_id]
            task = self._closing[hearing_id] = self._tasks.start(close(),
                                                                 f"close hearing {hearing_id}")
        return task

    async def _follow(self, hearing_id: int, new_state: str) -> None:
        await self.sign_tree_head(hearing_id)
        if new_state == "open":
            await self.ensure(hearing_id)
        for hook in self._hooks:
            try:
                await hook(hearing_id, new_state)
            except Exception:  # one failing subsystem must not undo the judge's decision
                log.exception("transition hook failed for hearing %s -> %s", hearing_id,
                              new_state)

    def get(self, hearing_id: int) -> LiveHearing | None:
        return self._live.get(hearing_id)

    def all(self) -> list[LiveHearing]:
        """Every hearing live in this process (read by the metrics)."""
        return list(self._live.values())

    async def ensure(self, hearing_id: int) -> LiveHearing:
        """The live part of an open hearing, created on first need with this node's lease on
        it; leases.HeldElsewhere if another node holds the hearing."""
        live = self._live.get(hearing_id)
        if live is not None:
            return live
        async with self._starting.setdefault(hearing_id, asyncio.Lock()):
            if hearing_id in self._live:
                return self._live[hearing_id]
            node_id, node_url, ttl = self.node_id, self.node_url, self.state.config.lease_ttl_s
            room, why = has_room(self.state)  # past its load limits, a node takes no hearing

            def load(s):  # noqa: ANN001, ANN202
                h = s.get(Hearing, hearing_id)
                if h is None or h.opened_at is None or h.state == "closed":
                    return None
                if not room:
                    held = leases.current(s, hearing_id)
                    if held is not None and held.node_id != node_id:
                        raise leases.HeldElsewhere(held)  # its owner has room for it
                    raise busy(self.state, why)
                lease = leases.acquire(s, hearing_id, node_id, node_url, ttl)
                if lease is None:
                    held = leases.current(s, hearing_id)
                    if held is None:  # it lapsed a moment ago
                        raise Unavailable("the hearing is changing hands; try again")
                    raise leases.HeldElsewhere(held)
                return h, speakers(s, hearing_id), lease, live_closure(s, hearing_id)
            loaded = await self.state.db.run(load)
            if loaded is None:
                raise RuntimeError("the hearing is not open")
            h, known, lease, closure = loaded
            live = LiveHearing(hearing_id, self.state.clock(h), h.language,
                               list(h.vocabulary or []), known)
            live.lease, self._fences[hearing_id] = lease, lease.fence
            self._loop = asyncio.get_running_loop()
            live.room = self._make_room(live)
            self._apply_closure(live, closure)
            live.room.set_interpreters(interpreters(known))
            live.health = HealthMonitor(
                live, lambda m: self.state.hub.publish(hearing_id, m, staff_only=True),
                lambda gap: self._record_gap(live, gap))
            self._live[hearing_id] = live
            live.tree_heads = live.tasks.start(self._tree_heads(live), "tree heads")
            live.tasks.start(live.health.run(), "health")
            live.tasks.start(self._keep_lease(live), "lease")
            self.transcription.prepare()
            if lease.fence > 1 and self.state.takeover is not None:
                self.state.takeover.taken_over(live, lease)  # the gap a dead owner left
            return live

    async def ensure_scheduler(self) -> Scheduler:
        """The server's one Whisper scheduler, loaded on first need (also for evidence)."""
        return await self.transcription.ensure_scheduler()

    def feed(self, hearing_id: int, chunk: AudioChunk) -> None:
        """Audio from a source other than WebRTC (a courtroom microphone channel, captured
        only on the owner)."""
        live = self._live.get(hearing_id)
        if live is not None:
            self.transcription.feed(live, chunk)

    async def speakers_changed(self, hearing_id: int) -> None:
        """A name or label changed (a seat renamed): later segments and the courtroom meters
        show it (on the owner)."""
        try:
            await self._call("speakers_changed", hearing_id=hearing_id)
        except (Unavailable, RuntimeError) as exc:  # the owner shows it with its next reload
            log.warning("hearing %s: speakers not refreshed on its owner: %s", hearing_id, exc)

    async def _speakers_changed(self, hearing_id: int) -> None:
        live = self._live.get(hearing_id)
        if live is not None:
            await self.transcription.refresh_speakers(live)
            live.room.set_interpreters(interpreters(live.speakers))
            for key, who in live.speakers.items():
                if who.get("seat"):
                    self.state.courtrooms.relabel(hearing_id, key, who["label"])

    async def closure_changed(self, hearing_id: int) -> None:
        """A closed part started, ended or was marked: the owner reloads the spans and cuts
        off (or lets back) the receivers who may not see the part running now."""
        await self._call("closure", hearing_id=hearing_id)

    async def _closure(self, hearing_id: int) -> None:
        live = self._live.get(hearing_id)
        if live is not None:
            closure = await self.state.db.run(lambda s: live_closure(s, hearing_id))
            self._apply_closure(live, closure)

    @staticmethod
    def _apply_closure(live: LiveHearing, closure: LiveClosure) -> None:
        live.closed_spans = closure.spans
        live.room.set_cut_off(set(closure.cut_off))

    async def sign_tree_head(self, hearing_id: int) -> None:
        """Sign the audit log's current Merkle root (RFC 6962 style) if it grew."""
        from hearing.stenograms import sign_tree_head_now
        try:
            await self.state.db.run(
                lambda s: sign_tree_head_now(s, self.state.config, hearing_id))
        except Exception:
            log.exception("could not sign a tree head for hearing %s", hearing_id)

    async def _tree_heads(self, live: LiveHearing) -> None:
        while True:
            await asyncio.sleep(self.state.config.tree_head_interval_s)
            await self.sign_tree_head(live.hearing_id)

    # -- media ------------------------------------------------------------------------------
    def _make_room(self, live: LiveHearing) -> Room:
        from media.rtc import Room, RtcOptions
        cfg = self.state.config
        split = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
        options = RtcOptions(stun_urls=split(cfg.stun_urls), turn_urls=split(cfg.turn_urls),
                             turn_secret=cfg.turn_secret or None,
                             bind_addresses=split(cfg.rtc_bind) or None,
                             reconnect_window_s=cfg.reconnect_window_s)
        hid = live.hearing_id
        rec_dir = Path(cfg.data_dir) / "recordings" / str(hid)
        rec_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return Room(str(hid), live.clock, options, self.blobs, rec_dir,
                    send=lambda pid, msg: self._send_media(hid, pid, msg),
                    on_event=lambda ev: self._room_event(live, ev),
                    on_audio=lambda chunk: self.transcription.feed(live, chunk))

    def _send_media(self, hearing_id: int, media_id: str, message: dict) -> None:
        for client in self.state.hub.clients(hearing_id):
            if client.media_id == media_id:
                client.offer(message)

    def health(self, hearing_id: int) -> dict | None:
        """The hearing's latest health, if this node runs it."""
        live = self._live.get(hearing_id)
        return live.health.snapshot() if live is not None and live.health else None

    def gaps(self, hearing_id: int) -> list[dict] | None:
        """The gaps this node has seen in the hearing's audio (open ones too), if it runs it."""
        live = self._live.get(hearing_id)
        if live is None or live.health is None:
            return None
        return [g.to_json() for g in live.health.all_gaps()]

    def _published(self, hearing_id: int, message: dict) -> None:
        """A courtroom seat's alert, published to the staff, also tells the seat's health."""
        if message.get("type") == "alert":
            live = self._live.get(hearing_id)
            if live is not None and live.health is not None:
                live.health.on_alert(dict(message))

    def _record_gap(self, live: LiveHearing, gap: Gap) -> None:
        if live.lease is not None:
            live.tasks.start(self.record_room_event(live.hearing_id, {"type": "gap",
                                                                      **gap.to_json()},
                                                    live.lease.fence), "audit gap")

    def _room_event(self, live: LiveHearing, event: dict) -> None:
        kind = event.get("type", "")
        if live.health is not None:
            live.health.on_room_event(event)
        if kind in AUDITED and live.lease is not None:
            live.tasks.start(self.record_room_event(live.hearing_id, dict(event),
                                                    live.lease.fence), f"audit {kind}")
        self.state.hub.publish(live.hearing_id, {"type": "media", "event": event},
                               staff_only=True)

    async def record_room_event(self, hearing_id: int, event: dict, fence: int) -> bool:
        """Write a room event (and a recording chunk's or recording's row) as the owner with
        ``fence``; False if it was not written (refused: this node no longer holds it)."""
        state = self.state
        kind = event.pop("type")
        data = {k: v for k, v in event.items() if k not in ("hearing_id",)}

        def work(s):  # noqa: ANN001, ANN202
            h = s.get(Hearing, hearing_id)
            state.audit(s, h, "media", kind, data)
            if kind == "recording.chunk":
                s.add(RecordingChunk(hearing_id=hearing_id, source_id=data["source_id"],
                                     path=str(data.get("path", "")), sha256=data["sha256"],
                                     size=int(data.get("size", 0)),
                                     start_ms=int(data.get("start_ms", 0)),
                                     end_ms=int(data.get("end_ms", 0))))
            elif kind == "recording.final":
                s.add(Recording(hearing_id=hearing_id, source_id=data["source_id"],
                                sha256=data["sha256"], size=int(data.get("size", 0)),
                                start_ms=int(data.get("start_ms", 0)),
                                end_ms=int(data.get("end_ms", 0)),
                                content_type=data.get("content_type", "audio/ogg"),
                                gaps=recording_gaps(data.get("gaps") or [],
                                                    seen_gaps(s, hearing_id, source_of_recording(
                                                        data["source_id"])),
                                                    int(data.get("end_ms", 0)))))
        try:
            await self.fenced(hearing_id, work, fence)
        except StaleOwner:
            log.warning("hearing %s: media event %s refused: this node no longer holds the "
                        "hearing (fence %s)", hearing_id, kind, fence)
            return False
        except Exception:
            log.exception("could not record media event %s for hearing %s", kind, hearing_id)
            return False
        if kind == "recording.final":
            await state.retranscription.recording_stored(hearing_id)
        return True

    async def signal(self, hearing_id: int, media_id: str, message: dict) -> None:
        """A client's media signalling, on the owner only (leases.HeldElsewhere elsewhere:
        the client is sent to the owner, never relayed)."""
        live = await self.ensure(hearing_id)
        await live.room.handle_message(media_id, message)

    async def set_muted(self, hearing_id: int, media_id: str, muted: bool, by: str) -> None:
        await self._call("set_muted", hearing_id=hearing_id, media_id=media_id, muted=muted,
                         by=by)

    async def _set_muted(self, hearing_id: int, media_id: str, muted: bool, by: str) -> None:
        live = self._live.get(hearing_id)
        if live and media_id in live.room.participants:
            live.room.set_muted(media_id, muted, by=by)

    async def remove(self, hearing_id: int, media_id: str, by: str) -> None:
        """Eject a seat from the room, wherever the room is."""
        await self._call("remove", hearing_id=hearing_id, media_id=media_id, by=by)

    async def _remove(self, hearing_id: int, media_id: str, by: str) -> None:
        live = self._live.get(hearing_id)
        if live:
            await live.room.remove(media_id, reason="ejected", by=by)

    async def dropped(self, hearing_id: int, media_id: str) -> None:
        """The participant's WebSocket closed: keep their seat for the reconnect window."""
        try:
            await self._call("dropped", hearing_id=hearing_id, media_id=media_id)
        except (Unavailable, RuntimeError) as exc:  # the owner sees the peer go on its own
            log.warning("hearing %s: the drop of %s did not reach its owner: %s", hearing_id,
                        media_id, exc)

    async def _dropped(self, hearing_id: int, media_id: str) -> None:
        live = self._live.get(hearing_id)
        if live is None or any(c.media_id == media_id
                               for c in self.state.hub.clients(hearing_id)):
            return  # not here, or the seat's connection to this node is still open
        await live.room.participant_dropped(media_id)

    # -- shutdown -----------------------------------------------------------------------------
    async def finish(self, hearing_id: int) -> None:
        """Close of the hearing (on its owner): flush transcripts, close media, finalise
        recordings, also those whose chunks an earlier process or a node that lost the
        hearing wrote, then give the lease up."""
        live = self._live.pop(hearing_id, None)
        lease = live.lease if live is not None else None
        if live is not None:
            if live.health is not None:
                live.health.close(live.clock.now_ms())
            await self.transcription.close_streams(live)
            await live.room.close()
            await self._settle(live)
        if lease is None:  # nobody held it live: this node finalises under a lease of its own
            node_id, node_url = self.node_id, self.node_url
            lease = await self.state.db.run(lambda s: leases.acquire(
                s, hearing_id, node_id, node_url, self.state.config.lease_ttl_s))
            if lease is None:
                log.warning("hearing %s closed while another node holds it: that node "
                            "finishes it", hearing_id)
                return
        await self._finalise_left_over(hearing_id, lease.fence)
        await self._release(lease)

    async def _release(self, lease: Lease) -> None:
        if self._fences.get(lease.hearing_id) == lease.fence:
            del self._fences[lease.hearing_id]
        try:
            await self.state.db.run(lambda s: leases.release(s, lease))
        except Exception as exc:  # it lapses on its own
            log.warning("could not give up the lease on hearing %s: %s", lease.hearing_id, exc)

    async def _finalise_left_over(self, hearing_id: int, fence: int) -> None:
        """Every source with chunks on disk but no recording yet gets one, from its chunks."""
        from media.rtc.recorder import finalise_recordings
        rec_dir = Path(self.state.config.data_dir) / "recordings" / str(hearing_id)
        if not rec_dir.is_dir():
            return
        done = set(await self.state.db.run(lambda s: s.execute(
            select(Recording.source_id).where(Recording.hearing_id == hearing_id)).scalars()))
        loop = asyncio.get_running_loop()
        try:
            finals = await loop.run_in_executor(None, finalise_recordings, rec_dir, self.blobs,
                                                done)
        except Exception:
            log.exception("could not finalise the recordings of hearing %s", hearing_id)
            return
        for rec in finals:
            await self.record_room_event(hearing_id, rec.to_event(), fence)

    async def _settle(self, live: LiveHearing) -> None:
        """Stop the periodic signer and the lease renewal, let pending writes (finals, audit
        rows) finish, and leave nothing of the hearing running."""
        if live.tree_heads is not None:
            await live.tasks.cancel(live.tree_heads)
        for looking in live.tasks.named("health"):
            await live.tasks.cancel(looking)
        for renewal in live.tasks.named("lease"):
            await live.tasks.cancel(renewal)
        await live.tasks.wait()
        await live.tasks.close()

    async def close(self) -> None:
        """Server shutdown, which is not the close of the hearing: recordings stay as chunks
        and are finalised when the judge closes it; the leases are given up, so another node
        (or this one restarted) takes the hearings at once."""
        for hid in list(self._live):
            live = self._live.pop(hid)
            await self.transcription.close_streams(live)
            await live.room.shutdown()
            await self._settle(live)
            if live.lease is not None:
                await self._release(live.lease)
        await self._tasks.wait()  # hearings lost (or closing) a moment ago finish
        await self._tasks.close()
        await self.transcription.close()
        self._hooks.clear()
        if self._published in self.state.hub.listeners:
            self.state.hub.listeners.remove(self._published)
