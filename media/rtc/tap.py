"""The audio tap: every participant's Opus packets, decoded once, as 16 kHz mono float32
``AudioChunk``s on the hearing clock, into a bounded queue towards the transcriber.

Decoding and resampling run on one worker thread per room, never on the event loop. Two bounds,
two drop rules, both counted in ``stats``: the packet queue into the thread (full only if the
machine is overloaded: the newest packet is dropped) and the chunk queue out to the transcriber
(full when the transcriber lags: the oldest chunk is dropped). Neither ever waits, so a slow
transcriber cannot stall forwarding or recording."""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass

import av
import numpy as np

from media.audio import SAMPLE_RATE, AudioChunk


@dataclass
class TapStats:
    packets_dropped: int = 0
    chunks_dropped: int = 0
    chunks_emitted: int = 0
    decode_errors: int = 0


class _SourceDecoder:
    def __init__(self, source_id: str, chunk_ms: int) -> None:
        self.source_id = source_id
        self.decoder = av.CodecContext.create("libopus", "r")
        self.decoder.sample_rate = 48_000
        self.decoder.layout = "mono"
        self.decoder.format = "flt"
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        self.chunk_samples = SAMPLE_RATE * chunk_ms // 1000
        self.parts: list[np.ndarray] = []
        self.buffered = 0
        self.start_ms: int | None = None
        self.next_ms: int | None = None

    def decode(self, payload: bytes, at_ms: int) -> list[AudioChunk]:
        out: list[AudioChunk] = []
        if self.next_ms is not None and abs(at_ms - self.next_ms) > 60:
            out += self.flush()  # a gap or a jump: a chunk never spans it
        if self.start_ms is None:
            self.start_ms = at_ms
        for frame in self.decoder.decode(av.Packet(payload)):
            frame.pts = None
            for res in self.resampler.resample(frame):
                samples = res.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                self.parts.append(samples)
                self.buffered += len(samples)
        self.next_ms = at_ms + 20
        while self.buffered >= self.chunk_samples:
            out.append(self._take(self.chunk_samples))
        return out

    def _take(self, n: int) -> AudioChunk:
        data = np.concatenate(self.parts)
        chunk = AudioChunk(self.source_id, int(self.start_ms or 0), np.clip(data[:n], -1.0, 1.0))
        rest = data[n:]
        self.parts = [rest] if len(rest) else []
        self.buffered = len(rest)
        self.start_ms = int(self.start_ms or 0) + n * 1000 // SAMPLE_RATE
        return chunk

    def flush(self) -> list[AudioChunk]:
        out = [self._take(self.buffered)] if self.buffered else []
        self.parts, self.buffered, self.start_ms, self.next_ms = [], 0, None, None
        return out


class AudioTap:
    """Feed with ``put(source_id, opus_payload, at_ms)`` from the event loop; read chunks with
    ``await tap.queue.get()`` (or pass ``on_chunk``, called on the loop for each chunk)."""

    def __init__(self, chunk_ms: int = 100, max_chunks: int = 250, max_packets: int = 2000) -> None:
        self.chunk_ms = chunk_ms
        self.queue: asyncio.Queue[AudioChunk] = asyncio.Queue(maxsize=max_chunks)
        self.stats = TapStats()
        self._loop = asyncio.get_running_loop()
        self._in: queue.Queue = queue.Queue(maxsize=max_packets)
        self._decoders: dict[str, _SourceDecoder] = {}
        self._thread = threading.Thread(target=self._run, name="audio-tap", daemon=True)
        self._thread.start()

    def put(self, source_id: str, payload: bytes, at_ms: int) -> None:
        try:
            self._in.put_nowait((source_id, payload, at_ms))
        except queue.Full:
            self.stats.packets_dropped += 1

    def flush(self, source_id: str) -> None:
        """End the current chunk of a source (it was muted or dropped)."""
        try:
            self._in.put_nowait((source_id, None, 0))
        except queue.Full:
            self.stats.packets_dropped += 1

    def _run(self) -> None:
        while True:
            item = self._in.get()
            if item is None:
                break
            source_id, payload, at_ms = item
            dec = self._decoders.get(source_id)
            if dec is None:
                dec = self._decoders[source_id] = _SourceDecoder(source_id, self.chunk_ms)
            try:
                chunks = dec.flush() if payload is None else dec.decode(payload, at_ms)
            except av.FFmpegError:
                self.stats.decode_errors += 1
                continue
            for chunk in chunks:
                self._loop.call_soon_threadsafe(self._deliver, chunk)

    def _deliver(self, chunk: AudioChunk) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.stats.chunks_dropped += 1
        self.queue.put_nowait(chunk)
        self.stats.chunks_emitted += 1

    async def close(self) -> None:
        for source_id in list(self._decoders):
            self.flush(source_id)
        self._in.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        await asyncio.sleep(0)  # let the last call_soon_threadsafe deliveries run
