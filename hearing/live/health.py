"""How a live hearing's media is doing, measured on its owner and told to the staff: per
source the audio lost (gaps: muted, disconnected, or packets that stopped coming), how far the
live text is behind the audio, and whether packets (phones) or signal (courtroom seats) arrive;
whether a phone's video flows (frozen: frames stopped while it is connected; off: no camera, or
the camera switched off, which sends black frames) and reaches each other participant; and
whether this server itself keeps up (its event loop late on its own timer).

A gap opens when a source's audio stops reaching the record and closes when it comes back;
both are sent to the staff (``gap`` events) and written to the audit log (action ``gap``), so
the transcript and, once the recording is finalised, the recording row carry them with their
reason. A ``health`` event goes to the staff when what it says changes, at most once a
``min_publish_s``; ``snapshot`` answers a console that connects later."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from hearing.transcripts import speaker_of

if TYPE_CHECKING:
    from hearing.live.hearings import LiveHearing

#: Why a source's audio is missing from the record.
REASONS = ("muted", "disconnected", "lost")
#: Room events that open a gap, with its reason, and those that end it.
_OPENS = {"mute": "muted", "participant.dropped": "disconnected"}
_CLOSES = {"unmute": ("muted",), "participant.reconnected": ("disconnected", "lost"),
           "participant.left": REASONS, "participant.removed": REASONS}
#: Room events after which a source is no longer in the hearing (nor in its health).
_GONE = {"participant.left", "participant.removed"}
#: Courtroom seat alerts (hearing/live/courtroom.py) that mean its signal is gone, and back.
_SEAT_DOWN = {"device_error", "device_stalled", "dropped", "ended"}
_SEAT_UP = {"device_restored"}
_SEAT_WEAK = {"silent", "clipping"}


@dataclass(frozen=True)
class HealthOptions:
    """When the staff are told (defaults suit phones sending Opus every 20 ms)."""

    #: how often the sources are looked at (seconds)
    interval_s: float = 0.5
    #: a connected, unmuted source that sent audio and then nothing for this long has lost it
    silent_ms: int = 1500
    #: live text this far behind the audio is "delayed"
    asr_lag_ms: int = 5000
    #: fewer audio packets a second than this, from a source that sends, on this many looks
    #: in a row, is a poor link
    min_packets_per_s: int = 25
    poor_looks: int = 3
    #: a source that sent video and then no frame for this long while connected is frozen;
    #: a receiver handed none of a flowing source's frames for this long sees it frozen
    video_frozen_ms: int = 3000
    #: video frames averaging at most this many bytes over a look are black: the camera is
    #: switched off (``track.enabled = false``: Chromium keeps sending, black frames of 40-85
    #: bytes, where a picture takes 400 or more even at 40 kbit/s); a look with a couple of
    #: frames (a keyframe a newcomer asked for) does not undo it
    black_frame_bytes: int = 160
    #: the server's own timer this late means it is overloaded (media and text fall behind)
    stall_ms: int = 1000
    #: a degradation stays shown at least this long after its cause went (readable, not a blink)
    hold_ms: int = 10_000
    #: at most one health event this often (seconds)
    min_publish_s: float = 1.0


@dataclass
class Gap:
    source_id: str
    start_ms: int
    reason: str
    end_ms: int | None = None

    def to_json(self) -> dict:
        return {"source_id": self.source_id, "start_ms": self.start_ms, "end_ms": self.end_ms,
                "reason": self.reason}


@dataclass
class _VideoWatch:
    """A source's video between looks, and what each receiver was handed of it."""
    frames: int = 0
    bytes: int = 0
    moved_at_ms: int = 0
    sending: bool = False  # sent frames since it (re)connected
    black: bool = False
    frozen: bool = False
    fps: float = 0.0
    #: receiver source id -> (its forwarding track, frames handed to its sender, hearing clock
    #: when that last moved)
    handed: dict[str, tuple[object, int, int]] = field(default_factory=dict)
    stalled_to: list[str] = field(default_factory=list)  # receivers that see it frozen now

    def state(self) -> str:
        if not self.sending or self.black:
            return "off"
        return "frozen" if self.frozen else "ok"


@dataclass
class _Watch:
    """What the monitor remembers of one source between looks."""
    packets: int = 0
    moved_at_ms: int = 0  # hearing clock of the last look that saw new packets
    sending: bool = False  # sent audio since it (re)connected or was unmuted
    rate: float = 0.0  # packets a second over the last look
    poor_looks: int = 0  # looks in a row that saw too few packets
    lost_ms: int = 0  # closed lost/disconnected gaps, summed
    lag_until_ms: int = 0  # the "text delayed" notice holds until then
    poor_until_ms: int = 0
    seat_alert: str | None = None
    video: _VideoWatch = field(default_factory=_VideoWatch)


@dataclass
class HealthMonitor:
    """One live hearing's health; fed the room's events, looking at its sources every
    ``interval_s``. ``publish(message)`` sends to the staff, ``record(gap)`` writes the gap's
    audit row (both called on the loop)."""

    live: LiveHearing
    publish: Callable[[dict], None]
    record: Callable[[Gap], None]
    options: HealthOptions = field(default_factory=HealthOptions)
    gaps: dict[str, Gap] = field(default_factory=dict)  # source id -> its open gap
    closed: list[Gap] = field(default_factory=list)
    _watch: dict[str, _Watch] = field(default_factory=dict)
    _gone: set[str] = field(default_factory=set)  # sources that left the hearing
    _stall_ms: int = 0
    _stall_until_ms: int = 0
    _last: dict | None = None
    _last_key: object = None
    _published_at: float = 0.0

    # -- gaps ---------------------------------------------------------------------------------
    def open_gap(self, source_id: str, at_ms: int, reason: str) -> None:
        """Audio of ``source_id`` stops reaching the record from ``at_ms``. An open gap keeps
        its start; a cause found later names it better than "lost" (a drop noticed after the
        packets stopped)."""
        gap = self.gaps.get(source_id)
        if gap is not None:
            if gap.reason != "lost" or reason == "lost":
                return
            gap.reason = reason
        else:
            gap = self.gaps[source_id] = Gap(source_id, int(at_ms), reason)
        self._gap_event(gap)

    def close_gap(self, source_id: str, at_ms: int, reasons: tuple[str, ...] = REASONS) -> None:
        gap = self.gaps.get(source_id)
        if gap is None or gap.reason not in reasons:
            return
        del self.gaps[source_id]
        gap.end_ms = max(gap.start_ms, int(at_ms))
        self.closed.append(gap)
        if gap.reason != "muted":
            self._watch_of(source_id).lost_ms += gap.end_ms - gap.start_ms
        self._gap_event(gap)

    def _gap_event(self, gap: Gap) -> None:
        self.publish({"type": "gap", **gap.to_json()})
        self.record(Gap(gap.source_id, gap.start_ms, gap.reason, gap.end_ms))
        self._last_key = None  # the next look publishes health at once

    def all_gaps(self) -> list[Gap]:
        return sorted([*self.closed, *self.gaps.values()], key=lambda g: (g.start_ms, g.source_id))

    def close(self, at_ms: int) -> None:
        """The hearing closes: every open gap ends now."""
        for source_id in list(self.gaps):
            self.close_gap(source_id, at_ms)

    def _watch_of(self, source_id: str) -> _Watch:
        w = self._watch.get(source_id)
        if w is None:
            w = self._watch[source_id] = _Watch(moved_at_ms=self.live.clock.now_ms())
        return w

    # -- events ---------------------------------------------------------------------------------
    def on_room_event(self, event: dict) -> None:
        """A media room event (media/rtc/room.py): mutes and drops open gaps, unmutes and
        reconnects close them."""
        kind, source_id = event.get("type"), event.get("source_id")
        if not source_id:
            return
        at_ms = int(event.get("at_ms") or self.live.clock.now_ms())
        if kind in _CLOSES:
            self.close_gap(source_id, at_ms, _CLOSES[kind])
            w = self._watch_of(source_id)
            w.sending, w.moved_at_ms = False, at_ms  # its audio starts again from nothing
        if kind in _GONE:
            self._gone.add(source_id)
            self._watch.pop(source_id, None)
        elif kind in ("participant.joined", "participant.reconnected"):
            self._gone.discard(source_id)
        if kind in _OPENS:
            self.open_gap(source_id, at_ms, _OPENS[kind])

    def on_alert(self, alert: dict) -> None:
        """A courtroom seat's fault (hearing/live/courtroom.py): a dead device is lost audio,
        a silent or clipping channel a poor one."""
        kind = alert.get("kind")
        at_ms = int(alert.get("t_ms") or self.live.clock.now_ms())
        for source_id in alert.get("sources") or ([alert["source_id"]] if alert.get("source_id")
                                                    else []):
            w = self._watch_of(source_id)
            if kind in _SEAT_DOWN:
                self.open_gap(source_id, at_ms, "lost")
            elif kind in _SEAT_UP:
                self.close_gap(source_id, at_ms, ("lost",))
                w.seat_alert = None
            elif kind in _SEAT_WEAK:
                w.seat_alert = kind
            elif kind == "silence_cleared":
                w.seat_alert = None

    # -- looking --------------------------------------------------------------------------------
    async def run(self) -> None:
        """Look every ``interval_s``; a look that comes late says the server is stalled."""
        interval = self.options.interval_s
        while True:
            before = time.monotonic()
            await asyncio.sleep(interval)
            late_ms = int((time.monotonic() - before - interval) * 1000)
            self.look(late_ms)

    def look(self, late_ms: int = 0) -> None:
        o, now = self.options, self.live.clock.now_ms()
        stalled = late_ms >= o.stall_ms
        if stalled:
            self._stall_ms, self._stall_until_ms = late_ms, now + o.hold_ms
        room = getattr(self.live, "room", None)
        participants = list(room.participants.values()) if room is not None else []
        for p in participants:
            self._look_source(p.source, p.session is not None, now, stalled)
            self._look_video(p.source, p.session is not None, now, stalled)
        stuck: dict[str, list[str]] = {}  # source id -> receivers handed none of its video
        for p in participants:
            for source_id in self._look_forwarded(p, now):
                stuck.setdefault(source_id, []).append(p.source.source_id)
        for source_id, w in self._watch.items():
            w.video.stalled_to = stuck.get(source_id, [])
        message = self._message(now)
        key = (message["server"], [(s["source_id"], s["state"], s["reasons"],
                                    s["audio_lost_ms"] // 1000, s["asr_lag_ms"] // 1000, s["muted"],
                                    s["video_state"], s["video_stalled_to"])
                                   for s in message["sources"]])
        self._last = message
        if key != self._last_key and time.monotonic() - self._published_at >= o.min_publish_s:
            self._last_key, self._published_at = key, time.monotonic()
            self.publish(message)

    def _look_source(self, source, connected: bool, now: int,  # noqa: ANN001
                     stalled: bool) -> None:
        o, w = self.options, self._watch_of(source.source_id)
        count, elapsed = source.audio_packets, max(1, now - w.moved_at_ms)
        if not connected or source.muted or not source.live:
            w.packets, w.moved_at_ms, w.sending, w.rate = count, now, False, 0.0
            return
        if stalled and count == w.packets:
            # the server itself was not looking: what the sockets hold is read after this
            w.moved_at_ms = now
            return
        if count != w.packets:
            if w.sending and elapsed <= 3 * o.interval_s * 1000:  # not the end of a gap
                w.rate = (count - w.packets) * 1000 / max(elapsed, o.interval_s * 1000)
                w.poor_looks = w.poor_looks + 1 if w.rate < o.min_packets_per_s else 0
                if w.poor_looks >= o.poor_looks:
                    w.poor_until_ms = now + o.hold_ms
            w.packets, w.moved_at_ms, w.sending = count, now, True
            self.close_gap(source.source_id, now, ("lost",))
        elif w.sending and now - w.moved_at_ms >= o.silent_ms:
            w.rate = 0.0
            self.open_gap(source.source_id, w.moved_at_ms, "lost")

    def _look_video(self, source, connected: bool, now: int,  # noqa: ANN001
                    stalled: bool) -> None:
        """Frames that stop while the phone is connected are a frozen picture; frames that
        keep coming black are a camera switched off."""
        o, v = self.options, self._watch_of(source.source_id).video
        # a source with no camera path (a courtroom seat) counts no frames
        count, size = getattr(source, "video_frames", 0), getattr(source, "video_bytes", 0)
        if not connected or not source.live:
            v.frames, v.bytes, v.moved_at_ms, v.sending, v.fps = count, size, now, False, 0.0
            v.frozen = False
            v.handed.clear()
            return
        if count != v.frames:
            elapsed = max(now - v.moved_at_ms, o.interval_s * 1000)
            v.fps = (count - v.frames) * 1000 / elapsed
            black = (size - v.bytes) / (count - v.frames) <= o.black_frame_bytes
            v.black = black or (v.black and count - v.frames < 3)
            v.frames, v.bytes, v.moved_at_ms, v.sending, v.frozen = count, size, now, True, False
        elif stalled:
            v.moved_at_ms = now  # the server was not looking
        elif v.sending and now - v.moved_at_ms >= o.video_frozen_ms:
            v.fps, v.frozen = 0.0, True

    def _look_forwarded(self, receiver, now: int) -> list[str]:  # noqa: ANN001
        """The sources whose flowing video ``receiver`` (a room participant) was handed none of
        for ``video_frozen_ms``: its send queue overflowing, or waiting for a keyframe."""
        receiver_id, out = receiver.source.source_id, []
        slots = getattr(receiver.session, "slots", ()) if receiver.session is not None else ()
        for slot in slots:
            source = slot.source
            if source is None or not slot.negotiated or slot.video_track.paused:
                continue  # a receiver in the audio-only view asked for no video
            v = self._watch_of(source.source_id).video
            track, handed = slot.video_track, slot.video_track.delivered
            before = v.handed.get(receiver_id)
            if before is None or before[:2] != (track, handed) or v.state() != "ok":
                v.handed[receiver_id] = before = (track, handed, now)
            if now - before[2] >= self.options.video_frozen_ms:
                out.append(source.source_id)
        return out

    def _asr_lag_ms(self, source_id: str, now: int) -> int:
        """How far the live text of a source is behind: for a source that is sending, the
        live edge minus the end of the audio the recogniser has settled; else the audio it has
        received and not yet processed."""
        stream = self.live.streams.get(source_id)
        if stream is None:
            return 0
        core, w = getattr(stream, "core", None), self._watch.get(source_id)
        if core is not None and w is not None and w.sending and source_id not in self.gaps:
            with stream.lock:
                processed = core.processed_to_ms
            if processed is not None:
                return max(0, now - processed)
        return int(getattr(stream, "backlog_ms", 0) or 0)

    def _message(self, now: int) -> dict:
        o = self.options
        sources = []
        ids = [sid for sid in dict.fromkeys([*self._watch, *self.live.streams, *self.gaps])
               if sid not in self._gone]
        for source_id in ids:
            w = self._watch_of(source_id)
            gap = self.gaps.get(source_id)
            lag = self._asr_lag_ms(source_id, now)
            if lag >= o.asr_lag_ms:
                w.lag_until_ms = now + o.hold_ms
            reasons = []
            if gap is not None and gap.reason != "muted":
                reasons.append("audio_lost")
            if w.lag_until_ms > now:
                reasons.append("asr_lag")
            if w.poor_until_ms > now:
                reasons.append("packets")
            if w.seat_alert:
                reasons.append(f"seat_{w.seat_alert}")
            video = w.video.state()
            if video == "frozen" and "audio_lost" not in reasons:
                reasons.append("video_frozen")
            stalled_to = [r for r in w.video.stalled_to if r not in self._gone]
            if stalled_to and video == "ok":
                reasons.append("video_stalled")
            open_lost = now - gap.start_ms if gap is not None and gap.reason != "muted" else 0
            who = speaker_of(source_id, self.live.speakers)
            sources.append({
                "source_id": source_id, "label": who.get("label") or source_id,
                "role": who.get("role"),
                "state": "lost" if "audio_lost" in reasons else "degraded" if reasons else "ok",
                "reasons": reasons, "audio_lost_ms": w.lost_ms + open_lost,
                "asr_lag_ms": lag, "packets_per_s": round(w.rate, 1),
                "muted": gap is not None and gap.reason == "muted",
                "video_state": video, "video_fps": round(w.video.fps, 1),
                "video_stalled_to": stalled_to if video == "ok" else [],
                "gap": gap.to_json() if gap is not None else None})
        stalled = self._stall_until_ms > now
        return {"type": "health", "at_ms": now,
                "server": {"state": "degraded" if stalled else "ok",
                           "stalled_ms": self._stall_ms if stalled else 0},
                "sources": sources}

    def snapshot(self) -> dict:
        """The latest health (what a console that connects now is shown)."""
        return self._last or self._message(self.live.clock.now_ms())

