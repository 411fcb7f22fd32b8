"""Recording of courtroom seats: 16 kHz float32 ``AudioChunk``s of each seat encoded to Opus
and handed to the room's ``Recorder``, so a seat is chunked, hashed, audited and finalised
exactly like a remote participant's WebRTC audio.

Encoding (libopus through PyAV) runs on one worker thread, never on the event loop; the
packets go back to the loop, where ``Recorder.packet`` must be called. Packet positions come
from the chunks' hearing-clock times, not from arrival: a chunk that does not follow the
previous one of its seat (a device that failed and came back, a re-anchored clock) starts a
new recorder chunk after a marked gap, so the finished recording keeps offset t at hearing
time ``start_ms + t`` and lists the gap.

The input queue is bounded (``queue_chunks``). Encoding 16 kHz mono is a small fraction of a
core per seat, so it should never fill; if it does, the chunk is dropped, ``on_event`` receives
``recording.overflow`` and the recording shows a gap there (never silently shortened audio)."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import av
import numpy as np

from media.audio import SAMPLE_RATE, AudioChunk

log = logging.getLogger(__name__)

FRAME = SAMPLE_RATE // 50  # 20 ms: the usual Opus frame, as WebRTC sends it
_TO_48K = 48_000 // SAMPLE_RATE


def recorder_id(source_id: str) -> str:
    """The recorder's directory name for a source: ``seat:judge`` -> ``seat.judge``
    (the recorder accepts only ``[A-Za-z0-9_.-]``)."""
    return source_id.replace(":", ".")


def source_of_recording(recorder_source: str) -> str:
    """The inverse of ``recorder_id`` for seats: a Recording row's ``seat.judge`` is the
    transcript's ``seat:judge`` (remote participants' ids are the same in both)."""
    return "seat:" + recorder_source[5:] if recorder_source.startswith("seat.") else recorder_source


@dataclass(frozen=True)
class SeatRecorderOptions:
    bit_rate: int = 32_000  # per seat; speech at 16 kHz is transparent well below this
    application: str = "voip"  # libopus tuning for speech intelligibility
    gap_tolerance_ms: int = 40  # a chunk this far off where its seat's audio left off is a gap
    queue_chunks: int = 4800  # chunks waiting for the encoder before one is dropped: a
    #                           minute of eight seats in the capture's 100 ms chunks


@dataclass
class _Seat:
    """Encoder state of one seat."""

    codec: av.CodecContext
    next_ms: int | None = None  # hearing-clock ms where this seat's audio left off
    seg_origin_ms: int = 0  # start of the current continuous stretch
    seg_samples: int = 0  # samples of the current stretch submitted (incl. the pending tail)
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    positions: deque = field(default_factory=deque)  # pos48 of each frame given to the encoder
    last_pos48: int = -FRAME * _TO_48K


class SeatRecorder:
    """Construct inside the running loop. ``recorder`` is a ``media.rtc.recorder.Recorder``
    (anything with ``packet(source_id, payload, pos48)`` and ``gap(source_id)``)."""

    def __init__(self, recorder, options: SeatRecorderOptions = SeatRecorderOptions(),  # noqa: ANN001
                 on_event: Callable[[dict], None] | None = None) -> None:
        self.recorder = recorder
        self.opt = options
        self.on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._q: queue.Queue = queue.Queue(maxsize=max(16, options.queue_chunks))
        self._seats: dict[str, _Seat] = {}
        self._done: asyncio.Future = self._loop.create_future()
        self._closed = False
        self.stats = {"chunks": 0, "packets": 0, "gaps": 0, "overflows": 0,
                      "encode_seconds_audio": 0.0}
        self._thread = threading.Thread(target=self._run, name="seat recorder", daemon=True)
        self._thread.start()

    # -- event loop side -------------------------------------------------------------------
    def feed(self, chunk: AudioChunk) -> None:
        """A seat's audio (capture's ``on_record`` sink). Never blocks the loop."""
        if self._closed:
            return
        try:
            self._q.put_nowait(("c", chunk))
        except queue.Full:
            self.stats["overflows"] += 1
            self._emit({"type": "recording.overflow", "source_id": recorder_id(chunk.source_id),
                        "at_ms": chunk.start_ms, "lost_ms": chunk.duration_ms})

    def gap(self, source_id: str) -> None:
        """The seat's device failed: close its open recording chunk now (fsynced, hashed)
        rather than when audio comes back or the hearing closes."""
        if not self._closed:
            try:
                self._q.put_nowait(("g", source_id))
            except queue.Full:
                pass  # the next chunk's time jump marks the gap anyway

    async def close(self) -> None:
        """Encode what is queued (the last partial frame padded with silence) and hand every
        packet to the recorder. Call before the recorder is closed."""
        if self._closed:
            await asyncio.shield(self._done)
            return
        self._closed = True
        await self._loop.run_in_executor(None, self._q.put, None)
        await asyncio.shield(self._done)
        await self._loop.run_in_executor(None, self._thread.join)

    # -- loop callbacks from the thread ------------------------------------------------------
    def _emit(self, event: dict) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("seat recorder event sink failed")

    def _apply(self, actions: list[tuple]) -> None:
        for action in actions:
            try:
                if action[0] == "p":
                    self.recorder.packet(action[1], action[2], action[3])
                else:
                    self.recorder.gap(action[1])
            except Exception:
                log.exception("recorder refused a seat packet")

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def _post(self, fn, *args) -> None:  # noqa: ANN001
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed (process exiting): the chunks already on disk stay
            log.warning("seat recording lost its event loop")

    # -- worker thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                item = self._q.get()
                if item is None:
                    break
                actions: list[tuple] = []
                try:
                    if item[0] == "c":
                        self._encode_chunk(item[1], actions)
                    else:
                        self._gap(item[1], actions)
                except Exception:
                    log.exception("encoding seat audio failed")
                if actions:
                    self._post(self._apply, actions)
            actions = []
            for source_id in list(self._seats):
                try:
                    self._flush(source_id, actions, final=True)
                except Exception:
                    log.exception("flushing seat %s failed", source_id)
            if actions:
                self._post(self._apply, actions)
        finally:
            self._post(self._finish)

    def _open_codec(self) -> av.CodecContext:
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate = SAMPLE_RATE
        codec.layout = "mono"
        codec.format = "flt"
        codec.bit_rate = self.opt.bit_rate
        codec.options = {"application": self.opt.application, "frame_duration": "20"}
        codec.open()
        return codec

    def _encode_chunk(self, chunk: AudioChunk, actions: list[tuple]) -> None:
        seat = self._seats.get(chunk.source_id)
        if seat is None:
            seat = self._seats[chunk.source_id] = _Seat(self._open_codec())
        self.stats["chunks"] += 1
        if seat.next_ms is None or abs(chunk.start_ms - seat.next_ms) > self.opt.gap_tolerance_ms:
            if seat.next_ms is not None:
                self._flush(chunk.source_id, actions, final=False)
                actions.append(("g", recorder_id(chunk.source_id)))
                self.stats["gaps"] += 1
            seat.seg_origin_ms, seat.seg_samples = chunk.start_ms, 0
            seat.pending = np.zeros(0, np.float32)
        x = np.clip(chunk.samples, -1.0, 1.0)
        seat.pending = np.concatenate([seat.pending, x]) if len(seat.pending) else x
        seat.seg_samples += len(x)
        seat.next_ms = seat.seg_origin_ms + seat.seg_samples * 1000 // SAMPLE_RATE
        self.stats["encode_seconds_audio"] += len(x) / SAMPLE_RATE
        whole = len(seat.pending) // FRAME * FRAME
        if whole:
            first = seat.seg_samples - len(seat.pending)  # stretch sample of pending[0]
            self._encode(chunk.source_id, seat, seat.pending[:whole], first, actions)
            seat.pending = seat.pending[whole:]

    def _encode(self, source_id: str, seat: _Seat, x: np.ndarray, first: int,
                actions: list[tuple]) -> None:
        """Whole 20 ms frames of one stretch; ``first`` is the stretch sample of x[0]."""
        origin48 = seat.seg_origin_ms * 48
        for i in range(0, len(x), FRAME):
            seat.positions.append(origin48 + (first + i) * _TO_48K)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, i:i + FRAME]),
                                               format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            for packet in seat.codec.encode(frame):
                self._packet(source_id, seat, packet, actions)

    def _packet(self, source_id: str, seat: _Seat, packet: av.Packet,
                actions: list[tuple]) -> None:
        # The encoder's look-ahead is the stream's pre-skip, which decoders remove: packet k
        # belongs where frame k was taken from.
        pos = seat.positions.popleft() if seat.positions else seat.last_pos48 + FRAME * _TO_48K
        pos = max(pos, 0)
        seat.last_pos48 = pos
        actions.append(("p", recorder_id(source_id), bytes(packet), pos))
        self.stats["packets"] += 1

    def _flush(self, source_id: str, actions: list[tuple], final: bool) -> None:
        """Pad the stretch's last partial frame with silence; at close, drain the encoder."""
        seat = self._seats[source_id]
        if len(seat.pending):
            first = seat.seg_samples - len(seat.pending)
            pad = np.zeros(FRAME - len(seat.pending), np.float32)
            self._encode(source_id, seat, np.concatenate([seat.pending, pad]), first, actions)
            seat.pending = np.zeros(0, np.float32)
        if final:
            for packet in seat.codec.encode(None):
                self._packet(source_id, seat, packet, actions)
            seat.positions.clear()

    def _gap(self, source_id: str, actions: list[tuple]) -> None:
        seat = self._seats.get(source_id)
        if seat is None:
            return
        self._flush(source_id, actions, final=False)
        seat.next_ms = None  # whatever comes next starts a new stretch
        actions.append(("g", recorder_id(source_id)))
        self.stats["gaps"] += 1
