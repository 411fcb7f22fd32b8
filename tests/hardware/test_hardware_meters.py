"""Dead-microphone alerts with generated signals and real speech: a silent channel, or one
that carries nothing but mains hum (an unplugged cable), is flagged within 10 s; a speaking
seat, with or without hum under the voice, and a live mic in a quiet room are not."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from hardware.meters import LevelMeter, MeterOptions

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "speech" / "ru-dev"
RATE = 48_000


def level(x: np.ndarray, rms_db: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x ** 2)) * 10 ** (rms_db / 20)


def hum(seconds: float, rms_db: float, mains: float = 50.0, harmonics: int = 1,
        rate: int = RATE) -> np.ndarray:
    """Mains hum (a slightly off-nominal mains frequency, as the grid drifts)."""
    t = np.arange(int(seconds * rate)) / rate
    f = mains * 1.004
    x = sum(np.sin(2 * np.pi * k * f * t + k) / k for k in range(1, harmonics + 1))
    return level(x, rms_db)


def noise(seconds: float, rms_db: float, seed: int = 1, rate: int = RATE) -> np.ndarray:
    """Room tone: noise falling 6 dB an octave above 100 Hz."""
    white = np.random.default_rng(seed).standard_normal(int(seconds * rate))
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(len(white), 1 / rate)
    return level(np.fft.irfft(spec / np.maximum(f, 100) ** 0.5, len(white)), rms_db)


def speech(seconds: float) -> tuple[np.ndarray, int]:
    """Real Russian utterances one after the other (16 kHz), as a seat in use sounds."""
    parts, rate = [], 16_000
    for path in sorted(SPEECH.glob("*.wav")):
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            parts.append(np.frombuffer(w.readframes(w.getnframes()), np.int16) / 32768)
        if sum(map(len, parts)) >= seconds * rate:
            break
    return np.concatenate(parts)[:int(seconds * rate)], rate


def first_dead_alert(x: np.ndarray, rate: int = RATE, options: MeterOptions = MeterOptions()
                     ) -> dict | None:
    """Feed one channel in 20 ms blocks to an open hearing's meter; its first dead-mic alert
    (with ``at_s``, the audio time it came at), or None."""
    meter = LevelMeter(rate, [0], ["witness"], options)
    block = rate // 50
    for pos in range(0, len(x) - block + 1, block):
        _, alerts = meter.process(x[None, pos:pos + block].astype(np.float32), 0, True)
        for a in alerts:
            if a["kind"] == "silent":
                return {**a, "at_s": (pos + block) / rate}
    return None


def test_the_default_window_flags_a_dead_mic_within_10_s():
    assert MeterOptions().silence_alert_s + MeterOptions().hum_window_s <= 10.0


def test_a_silent_channel_is_flagged_within_10_s():
    alert = first_dead_alert(np.zeros(12 * RATE))
    assert alert is not None and alert["at_s"] <= 10.0 and not alert["hum"]
    assert "silent" in alert["message"]


@pytest.mark.parametrize("mains,harmonics,rms_db,floor_db", [
    (50.0, 1, -40.0, None),  # a clean 50 Hz hum, far above the -70 dBFS silence threshold
    (50.0, 8, -30.0, -85.0),  # a buzz: 50 Hz and its harmonics over a preamp's noise floor
    (60.0, 2, -40.0, None),  # 60 Hz mains
    (50.0, 3, -10.0, -65.0),  # loud hum over noise above the silence threshold
])
def test_a_hum_only_channel_is_flagged_within_10_s(mains, harmonics, rms_db, floor_db):
    x = hum(12, rms_db, mains, harmonics)
    if floor_db is not None:
        x = x + np.random.default_rng(3).standard_normal(len(x)) * 10 ** (floor_db / 20)
    alert = first_dead_alert(x)
    assert alert is not None and alert["at_s"] <= 10.0
    assert alert["hum"] and "hum" in alert["message"]


@pytest.mark.skipif(not SPEECH.is_dir(), reason="needs ../shared/speech")
def test_speech_is_not_flagged_with_or_without_hum_under_it():
    x, rate = speech(20)
    assert first_dead_alert(x, rate) is None
    assert first_dead_alert(x + hum(20, -40, rate=rate), rate) is None
    assert first_dead_alert(x + hum(20, -35, harmonics=6, rate=rate), rate) is None


def test_a_live_mic_in_a_quiet_room_is_not_flagged_even_with_hum():
    assert first_dead_alert(noise(15, -55)) is None
    assert first_dead_alert(noise(15, -55) + hum(15, -40)) is None


def test_the_window_is_configurable_and_the_alert_clears_when_the_seat_speaks():
    x = np.concatenate([hum(4, -40), noise(2, -30) + hum(2, -40)])
    meter = LevelMeter(RATE, [0], [None], MeterOptions(silence_alert_s=2.0))
    kinds = []
    for pos in range(0, len(x), RATE // 10):
        _, alerts = meter.process(x[None, pos:pos + RATE // 10].astype(np.float32), 0, True)
        kinds += [(a["kind"], round(pos / RATE, 1)) for a in alerts]
    assert [k for k, _ in kinds] == ["silent", "silence_cleared"]
    assert 2.0 <= kinds[0][1] <= 3.5 and kinds[1][1] <= 5.5
