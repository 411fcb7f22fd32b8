"""Live streams on the real model: partials then finals, committed words that never change,
silence/noise/tones that produce nothing, and the scheduler's order under load."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from asr.events import TranscriptEvent
from asr.scheduler import Scheduler, SchedulerOptions, StreamKey
from asr.stream import StreamOptions
from asr.vad import VadOptions
from asr_testlib import (Collector, clip, model, silence, text_wer, tone, white_noise)

pytestmark = pytest.mark.slow
CHUNK = 1600  # 100 ms


async def stepped(sched: Scheduler, stream, audio: np.ndarray, start_ms: int,
                  step_every_ms: int = 500) -> None:
    """Feed in 100 ms chunks, running the scheduler every ``step_every_ms`` of audio."""
    for i in range(0, len(audio), CHUNK):
        stream.feed(start_ms + i // 16, audio[i:i + CHUNK])
        if (i // CHUNK + 1) % (step_every_ms // 100) == 0:
            while sched.step():
                pass
            await asyncio.sleep(0)


async def drain(sched: Scheduler) -> None:
    for _ in range(50):
        if not sched.step():
            await asyncio.sleep(0)
            if not sched.step():
                break
    await asyncio.sleep(0)


def assert_committed_words_never_change(events: list[TranscriptEvent],
                                        second_pass: bool = True) -> None:
    """Across the partials of a segment, and into its final unless that is a second pass over
    the whole utterance (which may revise them); the final ends the segment."""
    by_segment: dict[str, list[TranscriptEvent]] = {}
    for e in events:
        by_segment.setdefault(e.segment_id, []).append(e)
    for seq in by_segment.values():
        shown = seq[:-1] if second_pass else seq
        for before, after in zip(shown, shown[1:]):
            assert after.committed >= before.committed
            assert after.words[:before.committed] == before.words[:before.committed]
        assert seq[-1].kind == "final" and all(e.kind == "partial" for e in seq[:-1])


async def test_speech_gives_partials_then_a_final_on_the_hearing_clock():
    audio, ref = clip("ru-dev", "read_utterance", 9, 12)
    audio = np.concatenate([silence(0.5), audio, silence(1.0)])
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    got = Collector()
    stream = sched.open_stream("judge", StreamOptions(language="ru"), got)
    await stepped(sched, stream, audio, start_ms=60_000)
    close = asyncio.ensure_future(stream.close())
    await asyncio.sleep(0)
    await drain(sched)
    await close
    await sched.stop()
    assert got.partials(), "nothing was shown while the speaker talked"
    assert any(p.committed for p in got.partials())
    assert text_wer(ref, got.text()) < 0.35, got.text()
    end = 60_000 + len(audio) // 16
    for e in got.events:
        assert 60_000 <= e.start_ms <= e.end_ms <= end
        assert e.language == "ru" and e.model == model().label and e.source_id == "judge"
        assert all(60_000 <= w.start_ms <= w.end_ms <= end for w in e.words)
    assert_committed_words_never_change(got.events)
    assert got.finals()[-1].to_dict()["words"][0]["probability"] > 0


async def test_the_same_seat_in_two_hearings_is_two_streams():
    """Every courtroom has its seat:judge: the hearing is part of a stream's key, and each
    stream's words go to its own hearing only."""
    audio, ref = clip("ru-dev", "read_utterance", 3, 6)
    audio = np.concatenate([silence(0.3), audio, silence(1.0)])
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    first, second = Collector(), Collector()
    a = sched.open_stream(StreamKey(1, "seat:judge"), StreamOptions(language="ru"), first)
    b = sched.open_stream(StreamKey(2, "seat:judge"), StreamOptions(language="ru"), second)
    with pytest.raises(ValueError, match="hearing 1 seat:judge"):
        sched.open_stream(StreamKey(1, "seat:judge"), StreamOptions(), Collector())
    sched.open_stream("x", StreamOptions(), Collector())
    with pytest.raises(ValueError):  # a bare source id is a stream outside any hearing
        sched.open_stream(StreamKey(None, "x"), StreamOptions(), Collector())
    b.feed(0, silence(0.5))  # the second hearing's judge starts talking later
    await stepped(sched, a, audio, start_ms=0)
    await stepped(sched, b, audio, start_ms=500)
    await sched.stop()  # flushes both: their last words become finals
    for got, start in ((first, 0), (second, 500)):
        assert got.finals() and {e.source_id for e in got.events} == {"seat:judge"}
        assert text_wer(ref, got.text()) < 0.35, got.text()
        assert min(e.start_ms for e in got.events) >= start


@pytest.mark.parametrize("name,audio", [
    ("silence", silence(4)),
    ("white noise", white_noise(4, rms=0.05)),
    ("loud noise", white_noise(4, rms=0.3, seed=2)),
    ("440 Hz tone", tone(4, 440)),
    ("dial tone", tone(4, 350, 440)),
    ("DTMF", np.concatenate([tone(0.2, 697, 1209), silence(0.1)] * 12)),
    ("mains hum", tone(4, 50, 100, amp=0.2)),
])
async def test_silence_noise_and_tones_produce_no_text(name, audio):
    sched = Scheduler(SchedulerOptions(), model=model())
    await sched.start()
    got = Collector()
    stream = sched.open_stream("mic", StreamOptions(language="ru"), got)
    for i in range(0, len(audio), CHUNK):
        stream.feed(i // 16, audio[i:i + CHUNK])
    await stream.close()
    await sched.stop()
    assert got.events == [], f"{name}: {[e.text for e in got.events]}"


async def test_kazakh_source_is_transcribed_in_kazakh_or_russian_only():
    audio, _ = clip("kk-dev", "command_sentence", 3, 10)
    sched = Scheduler(SchedulerOptions(), model=model())
    await sched.start()
    both, kk = Collector(), Collector()
    s1 = sched.open_stream("a", StreamOptions(language="kk+ru"), both)
    s2 = sched.open_stream("b", StreamOptions(language="kk"), kk)
    padded = np.concatenate([audio, silence(1)])
    for i in range(0, len(padded), CHUNK):
        s1.feed(i // 16, padded[i:i + CHUNK])
        s2.feed(i // 16, padded[i:i + CHUNK])
    await asyncio.gather(s1.close(), s2.close())
    await sched.stop()
    assert both.finals() and kk.finals()
    assert {e.language for e in both.events} <= {"kk", "ru"}
    assert {e.language for e in kk.events} == {"kk"}


async def test_finals_go_first_and_a_stale_partial_is_replaced_by_the_newest():
    short, _ = clip("ru-dev", "read_utterance", 5, 7)
    long, _ = clip("ru-dev", "read_utterance", 12, 17)
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    a = sched.open_stream("a", StreamOptions(), Collector())
    # b's speaker pauses briefly inside the clip: a longer end-of-utterance keeps it one utterance
    b = sched.open_stream("b", StreamOptions(vad=VadOptions(end_silence_ms=2000)), Collector())
    for i in range(0, 3 * 16000, CHUNK):  # b: 3 s of speech, a partial is due
        b.feed(i // 16, long[i:i + CHUNK])
    finished = np.concatenate([short, silence(1.0)])  # a: a whole utterance, its final is due
    for i in range(0, len(finished), CHUNK):
        a.feed(i // 16, finished[i:i + CHUNK])
    first = sched.step()
    assert first and {kind for _, kind, _ in first} == {"final"}
    assert {src for src, _, _ in first} == {"a"}
    for i in range(3 * 16000, 6 * 16000, CHUNK):  # the model was busy: b spoke 3 s more
        b.feed(i // 16, long[i:i + CHUNK])
    second = sched.step()
    assert [(src, kind) for src, kind, _ in second] == [("b", "partial")]
    assert second[0][2] >= 5_800  # built from the newest audio, not the 3 s request
    await asyncio.sleep(0)
    close = asyncio.ensure_future(asyncio.gather(a.close(), b.close()))
    await asyncio.sleep(0)
    await drain(sched)
    await close
    await sched.stop()


async def test_buffers_stay_bounded_and_finals_arrive_when_the_model_is_slower_than_input():
    clips = [clip("ru-dev", "read_utterance", 5, 17, index=i) for i in range(6)]
    audio = np.concatenate([np.concatenate([a, silence(0.8)]) for a, _ in clips])
    ref = " ".join(t for _, t in clips)
    options = StreamOptions(max_segment_ms=8_000, max_pending_final_ms=60_000)
    sched = Scheduler(SchedulerOptions(), model=model())
    await sched.start()
    got = Collector()
    stream = sched.open_stream("fast", options, got)
    peak_pending = peak_open = 0
    for i in range(0, len(audio), CHUNK):  # about 20x faster than real time
        stream.feed(i // 16, audio[i:i + CHUNK])
        if i % (10 * CHUNK) == 0:
            await asyncio.sleep(0.05)
            with stream.lock:
                peak_pending = max(peak_pending, stream.core.pending_final_ms())
                peak_open = max(peak_open, stream.core.open_length_ms())
    await stream.close()
    await sched.stop()
    assert peak_open <= options.max_segment_ms + 100
    assert peak_pending <= options.max_pending_final_ms + options.max_segment_ms
    assert stream.core.dropped_input_ms == 0 and stream.core.dropped_speech_ms == 0
    assert text_wer(ref, got.text()) < 0.4, got.text()


@pytest.mark.parametrize("name,audio", [
    ("silence", silence(3)),
    ("white noise", white_noise(3, rms=0.05)),
    ("440 Hz tone", tone(3, 440)),
    ("mains hum", tone(3, 50, 100, amp=0.2)),
])
async def test_decoder_output_on_non_speech_is_suppressed_even_past_the_vad(name, audio):
    """The VAD is forced open, so Whisper itself hears the noise: the no-speech, log-prob,
    repetition and invented-phrase defences must keep its inventions out."""
    sched = Scheduler(SchedulerOptions(), model=model())
    await sched.start()
    got = Collector()
    forced = StreamOptions(vad=VadOptions(onset=0.0, offset=0.0, min_speech_ms=32))
    stream = sched.open_stream("mic", forced, got)
    for i in range(0, len(audio), CHUNK):
        stream.feed(i // 16, audio[i:i + CHUNK])
    await stream.close()
    await sched.stop()
    assert sched.decode_batches > 0  # Whisper really ran on it
    assert got.events == [], f"{name}: {[e.text for e in got.events]}"


async def test_a_hypothesis_decoded_after_the_speaker_stopped_is_the_final_without_a_decode():
    """Without the second pass, the pause's partial is the final."""
    audio, ref = clip("ru-dev", "read_utterance", 5, 7)
    audio = np.concatenate([audio, silence(1.0)])
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    got = Collector()
    stream = sched.open_stream("s", StreamOptions(second_pass=False), got)
    kinds = []
    for i in range(0, len(audio), CHUNK):  # the model keeps up: it runs after every 100 ms
        stream.feed(i // 16, audio[i:i + CHUNK])
        while (batch := sched.step()):
            kinds += [kind for _, kind, _ in batch]
        await asyncio.sleep(0)
    assert got.finals() and text_wer(ref, got.text()) < 0.35, got.text()
    assert "partial" in kinds and "final" not in kinds  # the pause's partial became the final
    assert_committed_words_never_change(got.events, second_pass=False)
    await sched.stop()
