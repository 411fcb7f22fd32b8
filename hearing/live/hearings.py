"""Hearings in progress: each open hearing's room, streams and tasks, its transitions, and the
room events that go into the audit log."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

from sqlalchemy import select

from hearing.live.transcription import Transcription
from hearing.models import Hearing, Recording, RecordingChunk
from hearing.transcripts import speakers
from media.audio import AudioChunk
from media.blobstore import BlobStore
from media.clock import HearingClock
from media.tasks import Tasks

if TYPE_CHECKING:
    from asr.scheduler import Scheduler, Stream
    from hearing.state import AppState
    from media.rtc import Room

log = logging.getLogger(__name__)

Hook = Callable[[int, str], Awaitable[None]]
#: Room events written to the audit log (everything the recording timeline must show).
AUDITED = {"participant.joined", "participant.dropped", "participant.reconnected",
           "participant.left", "participant.removed", "mute", "unmute", "recording.chunk",
           "recording.final", "recording.overflow", "recording.error"}


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
    recent_text: list[str] = field(default_factory=list)
    tasks: Tasks = field(init=False)
    tree_heads: asyncio.Task | None = None  # the periodic signer
    closing: bool = False  # the streams are being flushed: no new audio
    speakers_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.tasks = Tasks(f"hearing {self.hearing_id}")

    def prompt(self) -> str:
        return " ".join(self.recent_text)[-400:]


class LiveHearings:
    """The live part of every open hearing, created on first need and finished when the
    hearing closes; transitions run here and reach the other components through hooks."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._hooks: list[Hook] = []
        self._live: dict[int, LiveHearing] = {}
        self._starting: dict[int, asyncio.Lock] = {}
        self.transcription = Transcription(state)
        self.blobs = BlobStore(Path(state.config.data_dir) / "blobs")

    def on_transition(self, hook: Hook) -> None:
        """Register a coroutine called with (hearing_id, new_state) after each transition."""
        self._hooks.append(hook)

    async def transition(self, hearing_id: int, new_state: str) -> None:
        await self.sign_tree_head(hearing_id)
        if new_state == "open":
            await self.ensure(hearing_id)
        for hook in self._hooks:
            try:
                await hook(hearing_id, new_state)
            except Exception:  # one failing subsystem must not undo the judge's decision
                log.exception("transition hook failed for hearing %s -> %s", hearing_id,
                              new_state)
        if new_state == "closed":
            await self.finish(hearing_id)
            self.state.clocks.pop(hearing_id, None)

    def get(self, hearing_id: int) -> LiveHearing | None:
        return self._live.get(hearing_id)

    def all(self) -> list[LiveHearing]:
        """Every hearing live in this process (read by the metrics)."""
        return list(self._live.values())

    async def ensure(self, hearing_id: int) -> LiveHearing:
        """The live part of an open hearing, created on first need."""
        live = self._live.get(hearing_id)
        if live is not None:
            return live
        async with self._starting.setdefault(hearing_id, asyncio.Lock()):
            if hearing_id in self._live:
                return self._live[hearing_id]

            def load(s):  # noqa: ANN001, ANN202
                h = s.get(Hearing, hearing_id)
                if h is None or h.opened_at is None or h.state == "closed":
                    return None
                return h, speakers(s, hearing_id)
            loaded = await self.state.db.run(load)
            if loaded is None:
                raise RuntimeError("the hearing is not open")
            h, known = loaded
            live = LiveHearing(hearing_id, self.state.clock(h), h.language,
                               list(h.vocabulary or []), known)
            live.room = self._make_room(live)
            self._live[hearing_id] = live
            live.tree_heads = live.tasks.start(self._tree_heads(live), "tree heads")
            return live

    async def ensure_scheduler(self) -> Scheduler:
        """The server's one Whisper scheduler, loaded on first need (also for evidence)."""
        return await self.transcription.ensure_scheduler()

    def feed(self, hearing_id: int, chunk: AudioChunk) -> None:
        """Audio from a source other than WebRTC (a courtroom microphone channel)."""
        live = self._live.get(hearing_id)
        if live is not None:
            self.transcription.feed(live, chunk)

    async def speakers_changed(self, hearing_id: int) -> None:
        """A name or label changed (a seat renamed): later segments are sent with it."""
        live = self._live.get(hearing_id)
        if live is not None:
            await self.transcription.refresh_speakers(live)

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

    def _room_event(self, live: LiveHearing, event: dict) -> None:
        kind = event.get("type", "")
        if kind in AUDITED:
            live.tasks.start(self._record_room_event(live.hearing_id, dict(event)),
                             f"audit {kind}")
        self.state.hub.publish(live.hearing_id, {"type": "media", "event": event},
                               staff_only=True)

    async def _record_room_event(self, hearing_id: int, event: dict) -> None:
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
                                content_type=data.get("content_type", "audio/ogg")))
        try:
            await state.db.run(work)
        except Exception:
            log.exception("could not record media event %s for hearing %s", kind, hearing_id)

    async def signal(self, hearing_id: int, media_id: str, message: dict) -> None:
        live = await self.ensure(hearing_id)
        await live.room.handle_message(media_id, message)

    async def set_muted(self, hearing_id: int, media_id: str, muted: bool, by: str) -> None:
        live = self._live.get(hearing_id)
        if live and media_id in live.room.participants:
            live.room.set_muted(media_id, muted, by=by)

    async def remove(self, hearing_id: int, media_id: str, by: str) -> None:
        live = self._live.get(hearing_id)
        if live:
            await live.room.remove(media_id, reason="ejected", by=by)

    async def dropped(self, hearing_id: int, media_id: str) -> None:
        """The participant's WebSocket closed: keep their seat for the reconnect window."""
        live = self._live.get(hearing_id)
        if live:
            await live.room.participant_dropped(media_id)

    # -- shutdown -----------------------------------------------------------------------------
    async def finish(self, hearing_id: int) -> None:
        """Close of the hearing: flush transcripts, close media, finalise recordings, also
        those whose chunks an earlier process wrote (a restart that nobody rejoined after)."""
        live = self._live.pop(hearing_id, None)
        if live is not None:
            await self.transcription.close_streams(live)
            await live.room.close()
            await self._settle(live)
        await self._finalise_left_over(hearing_id)

    async def _finalise_left_over(self, hearing_id: int) -> None:
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
            await self._record_room_event(hearing_id, rec.to_event())

    async def _settle(self, live: LiveHearing) -> None:
        """Stop the periodic signer, let pending writes (finals, audit rows) finish, and leave
        nothing of the hearing running."""
        if live.tree_heads is not None:
            await live.tasks.cancel(live.tree_heads)
        await live.tasks.wait()
        await live.tasks.close()

    async def close(self) -> None:
        """Server shutdown, which is not the close of the hearing: recordings stay as chunks
        and are finalised when the judge closes it."""
        for hid in list(self._live):
            live = self._live.pop(hid)
            await self.transcription.close_streams(live)
            await live.room.shutdown()
            await self._settle(live)
        await self.transcription.close()
        self._hooks.clear()
