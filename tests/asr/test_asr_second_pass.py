"""The live final is a second pass: when an utterance closes, its whole audio is decoded again
with beam search, and that text (filtered and marked on its own) replaces the greedy partials'.
Finals still go to the model before partials."""

from __future__ import annotations

import asyncio
from functools import lru_cache

import numpy as np
import pytest

from asr.decoder import Decoder
from asr.scheduler import Scheduler, SchedulerOptions
from asr.stream import StreamCore, StreamOptions
from asr_testlib import SPEECH, Collector, clip, manifest, model, read_wav, silence, text_wer

pytestmark = pytest.mark.slow
CHUNK = 1600  # 100 ms


@lru_cache(maxsize=1)
def decoder() -> Decoder:
    return Decoder(model())


def named(folder: str, name: str) -> tuple[np.ndarray, str]:
    row = next(r for r in manifest(folder) if r["audio"] == name)
    return read_wav(SPEECH / folder / name), row["text"]


def live(audio: np.ndarray, options: StreamOptions):
    """Replay as a live source on a machine that decodes instantly: every job runs as soon
    as it is due, finals first. Returns (events, jobs)."""
    core = StreamCore("s", options, "m")
    audio = np.concatenate([silence(0.3), audio, silence(1.0)])
    events, jobs = [], []
    for i in range(0, len(audio), CHUNK):
        core.push(i // 16, audio[i:i + CHUNK])
        frames = core.take_input()
        core.apply_vad(frames, core.vad.probabilities(frames))
        if i + CHUNK >= len(audio):
            core.close()
        while (job := core.take_final_job() or core.take_partial_job()) is not None:
            jobs.append(job)
            core.complete(job, decoder().decode([job.request])[0])
        events += core.drain_events()
    return events, jobs


def test_the_final_is_a_beam_search_pass_over_the_whole_utterance():
    # Greedy decoding of this prompt writes "голосовый"; beam search hears "голосовой".
    audio, ref = named("ru-dev", "ast_ru_vm-mailboxfull.wav")
    events, jobs = live(audio, StreamOptions(language="ru"))
    finals = [e for e in events if e.kind == "final"]
    partials = [e for e in events if e.kind == "partial"]
    assert len(finals) == 1 and partials
    final_jobs = [j for j in jobs if j.kind == "final"]
    assert len(final_jobs) == 1
    job = final_jobs[0]
    assert job.second_pass and job.request.options.beam_size == 5
    assert job.request.prefix_tokens == []  # decoded afresh, not continuing the partials
    assert job.audio_start_ms <= finals[0].start_ms and job.audio_end_ms >= finals[0].end_ms
    assert {j.request.options.beam_size for j in jobs if j.kind == "partial"} == {1}
    assert text_wer(ref, finals[0].text) == 0.0, finals[0].text

    greedy, greedy_jobs = live(audio, StreamOptions(language="ru", second_pass=False))
    greedy_final = [e for e in greedy if e.kind == "final"]
    assert all(j.request.options.beam_size == 1 for j in greedy_jobs)
    assert text_wer(ref, " ".join(e.text for e in greedy_final)) > 0, greedy_final


def test_a_sentence_written_again_into_the_silence_is_not_in_the_final():
    # Beam search over this short prompt writes it two and a half times; the copies are
    # aligned to no audio (no duration), and the final keeps the sentence once.
    audio, ref = named("ru-dev", "ast_ru_confbridge-inc-list-vol-out.wav")
    events, _ = live(audio, StreamOptions(language="ru"))
    text = " ".join(e.text for e in events if e.kind == "final")
    assert text.lower().count("погромче") == 1 and text.lower().count("чтобы") == 1, text


async def test_finals_go_to_the_model_before_partials():
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    done, talking = Collector(), Collector()
    a = sched.open_stream("a", StreamOptions(language="ru"), done)
    b = sched.open_stream("b", StreamOptions(language="ru"), talking)
    short, _ = named("ru-dev", "ast_ru_vm-mailboxfull.wav")
    longer, _ = clip("ru-dev", "read_utterance", 9, 14)
    finished = np.concatenate([silence(0.3), short, silence(1.0)])
    ongoing = longer[:len(finished)]  # b is still speaking: its partial is due
    for i in range(0, len(finished), CHUNK):
        a.feed(i // 16, finished[i:i + CHUNK])
        b.feed(i // 16, ongoing[i:i + CHUNK])
    # One batch may take b's partial along, but a's final comes first.
    first = [(source, kind) for source, kind, _ in sched.step()]
    assert first[0] == ("a", "final") and first[1:] in ([], [("b", "partial")]), first
    await asyncio.sleep(0)
    assert [e.kind for e in done.events] == ["final"] and done.events[0].text
    await sched.stop()


def _utterance(core: StreamCore, start_ms: int, speech_s: float) -> None:
    """Speech then enough silence to close it, with the VAD's verdicts given."""
    n = int((speech_s + 0.7) * 16_000) // 512 * 512
    core.push(start_ms, (np.random.default_rng(start_ms).standard_normal(n) * 0.1).astype(
        np.float32))
    frames = core.take_input()
    probs = np.zeros(len(frames) // 512, np.float32)
    probs[:int(speech_s * 16_000) // 512] = 1.0
    core.apply_vad(frames, probs)


def _result(words: list[tuple[str, float, float, list[int]]], n_prefix: int = 0):
    from asr.decoder import DecodedWord, DecodeResult
    dw = [DecodedWord(" " + w, s, e, 0.95, t) for w, s, e, t in words]
    return DecodeResult("ru", 0.99, dw, n_prefix, " ".join(w for w, *_ in words), -0.2, 0.01,
                        1.2, len(dw) - n_prefix)


def test_a_segment_right_after_another_is_decoded_with_it_as_context():
    core = StreamCore("s", StreamOptions(language="ru"), "m")
    _utterance(core, 0, 2.0)
    first = core.take_final_job()
    assert first.second_pass and first.request.prefix_tokens == []
    core.complete(first, _result([("Суд", 0.1, 0.5, [11]), ("идёт,", 0.6, 1.5, [12, 13])]))
    n_first = len(first.request.audio)
    _utterance(core, first.audio_end_ms, 1.5)  # a pause of 0.7 s, then the sentence goes on
    second = core.take_final_job()
    # The previous segment's audio comes first, its final text is the forced prefix.
    assert second.request.prefix_tokens == [11, 12, 13]
    assert len(second.request.audio) > n_first and second.audio_start_ms == first.audio_start_ms
    offset = n_first / 16_000
    core.complete(second, _result([("Суд", 0.1, 0.5, [11]), ("идёт,", 0.6, 1.5, [12, 13]),
                                   ("встать.", offset + 0.3, offset + 1.0, [14])], n_prefix=2))
    finals = [e for e in core.drain_events() if e.kind == "final"]
    assert [e.text for e in finals] == ["Суд идёт,", "встать."]
    assert finals[1].start_ms == first.audio_end_ms + 300  # on the second segment's clock
