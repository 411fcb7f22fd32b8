"""Runtime of hearings in progress: the WebRTC room, the transcriber streams, and the wiring
between them, the database and the WebSocket clients. The database holds the record; this
holds the moving parts, rebuilt on demand after a restart (a room is created again when the
first participant offers media to an open hearing).

Flow: room audio tap -> AudioChunk -> asr stream per source -> partial (to clients, droppable)
/ final (stored as an immutable machine segment, then sent). Room events (joins, drops,
mutes, recording chunks with their SHA-256) become audit rows."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable


from hearing.models import Hearing, Recording, RecordingChunk
from hearing.transcripts import speaker_of, speakers
from media.audio import AudioChunk
from media.blobstore import BlobStore
from media.clock import HearingClock

log = logging.getLogger(__name__)

Hook = Callable[[int, str], Awaitable[None]]
#: Room events written to the audit log (everything the recording timeline must show).
AUDITED = {"participant.joined", "participant.dropped", "participant.reconnected",
           "participant.left", "participant.removed", "mute", "unmute", "recording.chunk",
           "recording.final", "recording.overflow", "recording.error"}


@dataclass
class LiveHearing:
    hearing_id: int
    clock: HearingClock
    language: str
    vocabulary: list[str]
    room: object | None = None  # media.rtc.Room
    streams: dict[str, object] = field(default_factory=dict)  # source id -> asr Stream
    recent_text: list[str] = field(default_factory=list)
    tasks: set[asyncio.Task] = field(default_factory=set)
    #: speaker key -> label/role, refreshed with every final (names can be assigned late)
    speakers: dict[str, dict] = field(default_factory=dict)

    def prompt(self) -> str:
        return " ".join(self.recent_text)[-400:]


class LiveHearings:
    def __init__(self, state) -> None:  # noqa: ANN001 - AppState (import cycle)
        self.state = state
        self._hooks: list[Hook] = []
        self._live: dict[int, LiveHearing] = {}
        self._starting: dict[int, asyncio.Lock] = {}
        self.scheduler = None  # asr.scheduler.Scheduler, started with the first hearing
        self._scheduler_lock = asyncio.Lock()
        self._loading: asyncio.Task | None = None  # the one model load in flight
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

    async def ensure(self, hearing_id: int) -> LiveHearing:
        """The live part of an open hearing, created on first need."""
        live = self._live.get(hearing_id)
        if live is not None:
            return live
        async with self._starting.setdefault(hearing_id, asyncio.Lock()):
            if hearing_id in self._live:
                return self._live[hearing_id]
            h = await self.state.db.run(lambda s: s.get(Hearing, hearing_id))
            if h is None or h.opened_at is None or h.state == "closed":
                raise RuntimeError("the hearing is not open")
            live = LiveHearing(hearing_id, self.state.clock(h), h.language,
                               list(h.vocabulary or []),
                               speakers=await self.state.db.run(lambda s: speakers(s, hearing_id)))
            live.room = self._make_room(live)
            self._live[hearing_id] = live
            self._spawn(live, self._tree_heads(live))
            return live

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
    def _make_room(self, live: LiveHearing):  # noqa: ANN202
        from media.rtc import Room, RtcOptions
        cfg = self.state.config
        split = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
        options = RtcOptions(stun_urls=split(cfg.stun_urls), turn_urls=split(cfg.turn_urls),
                             turn_secret=cfg.turn_secret or None,
                             bind_addresses=split(cfg.rtc_bind) or None,
                             reconnect_window_s=cfg.reconnect_window_s)
        hid = live.hearing_id
        rec_dir = Path(cfg.data_dir) / "recordings" / str(hid)
        rec_dir.mkdir(parents=True, exist_ok=True)
        return Room(str(hid), live.clock, options, self.blobs, rec_dir,
                    send=lambda pid, msg: self._send_media(hid, pid, msg),
                    on_event=lambda ev: self._room_event(live, ev),
                    on_audio=lambda chunk: self._on_audio(live, chunk))

    def _send_media(self, hearing_id: int, media_id: str, message: dict) -> None:
        for client in self.state.hub.clients(hearing_id):
            if getattr(client, "media_id", None) == media_id:
                client.offer(message)

    def _spawn(self, live: LiveHearing, coro) -> None:  # noqa: ANN001
        task = asyncio.ensure_future(coro)
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)

    def _room_event(self, live: LiveHearing, event: dict) -> None:
        kind = event.get("type", "")
        if kind in AUDITED:
            self._spawn(live, self._record_room_event(live.hearing_id, dict(event)))
        self.state.hub.publish(live.hearing_id, {"type": "media", "event": event},
                               staff_only=True)

    async def _record_room_event(self, hearing_id: int, event: dict) -> None:
        state = self.state
        kind = event.pop("type")
        data = {k: v for k, v in event.items() if k not in ("hearing_id",)}

        def work(s):
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
        if live and live.room and media_id in live.room.participants:
            live.room.set_muted(media_id, muted, by=by)

    async def remove(self, hearing_id: int, media_id: str, by: str) -> None:
        live = self._live.get(hearing_id)
        if live and live.room:
            await live.room.remove(media_id, reason="ejected", by=by)

    async def dropped(self, hearing_id: int, media_id: str) -> None:
        """The participant's WebSocket closed: keep their seat for the reconnect window."""
        live = self._live.get(hearing_id)
        if live and live.room:
            await live.room.participant_dropped(media_id)

    # -- transcription ------------------------------------------------------------------------
    async def _ensure_scheduler(self):  # noqa: ANN202
        async with self._scheduler_lock:
            if self.scheduler is None:
                from asr.model import ModelOptions
                from asr.scheduler import Scheduler, SchedulerOptions
                cfg = self.state.config
                model = ModelOptions(model_dir=cfg.asr_model_dir or None, device=cfg.asr_device,
                                     compute_type=cfg.asr_compute_type)
                scheduler = Scheduler(SchedulerOptions(model=model))
                await scheduler.start()
                self.scheduler = scheduler
            return self.scheduler

    def _on_audio(self, live: LiveHearing, chunk: AudioChunk) -> None:
        if not self.state.config.transcribe:
            return
        stream = live.streams.get(chunk.source_id)
        if stream is None:
            if self.scheduler is None:
                # Audio that arrives while the model loads is recorded but not transcribed;
                # one load serves every source (not one task per 100 ms chunk).
                if self._loading is None or self._loading.done():
                    self._loading = asyncio.ensure_future(self._ensure_scheduler())
                return
            from asr.stream import StreamOptions
            stream = self.scheduler.open_stream(
                chunk.source_id,
                StreamOptions(language=live.language, vocabulary=live.vocabulary,
                              prompt=live.prompt),
                lambda ev: self._on_transcript(live, ev))
            live.streams[chunk.source_id] = stream
        stream.feed(chunk.start_ms, chunk.samples)

    def feed(self, hearing_id: int, chunk: AudioChunk) -> None:
        """Audio from a source other than WebRTC (a courtroom microphone channel)."""
        live = self._live.get(hearing_id)
        if live is not None:
            self._on_audio(live, chunk)

    def _on_transcript(self, live: LiveHearing, event) -> None:  # noqa: ANN001
        message = {"type": event.kind, **event.to_dict()}
        message.pop("kind", None)
        message["words"] = [{"text": w["text"], "start_ms": w["start_ms"], "end_ms": w["end_ms"],
                             "probability": w["probability"]} for w in message["words"]]
        if event.kind == "partial":
            if message["source_id"] not in live.speakers:  # someone added since: look again
                self._spawn(live, self._refresh_speakers(live))
            message["speaker"] = speaker_of(message["source_id"], live.speakers)
            self.state.hub.publish(live.hearing_id, message)
            return
        self._spawn(live, self._store_final(live, message))

    async def _refresh_speakers(self, live: LiveHearing) -> None:
        live.speakers = await self.state.db.run(lambda s: speakers(s, live.hearing_id))

    async def _store_final(self, live: LiveHearing, message: dict) -> None:
        if not message["text"].strip():
            return
        try:
            seg = await self.state.transcripts.add_final(live.hearing_id, message,
                                                         speaker=message["source_id"])
        except Exception:
            log.exception("could not store a final segment of hearing %s", live.hearing_id)
            return
        live.recent_text.append(seg.text)
        del live.recent_text[:-20]
        message["segment_id"] = seg.segment_id
        await self._refresh_speakers(live)
        message["speaker"] = speaker_of(message["source_id"], live.speakers)
        self.state.hub.publish(live.hearing_id, message)

    # -- shutdown -----------------------------------------------------------------------------
    async def finish(self, hearing_id: int) -> None:
        """Close of the hearing: flush transcripts, close media, finalise recordings."""
        live = self._live.pop(hearing_id, None)
        if live is None:
            return
        await self._close_streams(live)
        if live.room is not None:
            await live.room.close()
        await self._settle(live)

    async def _close_streams(self, live: LiveHearing) -> None:
        """Flush every transcriber stream: the last words become finals."""
        for stream in list(live.streams.values()):
            try:
                await stream.close()
            except Exception:
                log.exception("closing a transcriber stream failed")

    async def _settle(self, live: LiveHearing) -> None:
        """Let pending writes (finals, audit rows) finish; stop the periodic signer."""
        for task in list(live.tasks):
            if task.get_coro().__name__ == "_tree_heads":
                task.cancel()
        if live.tasks:
            await asyncio.gather(*live.tasks, return_exceptions=True)

    async def close(self) -> None:
        for hid in list(self._live):
            live = self._live.pop(hid)
            await self._close_streams(live)
            if live.room is not None:
                # Server shutdown is not the close of the hearing: recordings stay as chunks
                # and are finalised when the judge closes it.
                for p in list(live.room.participants.values()):
                    if p.session is not None:
                        await p.session.close()
                await live.room.recorder.close()
            await self._settle(live)
        if self._loading is not None:
            await asyncio.gather(self._loading, return_exceptions=True)
        if self.scheduler is not None:
            await self.scheduler.stop()
            self.scheduler = None
        self._hooks.clear()
