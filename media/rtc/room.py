"""The media side of one hearing: the API the hearing server's WebSocket handler calls.

The hearing server decides who may join (lobby, admission, invites) and relays signalling;
the Room runs the peer connections, forwards everybody's media to everybody else, feeds the
transcriber and records each source. Everything it does that belongs in the audit log it
reports through ``on_event`` (plain JSON-ready dicts, ``at_ms`` on the hearing clock)::

    participant.joined / participant.dropped / participant.reconnected / participant.left /
    participant.removed / mute / unmute / recording.chunk / recording.final /
    recording.overflow / recording.error / rtc.connected / rtc.udp_buffer
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from media.audio import AudioChunk
from media.blobstore import BlobStore
from media.clock import HearingClock
from media.tasks import Tasks

from .config import RtcOptions, apply_bind_addresses
from .ice_ports import apply_port_range
from .recorder import Recorder, RecordingBlob, finalise_recordings
from .session import Send, Session
from .signalling import SignallingError
from .source import Source
from .tap import AudioTap

log = logging.getLogger(__name__)


@dataclass
class Participant:
    participant_id: str
    source: Source
    session: Session | None = None
    dropped_at_ms: int | None = None
    receive_video: bool = True  # False: audio only (a phone on a poor link)
    expiry: asyncio.Task | None = field(default=None, repr=False)  # the reconnect window


class Room:
    """Construct inside the running event loop. ``send(participant_id, message)`` delivers a
    server-originated signalling message (may be sync or async); ``on_event`` receives audit
    events; ``on_audio`` receives the tap's AudioChunks (called on the loop from a pump task
    that reads the tap's bounded queue; keep it quick, or read ``room.tap.queue`` yourself and
    pass None). The room owns its tasks (the pump, the others' renegotiations, drops and
    reconnect windows): ``close`` and ``shutdown`` cancel and await them."""

    def __init__(self, hearing_id: str, clock: HearingClock, options: RtcOptions, blobs: BlobStore,
                 recording_dir: Path, send: Send, on_event: Callable[[dict], None],
                 on_audio: Callable[[AudioChunk], None] | None = None) -> None:
        self.hearing_id = hearing_id
        if options.bind_addresses is not None:
            apply_bind_addresses(options.bind_addresses)
        if options.port_range is not None:
            apply_port_range(options.port_range)
        self.clock = clock
        self.options = options
        self.blobs = blobs
        self.recording_dir = Path(recording_dir)
        self._send = send
        self._on_event = on_event
        self.tap = AudioTap(options.tap_chunk_ms, options.tap_queue_chunks)
        self.recorder = Recorder(self.recording_dir, self._event, options.recording_chunk_ms)
        self.participants: dict[str, Participant] = {}
        self.closed = False
        self.tasks = Tasks(f"room {hearing_id}")
        if on_audio is not None:
            self.tasks.start(self._pump_audio(on_audio), "audio pump")

    # -- events -------------------------------------------------------------------------------
    def _event(self, event: dict) -> None:
        event.setdefault("at_ms", self.clock.now_ms())
        event.setdefault("hearing_id", self.hearing_id)
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event failed for %s", event.get("type"))

    async def _pump_audio(self, on_audio: Callable[[AudioChunk], None]) -> None:
        refused: set[str] = set()  # sources on_audio raises for: logged once per run of them
        while True:
            chunk = await self.tap.queue.get()
            try:
                on_audio(chunk)
            except Exception:
                if chunk.source_id not in refused:
                    refused.add(chunk.source_id)
                    log.exception("on_audio refused audio of %s from %d ms (logged once until "
                                  "it accepts again)", chunk.source_id, chunk.start_ms)
            else:
                if chunk.source_id in refused:
                    refused.discard(chunk.source_id)
                    log.info("on_audio accepts audio of %s again", chunk.source_id)

    # -- signalling ---------------------------------------------------------------------------
    async def handle_message(self, participant_id: str, message: object) -> None:
        """The WebSocket handler's one call: a client message in; every reply (the server's
        offers, ``tracks``, errors) goes out through ``send``. An error reply
        (``{"type": "error", ...}``) leaves the participant's session as it was."""
        kind = message.get("type") if isinstance(message, dict) else None
        try:
            if not isinstance(message, dict):
                raise SignallingError("a message is a JSON object")
            if len(str(message)) > self.options.max_message_bytes + 1024:
                raise SignallingError(f"message larger than {self.options.max_message_bytes} bytes")
            if kind == "join":
                await self.join(participant_id)
            elif kind == "answer":
                await self.handle_answer(participant_id, message.get("sdp"))
            elif kind == "candidate":
                await self.add_ice_candidate(participant_id, message)
            elif kind == "receive":
                if not isinstance(message.get("video"), bool):
                    raise SignallingError("receive needs \"video\": true or false")
                self.set_receive_video(participant_id, message["video"])
            elif kind == "offer":
                raise SignallingError("the server makes the offers: send {\"type\": \"join\"} and answer")
            else:
                raise SignallingError(f"unknown message type {kind!r}")
        except SignallingError as exc:
            await self._deliver(participant_id, {"type": "error", "error": str(exc), "in_reply_to": kind})

    async def _deliver(self, participant_id: str, message: dict) -> None:
        try:
            result = self._send(participant_id, message)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result
        except Exception as exc:
            log.warning("sending %s to %s failed: %r", message.get("type"), participant_id, exc)

    async def join(self, participant_id: str, source_id: str | None = None) -> None:
        """Start (or restart) the participant's media: a new peer connection whose offer goes
        out through ``send``; the client answers with ``{"type": "answer"}``. Call it for an
        admitted participant. Called again for a participant the room knows (a phone back
        after a drop, within ``reconnect_window_s``, or one that switched network before the
        server noticed) it keeps their seat: same source and recording, same slots at the
        others, the gap marked, no second admission."""
        if self.closed:
            raise SignallingError("hearing media is closed")
        participant = self.participants.get(participant_id)
        rejoin = participant is not None
        if participant is None:
            sid = source_id or participant_id
            source = Source(sid, self.clock, self.recorder, self.tap, self.options.keyframe_interval_s)
            participant = Participant(participant_id, source)
            self.participants[participant_id] = participant
        old = participant.session
        if old is not None:
            participant.session = None
            await old.close()
            if participant.dropped_at_ms is None:
                participant.dropped_at_ms = self.clock.now_ms()
        self._cancel_expiry(participant)
        session = Session(participant_id, participant.source, self.options, self._send,
                          self._session_failed, self._event)
        participant.session = session
        if not rejoin:
            self._event({"type": "participant.joined", "participant_id": participant_id,
                         "source_id": participant.source.source_id})
        else:
            self._event({"type": "participant.reconnected", "participant_id": participant_id,
                         "source_id": participant.source.source_id,
                         "gap_from_ms": participant.dropped_at_ms})
        participant.dropped_at_ms = None
        # Everybody else to the newcomer, the newcomer to everybody else.
        for other in self.participants.values():
            if other is participant:
                continue
            session.bind(other.source)
            if other.session is None:
                continue
            change = other.session.bind(participant.source)
            if change == "new":
                self.tasks.start(other.session.renegotiate(), f"renegotiate {other.participant_id}")
            elif change == "reused":
                self.tasks.start(other.session.send_tracks(), f"send tracks {other.participant_id}")
        for p in self.participants.values():
            self._apply_receive_video(p)
        await session.renegotiate()

    async def handle_answer(self, participant_id: str, sdp: str) -> None:
        await self._session(participant_id).accept_answer(sdp)

    async def add_ice_candidate(self, participant_id: str, message: dict) -> None:
        await self._session(participant_id).add_candidate(message)

    def _session(self, participant_id: str) -> Session:
        participant = self.participants.get(participant_id)
        if participant is None or participant.session is None:
            raise SignallingError("no media session for this participant")
        return participant.session

    def set_receive_video(self, participant_id: str, video: bool) -> None:
        """A receiver on a poor link asks for audio only: the others' video is no longer sent
        to it (the slots stay negotiated, their video tracks send nothing) until it asks again,
        when each resumes from a fresh keyframe. Kept across the participant's reconnects."""
        participant = self.participants.get(participant_id)
        if participant is None:
            raise SignallingError("send {\"type\": \"join\"} first")
        if participant.receive_video != video:
            participant.receive_video = video
            self._apply_receive_video(participant)

    @staticmethod
    def _apply_receive_video(participant: Participant) -> None:
        if participant.session is None:
            return
        for slot in participant.session.slots:
            if slot.video_track.paused == participant.receive_video:
                slot.video_track.set_paused(not participant.receive_video)

    # -- moderation ---------------------------------------------------------------------------
    def set_muted(self, participant_id: str, muted: bool, by: str | None = None) -> None:
        """Stop (or resume) forwarding, transcribing and recording this participant's audio
        (their video keeps flowing). The recording shows the muted span as a gap."""
        participant = self.participants.get(participant_id)
        if participant is None:
            raise KeyError(f"no participant {participant_id!r} in the hearing's media")
        if participant.source.muted == muted:
            return
        participant.source.set_muted(muted)
        self._event({"type": "mute" if muted else "unmute", "participant_id": participant_id,
                     "source_id": participant.source.source_id, "by": by})

    async def remove(self, participant_id: str, reason: str = "ejected", by: str | None = None) -> None:
        """Eject: the peer connection is closed, the seat released, the others' slots freed."""
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            return
        self._cancel_expiry(participant)
        if participant.session is not None:
            await participant.session._deliver({"type": "closed", "reason": reason})
            await participant.session.close()
        participant.source.detach(participant.source.epoch)
        for other in self.participants.values():
            if other.session is not None and other.session.unbind(participant.source):
                await other.session.send_tracks()
        self._event({"type": "participant.removed" if reason == "ejected" else "participant.left",
                     "participant_id": participant_id, "source_id": participant.source.source_id,
                     "reason": reason, "by": by})

    # -- drops and reconnects -----------------------------------------------------------------
    def _session_failed(self, session: Session) -> None:
        participant = self.participants.get(session.participant_id)
        if self.closed or participant is None or participant.session is not session:
            return
        self.tasks.start(self.participant_dropped(session.participant_id), "drop")

    async def participant_dropped(self, participant_id: str) -> None:
        """The participant's connection is gone (ICE failed, or the hearing server saw their
        WebSocket close). Their seat is kept for ``reconnect_window_s``."""
        participant = self.participants.get(participant_id)
        if self.closed or participant is None or participant.session is None:
            return
        session, participant.session = participant.session, None
        participant.dropped_at_ms = self.clock.now_ms()
        await session.close()
        self._event({"type": "participant.dropped", "participant_id": participant_id,
                     "source_id": participant.source.source_id,
                     "window_s": self.options.reconnect_window_s})
        self._cancel_expiry(participant)
        participant.expiry = self.tasks.start(self._expire(participant),
                                              f"reconnect window {participant_id}")

    async def _expire(self, participant: Participant) -> None:
        await asyncio.sleep(self.options.reconnect_window_s)
        participant.expiry = None  # so that removing them does not cancel this very task
        if (self.participants.get(participant.participant_id) is participant
                and participant.session is None):
            await self.remove(participant.participant_id, reason="reconnect window expired")

    @staticmethod
    def _cancel_expiry(participant: Participant) -> None:
        if participant.expiry is not None:
            participant.expiry.cancel()
            participant.expiry = None

    # -- state and close ----------------------------------------------------------------------
    def stats(self) -> dict:
        return {
            "participants": {
                pid: {"connected": p.session is not None, "muted": p.source.muted,
                      "audio_packets": p.source.audio_packets, "video_frames": p.source.video_frames}
                for pid, p in self.participants.items()},
            "tap": vars(self.tap.stats).copy(),
            "recording_overflows": self.recorder.overflows,
            "forward_audio_delay_ms": sorted(
                round(d * 1000, 2) for p in self.participants.values() if p.session is not None
                for slot in p.session.slots for d in slot.audio_track.delays),
            "forward_dropped": sum(
                slot.audio_track.dropped + slot.video_track.dropped
                for p in self.participants.values() if p.session is not None for slot in p.session.slots),
        }

    async def close(self) -> list[RecordingBlob]:
        """Close every peer connection, finish recording, and store each source's recording as
        one blob. Returns what was stored (also reported as ``recording.final`` events)."""
        if self.closed:
            return []
        await self._stop("hearing closed")
        loop = asyncio.get_running_loop()
        finals = await loop.run_in_executor(None, finalise_recordings, self.recording_dir, self.blobs)
        for rec in finals:
            self._event(rec.to_event())
        return finals

    async def shutdown(self) -> None:
        """Server shutdown, which is not the close of the hearing: the peer connections close
        (the clients rejoin the restarted server), every open recording chunk is closed and
        stays on disk until the hearing is closed (``finalise_recordings`` joins them), and
        nothing of the room keeps running."""
        if not self.closed:
            await self._stop(None)

    async def _stop(self, notice: str | None) -> None:
        """Close the sessions (telling each client ``notice``, if given), the recorder and the
        tap (their threads joined), then the room's tasks, once the pump has passed on every
        chunk the tap decoded."""
        self.closed = True
        for task in self.tasks.named("drop"):
            # a drop under way is closing its peer connection: cut short, its sockets stay open
            await asyncio.gather(task, return_exceptions=True)
        for participant in list(self.participants.values()):
            self._cancel_expiry(participant)
            if participant.session is not None:
                if notice is not None:
                    await participant.session._deliver({"type": "closed", "reason": notice})
                await participant.session.close()
        await self.recorder.close()
        await self.tap.close()
        if self.tasks.named("audio pump"):
            while not self.tap.queue.empty():
                await asyncio.sleep(0)
        await self.tasks.close()
