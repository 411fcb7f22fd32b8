"""Memory stays bounded whatever the input rate: the per-source caps, without the model."""

from __future__ import annotations

import numpy as np

from asr.stream import StreamCore, StreamOptions
from asr_testlib import clip, silence

CHUNK = 1600


def speech_minute() -> np.ndarray:
    parts = []
    total = 0
    i = 0
    while total < 60 * 16000:
        audio, _ = clip("ru-dev", "read_utterance", 5, 17, index=i)
        parts += [audio, silence(0.8)]
        total += len(audio) + 12800
        i += 1
    return np.concatenate(parts)


def test_unread_input_is_capped_and_the_oldest_dropped_with_a_count():
    core = StreamCore("s", StreamOptions(max_input_ms=5_000), "m")
    audio = speech_minute()
    for i in range(0, len(audio), CHUNK):
        core.push(i // 16, audio[i:i + CHUNK])
    frames = core.take_input()
    assert len(frames) <= 5_100 * 16
    assert core.dropped_input_ms >= len(audio) // 16 - 5_100


def test_closed_utterances_waiting_for_a_model_that_never_comes_are_capped():
    options = StreamOptions(max_pending_final_ms=10_000, max_segment_ms=8_000)
    core = StreamCore("s", options, "m")
    audio = speech_minute()
    peak = 0
    for i in range(0, len(audio), CHUNK):
        core.push(i // 16, audio[i:i + CHUNK])
        frames = core.take_input()
        core.apply_vad(frames, core.vad.probabilities(frames))
        peak = max(peak, core.pending_final_ms())
        assert core.open_length_ms() <= options.max_segment_ms + 100
    assert 0 < peak <= options.max_pending_final_ms + options.max_segment_ms
    # Nothing was decoded, so the overflow is counted as speech finalised without text.
    assert core.dropped_speech_ms > 0
    assert core.drain_events() == []
