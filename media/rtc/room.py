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

#: The channels a receiver may choose (``{"type": "listen"}``), and the languages of
#: interpretation (the record's languages).
LISTEN_CHANNELS = ("all", "floor", "interpretation")
LISTEN_LANGUAGES = ("kk", "ru")


@dataclass
class Participant:
    participant_id: str
    source: Source
    session: Session | None = None
    dropped_at_ms: int | None = None
    receive_video: bool = True  # False: audio only (a phone on a poor link)
    #: the audio channel it chose (Room.set_listen): "all" hears everyone, "floor" everyone
    #: but the interpreters, "interpretation" the interpreters of ``listen_language``
    listen: str = "all"
    listen_language: str | None = None
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
        #: participant id -> the language they interpret into (set_interpreters)
        self.interpreters: dict[str, str] = {}
        self.closed = False
        #: receivers cut off from all media during a closed part (set_cut_off)
        self.cut_off_ids: set[str] = set()
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
            elif kind == "listen":
                self.set_listen(participant_id, message.get("channel"), message.get("language"))
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
            self._apply_cut_off(p)
        self._apply_listen_all()
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

    # -- interpretation ----------------------------------------------------------------------
    def set_interpreters(self, languages: dict[str, str]) -> None:
        """Who interprets, into which language (participant id -> "kk" / "ru"), as the hearing
        server knows it; their audio is that language's interpretation channel. Applied at
        once to every receiver's choice; participants not (yet) in the room wait here."""
        if languages != self.interpreters:
            self.interpreters = dict(languages)
            self._apply_listen_all()

    def set_listen(self, participant_id: str, channel: object, language: object = None) -> None:
        """A receiver chooses what it hears. "all" (before any choice): everyone, the
        interpreters too, as in the courtroom. "floor": everyone but the interpreters (the
        interpretation channels are separate). "interpretation" with a language: the
        interpreters of that language as they come, and the floor's audio paused while one of
        them is connected and not muted (forwarding passes Opus through, so there is no mixing
        or ducking on the server: the floor comes back when the interpreter goes). Video is
        not affected. Kept across the participant's reconnects; not a court action, so only
        logged."""
        participant = self.participants.get(participant_id)
        if participant is None:
            raise SignallingError("send {\"type\": \"join\"} first")
        if channel not in LISTEN_CHANNELS:
            raise SignallingError(f"listen needs \"channel\": one of {', '.join(LISTEN_CHANNELS)}")
        if channel == "interpretation" and language not in LISTEN_LANGUAGES:
            raise SignallingError("listen to interpretation needs \"language\": one of "
                                  + ", ".join(LISTEN_LANGUAGES))
        if channel != "interpretation" and language is not None:
            raise SignallingError(f"{channel} has no language: leave \"language\" out")
        participant.listen, participant.listen_language = channel, language
        log.debug("room %s: %s listens to %s %s", self.hearing_id, participant_id, channel,
                  language or "")
        self._apply_listen(participant)

    def _interpreting(self) -> dict[Source, str]:
        """The sources of the interpreters in the room, with the language of each."""
        return {p.source: self.interpreters[pid] for pid, p in self.participants.items()
                if pid in self.interpreters}

    def _apply_listen_all(self) -> None:
        for p in self.participants.values():
            self._apply_listen(p)

    def _apply_listen(self, participant: Participant) -> None:
        if participant.session is None:
            return
        interpreting = self._interpreting()
        channel, language = participant.listen, participant.listen_language
        # the floor pauses only while an interpreter of the chosen language can be heard
        heard = channel == "interpretation" and any(
            lang == language and p.session is not None and not p.source.muted
            for pid, lang in self.interpreters.items()
            if (p := self.participants.get(pid)) is not None)
        for slot in participant.session.slots:
            lang = interpreting.get(slot.source) if slot.source is not None else None
            if slot.source is None or channel == "all":
                off = False
            elif lang is None:
                off = heard
            else:
                off = channel == "floor" or lang != language
            slot.audio_track.off_channel = off

    def set_cut_off(self, participant_ids: set[str]) -> None:
        """During a closed part of the hearing: these receivers get no media at all (audio
        and video of every slot), the others everything again. Their peer connections stay
        up; a participant who joins later is cut off from its first packet if named here.
        Independent of each receiver's own audio-only choice."""
        self.cut_off_ids = set(participant_ids)
        for p in self.participants.values():
            self._apply_cut_off(p)

    def _apply_cut_off(self, participant: Participant) -> None:
        if participant.session is None:
            return
        cut = participant.participant_id in self.cut_off_ids
        for slot in participant.session.slots:
            slot.audio_track.set_cut_off(cut)
            slot.video_track.set_cut_off(cut)

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
        if participant_id in self.interpreters:  # the floor comes back while they are muted
            self._apply_listen_all()
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
        if participant_id in self.interpreters:
            self._apply_listen_all()
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
        if participant_id in self.interpreters:  # their listeners hear the floor meanwhile
            self._apply_listen_all()
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
