"""A source: one participant's microphone and camera as the room sees them, whatever peer
connection currently carries them. It survives reconnects (same source id, same recording,
same slots at the other participants); each new upstream is a new ``epoch``.

Audio packets are taken as they arrive (before aiortc's jitter buffer, which would add four
packets of delay) and go, undecoded, to every subscriber, to the recorder and to the tap.
Video frames come out of aiortc's jitter buffer as whole encoded frames and go to subscribers."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Callable

from media.clock import HearingClock

from .forward import ForwardTrack
from .recorder import Recorder
from .tap import AudioTap

_epochs = itertools.count(1)
#: How long (arrival time, 1/48000 s) the first audio of an epoch is held before its position
#: on the hearing clock is fixed: long enough to see a start-up burst and the packets after it.
SETTLE48 = 48 * 200
#: How long packets must stay over a second late before the anchor follows them.
LATE_REANCHOR48 = 48 * 5000
#: After a mute, how long audio spoken before it may still arrive (a busy receiver) and be
#: recorded before the recording's chunk is closed regardless.
MUTE_GRACE_S = 1.0


class _RtpUnwrapper:
    def __init__(self) -> None:
        self.last: int | None = None
        self.cycles = 0

    def __call__(self, ts: int) -> int:
        if self.last is not None:
            if ts < self.last and self.last - ts > 1 << 31:
                self.cycles += 1 << 32
            elif ts > self.last and ts - self.last > 1 << 31:
                return ts + self.cycles - (1 << 32)  # a late packet from before the wrap
        self.last = ts
        return ts + self.cycles


class Source:
    def __init__(self, source_id: str, clock: HearingClock, recorder: Recorder, tap: AudioTap,
                 keyframe_interval_s: float = 0.5) -> None:
        self.source_id = source_id
        self.clock = clock
        self.recorder = recorder
        self.tap = tap
        self.muted = False
        self.live = False
        self.epoch = 0
        self.audio_subscribers: set[ForwardTrack] = set()
        self.video_subscribers: set[ForwardTrack] = set()
        self._keyframe_interval = keyframe_interval_s
        self._last_keyframe_request = 0.0
        self._pli: Callable[[], None] | None = None
        self._audio_unwrap = _RtpUnwrapper()
        self._video_unwrap = _RtpUnwrapper()
        self._anchor48: int | None = None
        self._ts0 = 0
        #: (payload, unwrapped RTP ts, arrival48) of an epoch's first audio, until it settles
        self._held: list[tuple[bytes, int, int]] = []
        self._settle_end48 = 0
        self._late_since48: int | None = None
        #: Hearing-clock time (1/48000 s) of the last unmute: audio spoken before it was said
        #: while muted and stays out of the recording, however late it arrives.
        self._unmuted48 = 0
        #: Hearing-clock time (1/48000 s) of a mute whose chunk is not closed yet: audio
        #: spoken before it that arrives late is still recorded.
        self._muting48: int | None = None
        self._mute_timer: asyncio.TimerHandle | None = None
        self.audio_packets = 0
        self.video_frames = 0
        self.video_bytes = 0

    def attach(self, send_pli: Callable[[], None]) -> int:
        """A new upstream (first connection or a reconnect) starts a new epoch."""
        self._close_for_mute()
        self.epoch = next(_epochs)
        self.live = True
        self._pli = send_pli
        self._audio_unwrap = _RtpUnwrapper()
        self._video_unwrap = _RtpUnwrapper()
        self._settle()
        self._anchor48 = None
        for track in self.video_subscribers:
            track.restart_video()
        return self.epoch

    def detach(self, epoch: int) -> None:
        """The upstream of ``epoch`` is gone: close the recording chunk, mark the gap."""
        if epoch != self.epoch:
            return
        self.live = False
        self._pli = None
        self._settle()
        self._stop_muting()
        self._gap()

    def set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        self.muted = muted
        if muted:
            self._settle()
            if self._anchor48 is None:
                self._gap()
                return
            self._muting48 = self.clock.now_ms() * 48
            try:
                self._mute_timer = asyncio.get_running_loop().call_later(
                    MUTE_GRACE_S, self._close_for_mute)
            except RuntimeError:  # no loop (a test driving the source by hand)
                self._mute_timer = None
        else:
            self._close_for_mute()
            self._anchor48 = None  # re-anchor to the hearing clock after the gap
            self._unmuted48 = self.clock.now_ms() * 48

    def _close_for_mute(self) -> None:
        """The mute's gap starts: the recording chunk closes, the transcriber's stream ends."""
        if self._muting48 is None:
            return
        self._stop_muting()
        self._gap()

    def _stop_muting(self) -> None:
        if self._mute_timer is not None:
            self._mute_timer.cancel()
            self._mute_timer = None
        self._muting48 = None

    def _gap(self) -> None:
        self.recorder.gap(self.source_id)
        self.tap.flush(self.source_id)

    def _position48(self, ts: int, now48: int) -> int:
        """Hearing-clock position (1/48000 s) of an audio packet once the epoch has settled:
        carried by RTP timestamps from the anchor (smooth, immune to network jitter). A packet
        more than a second ahead of its arrival means the sender's clock jumped: re-anchored at
        once. One more than a second behind is usually a burst after a stall (its audio was
        spoken on time and is placed there); only when packets stay that late for
        ``LATE_REANCHOR48`` (a sender whose clock runs slow) is the anchor moved."""
        assert self._anchor48 is not None
        pos = self._anchor48 + ts - self._ts0
        if pos - now48 > 48_000:
            self._late_since48 = None
        elif now48 - pos > 48_000:
            if self._late_since48 is None:
                self._late_since48 = now48
            if now48 - self._late_since48 < LATE_REANCHOR48:
                return pos
            self._late_since48 = None
        else:
            self._late_since48 = None
            return pos
        self._anchor48, self._ts0 = now48, ts
        return now48

    def _settle(self) -> None:
        """Fix the epoch's anchor from the audio held so far and record it. The anchor is the
        earliest arrival any held packet implies for the first one (arrival minus its RTP
        offset): a start-up burst arrives late all at once, and anchoring on its first packet
        would place every later packet up to a second after it really arrived."""
        if not self._held:
            return
        first_arrival = self._held[0][2]  # a timestamp jump must not move it more than 1 s
        self._anchor48 = max(first_arrival - 48_000,
                             min(at - (t - self._ts0) for _, t, at in self._held))
        held, self._held = self._held, []
        for payload, t, _ in held:
            self._record(payload, self._anchor48 + t - self._ts0)

    def _record(self, payload: bytes, pos48: int) -> None:
        if pos48 < self._unmuted48:
            return
        self.recorder.packet(self.source_id, payload, pos48)
        self.tap.put(self.source_id, payload, pos48 // 48)

    def on_audio(self, epoch: int, payload: bytes, rtp_ts: int) -> None:
        if epoch != self.epoch or not payload:
            return
        if self.muted:
            self._late_before_mute(payload, rtp_ts)
            return
        self.audio_packets += 1
        ts = self._audio_unwrap(rtp_ts)
        for track in self.audio_subscribers:
            track.push(payload, ts, epoch)
        now48 = self.clock.now_ms() * 48
        if self._anchor48 is None:  # the epoch's first audio: hold it until it settles
            if not self._held:
                self._ts0, self._settle_end48 = ts, now48 + SETTLE48
            self._held.append((payload, ts, now48))
            if now48 >= self._settle_end48:
                self._settle()
            return
        self._record(payload, self._position48(ts, now48))

    def _late_before_mute(self, payload: bytes, rtp_ts: int) -> None:
        """While a mute's chunk is still open, a packet spoken before the mute (delivered late
        by a busy receiver) is recorded; the first one spoken after it closes the chunk.
        Nothing is forwarded to the other participants once muted."""
        if self._muting48 is None or self._anchor48 is None:
            return
        ts = self._audio_unwrap(rtp_ts)
        pos = self._position48(ts, self.clock.now_ms() * 48)
        if pos < self._muting48:
            self._record(payload, pos)
        else:
            self._close_for_mute()

    def on_video(self, epoch: int, frame: bytes, timestamp: int) -> None:
        if epoch != self.epoch:
            return
        self.video_frames += 1
        self.video_bytes += len(frame)
        for track in self.video_subscribers:
            track.push(frame, timestamp, epoch)

    def request_keyframe(self) -> None:
        """A receiver lost a picture or just subscribed: ask the sender, at most every
        ``keyframe_interval_s`` (all receivers share the one keyframe)."""
        now = time.monotonic()
        if self._pli is None or now - self._last_keyframe_request < self._keyframe_interval:
            return
        self._last_keyframe_request = now
        self._pli()
