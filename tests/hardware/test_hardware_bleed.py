"""Bleed: a voice heard by the neighbouring microphones stays on its own seat; two people
speaking at once both stay."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hardware_testlib import Collector, delayed, voice, write_wav

from hardware.bleed import BleedGate, BleedOptions
from hardware.capture import Capture
from hardware.seatmap import default_seat_map
from media.clock import HearingClock

RATE = 48_000
SR = 16_000


def db(x: float) -> float:
    return 10 ** (x / 20)


def speech_frames(x: np.ndarray, threshold_db: float = -45.0) -> np.ndarray:
    """Which 20 ms frames a level-based detector would call speech."""
    n = len(x) // 320
    e = (x[:n * 320].reshape(n, 320) ** 2).mean(axis=1)
    return 10 * np.log10(np.maximum(e, 1e-14)) > threshold_db


@pytest.fixture(scope="module")
def courtroom(tmp_path_factory):
    """Seat 1 speaks alone (0-3 s), then seat 2 alone (3.5-6 s), then both at once (6.5-9 s).
    Every voice reaches the next mic 20 dB down and the one after 26 dB down, a few ms late."""
    rng = np.random.default_rng(7)
    n = 10 * RATE
    a1, b2 = voice(2.5, RATE, seed=1), voice(2.5, RATE, seed=2)
    a3, b3 = voice(2.5, RATE, seed=3), voice(2.5, RATE, seed=4, level_db=-32)  # B 12 dB softer
    mix = np.zeros((3, n), np.float32)

    def place(own: int, x: np.ndarray, at_s: float) -> None:
        t = int(at_s * RATE)
        for ch in range(3):
            d = abs(ch - own)
            g = 1.0 if d == 0 else db(-20) if d == 1 else db(-26)
            mix[ch, t:t + len(x)] += g * delayed(x, 96 * d)

    place(0, a1, 0.3)
    place(1, b2, 3.5)
    place(0, a3, 6.5)
    place(1, b3, 6.5)
    mix += rng.standard_normal(mix.shape).astype(np.float32) * db(-62)
    path = write_wav(tmp_path_factory.mktemp("bleed") / "bleed.wav", mix, RATE)

    async def run():
        url = f"file:{path}?speed=0"
        got = Collector()
        cap = Capture(url, default_seat_map(3, url), HearingClock.starting_now(),
                      on_chunk=got.on_chunk, on_record=got.on_record)
        await cap.start()
        await asyncio.wait_for(cap.wait_ended(), 30)
        await cap.stop()
        return got

    return asyncio.run(run())


def span(x: np.ndarray, a_s: float, b_s: float) -> np.ndarray:
    return x[int(a_s * SR):int(b_s * SR)]


def energy(x: np.ndarray) -> float:
    return float(np.sum(x.astype(np.float64) ** 2))


def test_bleed_is_silenced_for_transcription_on_the_neighbours(courtroom):
    g1, g2, g3 = (courtroom.audio(f"seat:seat-{i}") for i in (1, 2, 3))
    r1, r2, r3 = (courtroom.audio(f"seat:seat-{i}", "rec") for i in (1, 2, 3))
    # seat 1 alone: its own mic keeps everything, the neighbours' bleed is gone
    assert energy(span(g1, 0.3, 2.8)) > 0.99 * energy(span(r1, 0.3, 2.8))
    assert energy(span(g2, 0.3, 2.8)) < 0.01 * energy(span(r2, 0.3, 2.8))
    assert not speech_frames(span(g2, 0.3, 2.8)).any()
    assert not speech_frames(span(g3, 0.3, 2.8)).any()
    # seat 2 alone
    assert energy(span(g2, 3.5, 6.0)) > 0.99 * energy(span(r2, 3.5, 6.0))
    assert not speech_frames(span(g1, 3.5, 6.0)).any()
    # the bleed really was there in the untouched recording feed
    assert speech_frames(span(r2, 0.3, 2.8)).sum() > 20


def test_two_people_speaking_at_once_both_stay(courtroom):
    g1, g2, g3 = (courtroom.audio(f"seat:seat-{i}") for i in (1, 2, 3))
    r1, r2 = (courtroom.audio(f"seat:seat-{i}", "rec") for i in (1, 2))
    assert energy(span(g1, 6.5, 9.0)) > 0.95 * energy(span(r1, 6.5, 9.0))
    # seat 2 speaks 12 dB softer than seat 1 (more than the margin) and keeps its speech
    assert energy(span(g2, 6.5, 9.0)) > 0.8 * energy(span(r2, 6.5, 9.0))
    assert speech_frames(span(g2, 6.5, 9.0)).sum() > 0.6 * speech_frames(span(r2, 6.5, 9.0)).sum()
    # seat 3 hears both only as bleed
    assert not speech_frames(span(g3, 6.5, 9.0)).any()


def test_recording_feed_is_untouched(courtroom):
    r1, g1 = courtroom.audio("seat:seat-1", "rec"), courtroom.audio("seat:seat-1")
    assert len(r1) == len(g1)
    assert [c.start_ms for c in courtroom.rec["seat:seat-2"]] == [
        c.start_ms for c in courtroom.asr["seat:seat-2"]]


def test_gate_can_be_turned_off():
    rng = np.random.default_rng(0)
    x = voice(1.0, SR, seed=5)
    block = np.stack([x, db(-20) * x + rng.standard_normal(len(x)).astype(np.float32) * 1e-4])
    raw, gated = BleedGate(2, BleedOptions(enabled=False)).process(block)
    np.testing.assert_array_equal(raw, gated)
    raw, gated = BleedGate(2).process(block)
    assert energy(gated[1]) < 0.05 * energy(raw[1])
