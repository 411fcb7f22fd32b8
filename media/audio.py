"""The one audio contract between producers (WebRTC tracks, courtroom channels, replayed files)
and consumers (the transcriber, the meters). Samples are float32 mono at 16 kHz so that
nothing downstream resamples twice; ``start_ms`` is on the hearing clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asr import SAMPLE_RATE  # the transcriber's rate: nothing downstream resamples again

__all__ = ["SAMPLE_RATE", "AudioChunk"]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    source_id: str
    start_ms: int
    samples: np.ndarray  # float32, mono, 16 kHz, values in [-1, 1]

    def __post_init__(self) -> None:
        if self.samples.dtype != np.float32 or self.samples.ndim != 1:
            raise ValueError("AudioChunk.samples must be 1-D float32 (mono, 16 kHz)")

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // SAMPLE_RATE

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms
