"""The sound of an evidence file as the transcriber wants it: float32 mono 16 kHz.

Times are seconds from the start of the evidence file, not the hearing clock: evidence was
recorded elsewhere, and its transcript is marked as evidence, not as hearing speech."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ..audio import SAMPLE_RATE, AudioChunk
from .probe import open_container


def iter_audio_16k(path: Path, block_s: float = 30.0, stream: int = 0) -> Iterator[np.ndarray]:
    """Blocks of about ``block_s`` seconds (the last one shorter), so an hour-long recording
    never sits in memory whole. Raises ValueError when the file has no audio."""
    with open_container(Path(path)) as c:
        if not c.streams.audio:
            raise ValueError("the evidence has no audio stream")
        s = c.streams.audio[stream]
        s.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        block = int(block_s * SAMPLE_RATE)
        parts: list[np.ndarray] = []
        have = 0
        for frame in c.decode(s):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray().reshape(-1))
                have += out.samples
            while have >= block:
                joined = np.concatenate(parts)
                yield joined[:block]
                rest = joined[block:]
                parts, have = ([rest] if len(rest) else []), len(rest)
        for out in resampler.resample(None):
            parts.append(out.to_ndarray().reshape(-1))
        if parts:
            joined = np.concatenate(parts)
            for i in range(0, len(joined), block):
                yield joined[i:i + block]


def extract_audio_16k(path: Path, stream: int = 0) -> np.ndarray:
    """The whole soundtrack at once (about 230 MB an hour); prefer ``iter_audio_16k`` for long
    files. Blocking: run it in an executor."""
    blocks = list(iter_audio_16k(path, stream=stream))
    out = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return np.clip(out, -1.0, 1.0, out=out).astype(np.float32, copy=False)


def evidence_chunks(path: Path, source_id: str, block_s: float = 30.0) -> Iterator[AudioChunk]:
    """The same as AudioChunks whose ``start_ms`` counts from the start of the evidence file."""
    start = 0
    for block in iter_audio_16k(path, block_s):
        block = np.clip(block, -1.0, 1.0).astype(np.float32, copy=False)
        yield AudioChunk(source_id, start * 1000 // SAMPLE_RATE, block)
        start += len(block)
