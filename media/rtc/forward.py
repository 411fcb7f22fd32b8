"""Forwarding of encoded media: a received Opus packet or VP8 frame is handed, as it is, to the
RTCRtpSender of every other participant. Nothing is decoded or re-encoded per receiver, so the
cost of a hearing grows with the number of packets, not with pixels times receivers.

aiortc's RTCRtpSender packs (instead of encoding) whatever ``track.recv()`` returns that is not
an ``av.Frame``; a ForwardTrack returns ``av.Packet``s. Timestamps are rebased so that each
outgoing stream is continuous for its receiver even when the source reconnects (new SSRC, new
RTP timestamps) or the slot is reused for another source."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from typing import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

AUDIO_CLOCK = 48_000
VIDEO_CLOCK = 90_000


class ForwardCounts:
    """Packets and bytes handed to receivers' senders, and frames dropped for slow receivers,
    per kind, since the process started (one forwarding plane per process). Read by whoever
    publishes the server's metrics; updated on the event loop only."""

    def __init__(self) -> None:
        self.packets = {"audio": 0, "video": 0}
        self.bytes = {"audio": 0, "video": 0}
        self.dropped = {"audio": 0, "video": 0}


COUNTS = ForwardCounts()


def vp8_is_keyframe(frame: bytes) -> bool:
    """VP8 payload header (RFC 6386 9.1): bit 0 of the first byte is 0 on a key frame."""
    return bool(frame) and (frame[0] & 0x01) == 0


class ForwardTrack(MediaStreamTrack):
    """One source's audio or video as seen by one receiver. Bounded: when the receiver's sender
    falls behind, the oldest frames are dropped (video then skips to the next keyframe and asks
    the source for one); the source is never slowed down."""

    def __init__(self, kind: str, maxlen: int, request_keyframe: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._clock = AUDIO_CLOCK if kind == "audio" else VIDEO_CLOCK
        self._time_base = fractions.Fraction(1, self._clock)
        self._frames: deque[tuple[bytes, int, int, float]] = deque(maxlen=maxlen)
        self.delays: deque[float] = deque(maxlen=512)  # seconds from push to the sender, recent
        self._wakeup = asyncio.Event()
        self._request_keyframe = request_keyframe
        self._need_keyframe = kind == "video"
        self._epoch: int | None = None
        self._in_origin = 0
        self._out_origin = 0
        self._last_out = -1
        self._created = time.monotonic()
        self.dropped = 0
        self.delivered = 0
        self.paused = False  # the receiver asked not to get this kind (audio-only view)
        #: audio of a channel the receiver does not listen to (the floor while it hears an
        #: interpreter, or an interpreter while it hears the floor): Room.set_listen
        self.off_channel = False

    #: the receiver may not see a closed part of the hearing now: nothing is forwarded, of
    #: either kind, whatever it chose to receive (set_cut_off)
    cut_off = False

    def waiting(self) -> tuple[int, float | None]:
        """Frames queued to send and the monotonic time the oldest was pushed (node load)."""
        frames = self._frames
        return len(frames), (frames[0][3] if frames else None)

    def push(self, data: bytes, timestamp: int, epoch: int) -> None:
        """Called on the event loop for each received frame of the source. ``timestamp`` is the
        source's RTP timestamp (unwrapped); ``epoch`` changes when the source's upstream does."""
        if self.readyState != "live" or self.cut_off or self.paused or self.off_channel:
            return
        if self.kind == "video" and self._need_keyframe:
            if not vp8_is_keyframe(data):
                if self._request_keyframe:
                    self._request_keyframe()
                return
            self._need_keyframe = False
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
            COUNTS.dropped[self.kind] += 1
            if self.kind == "video":
                self._frames.clear()
                self._need_keyframe = True
                if self._request_keyframe:
                    self._request_keyframe()
                return
        self._frames.append((data, timestamp, epoch, time.monotonic()))
        self._wakeup.set()

    def set_paused(self, paused: bool) -> None:
        """Stop forwarding (what is queued is dropped), or resume from the next keyframe."""
        self.paused = paused
        self.restart_video()
        if not paused and self._request_keyframe:
            self._request_keyframe()

    def set_cut_off(self, cut: bool) -> None:
        """Cut the receiver off (what is queued is dropped), or let it receive again, video
        from the next keyframe; independent of ``paused``."""
        if cut == self.cut_off:
            return
        self.cut_off = cut
        self._frames.clear()
        self.restart_video()
        if not cut and not self.paused and self._request_keyframe:
            self._request_keyframe()

    def restart_video(self) -> None:
        """The next frame forwarded must be a keyframe (e.g. after the source was unmuted)."""
        if self.kind == "video":
            self._frames.clear()
            self._need_keyframe = True

    def _rebase(self, timestamp: int, epoch: int) -> int:
        if epoch != self._epoch:
            # A new upstream: continue our own timeline from "now", never backwards.
            self._epoch = epoch
            self._in_origin = timestamp
            now = int((time.monotonic() - self._created) * self._clock)
            self._out_origin = max(now, self._last_out + 1)
        out = self._out_origin + (timestamp - self._in_origin)
        if out <= self._last_out and self.kind == "audio":
            out = self._last_out + 1
        self._last_out = max(self._last_out, out)
        return out

    async def recv(self) -> av.Packet:
        while not self._frames:
            if self.readyState != "live":
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        data, timestamp, epoch, pushed = self._frames.popleft()
        self.delays.append(time.monotonic() - pushed)
        packet = av.Packet(data)
        packet.pts = self._rebase(timestamp, epoch)
        packet.time_base = self._time_base
        self.delivered += 1
        COUNTS.packets[self.kind] += 1
        COUNTS.bytes[self.kind] += len(data)
        return packet

    def stop(self) -> None:
        super().stop()
        self._wakeup.set()
