"""Test material for the transcription tests: real clips from ../shared/speech, synthetic
non-speech (silence, noise, tones), the shared model, and a collector for events."""

from __future__ import annotations

import json
import sys
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from asr import SAMPLE_RATE as RATE
from asr.events import TranscriptEvent
from asr.model import LoadedModel, ModelOptions, load_model

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech"
BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _asr_score import normalize, wer  # noqa: E402


def need_speech() -> None:
    if not (SPEECH / "ru-dev" / "manifest.jsonl").is_file():
        pytest.skip(f"real speech clips not found at {SPEECH}")


@lru_cache(maxsize=None)
def manifest(folder: str) -> list[dict]:
    need_speech()
    path = SPEECH / folder / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def clip(folder: str, kind: str, min_s: float = 0, max_s: float = 1e9, index: int = 0
         ) -> tuple[np.ndarray, str]:
    """(audio, reference text) of the index-th clip of that kind and length range."""
    rows = [r for r in manifest(folder) if r["kind"] == kind and min_s <= r["duration"] <= max_s]
    row = rows[index]
    return read_wav(SPEECH / folder / row["audio"]), row["text"]


def model() -> LoadedModel:
    return load_model(ModelOptions(cpu_threads=2))  # cached: loaded once per test session


def text_wer(reference: str, hypothesis: str) -> float:
    return wer([normalize(reference)], [normalize(hypothesis)])


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def white_noise(seconds: float, rms: float = 0.05, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * rms).astype(
        np.float32)


def tone(seconds: float, *freqs: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp / len(freqs) * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


class Collector:
    def __init__(self) -> None:
        self.events: list[TranscriptEvent] = []

    def __call__(self, event: TranscriptEvent) -> None:
        self.events.append(event)

    def finals(self) -> list[TranscriptEvent]:
        return [e for e in self.events if e.kind == "final"]

    def partials(self) -> list[TranscriptEvent]:
        return [e for e in self.events if e.kind == "partial"]

    def text(self) -> str:
        return " ".join(e.text for e in self.finals())
