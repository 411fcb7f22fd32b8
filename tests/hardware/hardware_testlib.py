"""Test material for the hardware tests: multi-channel WAVs, speech-like voices, and a sink
that collects what a Capture delivers."""

from __future__ import annotations

import asyncio
import time
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np

from media.audio import AudioChunk


def write_wav(path: Path, data: np.ndarray, rate: int) -> Path:
    """float (channels, n) -> PCM16 WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(data.T, -1, 32767 / 32768) * 32768).round().astype("<i2").tobytes())
    return path


def tone(freq: float, seconds: float, rate: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def voice(seconds: float, rate: int, seed: int, level_db: float = -20.0) -> np.ndarray:
    """Speech-like sound: a harmonic source with a wandering pitch, shaped into syllables
    (3-5 a second) with short pauses, so it has the level and correlation structure of a voice."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = 110 + 60 * rng.random() + 20 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase + rng.uniform(0, 6.28)) / k for k in range(1, 16))
    x = x + 0.3 * rng.standard_normal(n)
    env = np.zeros(n)
    pos = 0
    while pos < n:
        syl = int(rng.uniform(0.12, 0.3) * rate)
        gap = int(rng.uniform(0.02, 0.15) * rate)
        env[pos:pos + syl] = np.hanning(len(env[pos:pos + syl]))
        pos += syl + gap
    y = x * env
    rms = np.sqrt(np.mean(y ** 2)) or 1.0
    return (y / rms * 10 ** (level_db / 20)).astype(np.float32)


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples, np.float32), x[:len(x) - samples]])


def dominant_freq(x: np.ndarray, rate: int = 16_000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


class Collector:
    """Everything a Capture hands over, as the hearing server would receive it."""

    def __init__(self) -> None:
        self.asr: dict[str, list[AudioChunk]] = defaultdict(list)
        self.rec: dict[str, list[AudioChunk]] = defaultdict(list)
        self.meters: list[dict] = []
        self.alerts: list[dict] = []

    def on_chunk(self, c: AudioChunk) -> None:
        self.asr[c.source_id].append(c)

    def on_record(self, c: AudioChunk) -> None:
        self.rec[c.source_id].append(c)

    def kinds(self) -> list[str]:
        return [a["kind"] for a in self.alerts]

    def audio(self, source: str, which: str = "asr") -> np.ndarray:
        chunks = (self.asr if which == "asr" else self.rec)[source]
        return np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0, np.float32)

    async def wait_for(self, pred, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise AssertionError(f"timed out; alerts so far: {self.kinds()}")
            await asyncio.sleep(0.02)
