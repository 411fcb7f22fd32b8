"""A final never holds a sentence twice, a copy broken off, or a loop on babble; offline never
gives a segment twice or one that takes no time. Speech said once comes through unchanged."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from asr.decoder import DecodedWord, DecodeResult
from asr.filters import FilterOptions, clean_final, normalize, repeats_previous
from asr.stream import StreamCore, StreamOptions

OPTS = FilterOptions()
SENTENCE = "Видите пароль и нажмите решетку."


def words(text: str, prob: float = 0.9) -> list[tuple[str, float]]:
    return [(w, prob) for w in text.split()]


def clean(ws: list[tuple[str, float]]) -> str:
    return " ".join(w for w, _ in clean_final(ws, lambda w: w[0], lambda w: w[1], OPTS))


def max_loop(text: str, size: int = 3) -> int:
    """How many times in a row the most repeated ``size``-word phrase occurs."""
    norm = normalize(text).split()
    best = 1
    for i in range(len(norm)):
        reps = 1
        while norm[i:i + size] and norm[i:i + size] == norm[i + reps * size:i + (reps + 1) * size]:
            reps += 1
        best = max(best, reps)
    return best


def test_a_sentence_written_twice_is_kept_once():
    assert clean(words(f"{SENTENCE} {SENTENCE}", 0.85)) == SENTENCE


def test_a_near_copy_is_kept_once():
    assert clean(words("Видите пароль и нажмите решетку. Видите пароль и нажмите решеткой")) \
        == SENTENCE


def test_a_copy_broken_off_at_the_end_is_dropped():
    first = "Видите номер конференции и нажмите решетку."
    assert clean(words(f"{first} {SENTENCE} Видите номер конф")) == f"{first} {SENTENCE}"
    assert clean(words(f"{SENTENCE} {SENTENCE} Видите пароль и наж")) == SENTENCE


def test_a_loop_on_babble_is_dropped():
    looped = words("Мой, что, дар, " * 6, 0.2)
    assert clean(looped) == ""
    assert max_loop(clean(words("Суд идёт. ") + looped)) < 3


def test_a_confident_loop_is_cut_to_one_copy():
    assert clean(words("Прошу встать. " * 4, 0.8)) == "Прошу встать."


def test_speech_said_once_comes_through_unchanged():
    for text in ("Да, да, я согласен с этим.",
                 "Я клянусь говорить. Я клянусь говорить правду.",
                 "Видите номер конференции и нажмите решетку. Видите пароль и нажмите решетку.",
                 "Суд удаляется в совещательную комнату. Суд удаляется.",
                 "Прошу приобщить к делу запись. Возражений нет. Приобщить."):
        assert clean(words(text)) == text, text


def test_menus_and_lists_that_differ_by_a_word_are_kept():
    """Real prompts Whisper transcribed right: each item repeats the one before but one word."""
    for text in (
            "Нажмите три, чтобы переключить этого абонента в кольцевую меню. Нажмите четыре, "
            "чтобы переключить этого абонента в меню вежливого отказа принять звонок.",
            "Нажмите один для записи вашего сообщения при статусе недоступен. Нажмите два для "
            "записи вашего сообщения при статусе занята. Нажмите три для записи вашего имени.",
            "Нажмите три для записи. Нажмите четыре для записи."):
        assert clean(words(text)) == text, text


def test_a_copy_with_another_form_of_one_word_is_kept_once():
    assert clean(words("Эта конференция теперь закрыта. Это конференция теперь закрыта.")) \
        == "Эта конференция теперь закрыта."


def test_a_second_copy_clearly_more_probable_than_the_first_is_kept():
    first, second = words(SENTENCE, 0.5), words(SENTENCE, 0.95)
    assert clean(first + second) == f"{SENTENCE} {SENTENCE}"


def test_offline_segment_repeating_the_previous_one():
    t, p = (lambda w: w[0]), (lambda w: w[1])
    assert repeats_previous(words(SENTENCE), words(SENTENCE), t, p, OPTS)
    assert not repeats_previous(words("Да, да."), words("Да, да."), t, p, OPTS)
    assert not repeats_previous(words(SENTENCE), words("Суд удаляется в совещательную комнату."),
                                t, p, OPTS)


# -- the stream judges the whole final, across decodes -----------------------------------------

def _result(core_words: list[tuple[str, float, float]], n_prefix: int, prob: float
            ) -> DecodeResult:
    dw = [DecodedWord(" " + w, s, e, prob, [1]) for w, s, e in core_words]
    text = " ".join(w for w, _, _ in core_words)
    return DecodeResult("ru", 0.99, dw, n_prefix, text, -0.3, 0.01, 1.2, len(dw))


def test_a_loop_growing_one_decode_at_a_time_never_reaches_the_final():
    """Each decode adds one copy of the phrase beyond the forced prefix: no single decode
    loops, the utterance does."""
    core = StreamCore("s", StreamOptions(), "m")
    rng = np.random.default_rng(3)
    phrase = ["Мой,", "что,", "дар,"]
    t = 0
    for step in range(40):
        core.push(t, (rng.standard_normal(8_000) * 0.1).astype(np.float32))
        t += 500
        frames = core.take_input()
        core.apply_vad(frames, np.ones(len(frames) // 512, np.float32))
        job = core.take_partial_job()
        if job is None:
            continue
        u = job.utterance
        in_buffer = u.committed[u.prefix_from:]
        prefix = [(w.text, (w.start_ms - job.audio_start_ms) / 1000,
                   (w.end_ms - job.audio_start_ms) / 1000) for w in in_buffer]
        start = prefix[-1][2] if prefix else 0.0
        new = [(w, start + 0.2 * i, start + 0.2 * i + 0.15) for i, w in enumerate(phrase)]
        core.complete(job, _result(prefix + new, len(prefix), 0.3))
    core.close()
    job = core.take_final_job()
    if job is not None:
        core.complete(job, _result([], 0, 0.3))
    finals = [e for e in core.drain_events() if e.kind == "final"]
    for e in finals:
        assert max_loop(e.text) < 3, e.text


# -- the real model ---------------------------------------------------------------------------

@pytest.mark.slow
async def test_babble_through_the_stream_gives_no_loop():
    """Six readers at once, the VAD forced open: whatever Whisper makes of it, no final holds
    a phrase looped three times or more."""
    from asr.scheduler import Scheduler, SchedulerOptions
    from asr.vad import VadOptions
    from asr_testlib import Collector, clip, model

    voices = []
    for v in range(6):  # 20 s of one reader's utterances each, at the same level
        parts, i = [], v
        while sum(map(len, parts)) < 20 * 16_000:
            parts.append(clip("ru-dev", "read_utterance", 5, 18, index=i)[0])
            i += 6
        x = np.concatenate(parts)[:20 * 16_000]
        voices.append(x / np.sqrt(np.mean(x ** 2)))
    babble = sum(voices)
    babble = (babble / np.abs(babble).max() * 0.5).astype(np.float32)
    sched = Scheduler(SchedulerOptions(), model=model())
    await sched.start()
    got = Collector()
    forced = StreamOptions(vad=VadOptions(onset=0.0, offset=0.0, min_speech_ms=32))
    stream = sched.open_stream("mic", forced, got)
    for i in range(0, len(babble), 1600):
        stream.feed(i // 16, babble[i:i + 1600])
        await asyncio.sleep(0)
    await stream.close()
    await sched.stop()
    assert sched.decode_batches > 0
    for e in got.finals():
        for size in range(1, 6):
            assert max_loop(e.text, size) < 3, e.text


@pytest.mark.slow
def test_offline_gives_no_segment_twice_and_none_without_duration():
    from asr.offline import transcribe_file
    from asr_testlib import SPEECH, manifest, model
    rows = [r for r in manifest("ru-dev") if "conf" in r["audio"]][:4]
    for row in rows:
        segs = transcribe_file(SPEECH / "ru-dev" / row["audio"], "ru", model=model())
        for a, b in zip(segs, segs[1:]):
            assert normalize(a.text) != normalize(b.text), row["audio"]
        for s in segs:
            assert s.end_ms > s.start_ms, (row["audio"], s.text)
