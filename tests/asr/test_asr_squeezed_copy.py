"""A sentence Whisper writes twice, the copy squeezed into the window's last moments, is kept
once; a phrase really said twice is kept twice."""

from __future__ import annotations

import pytest

from asr.filters import cut_squeezed_copy

WORDS = "сначала думали что это следы бурь".split()


def timed(words, start, step):
    return [(w, start + i * step, start + i * step + step - 10) for i, w in enumerate(words)]


def cut(ws):
    return cut_squeezed_copy(ws, lambda w: w[0], lambda w: (w[1], w[2]))


def test_squeezed_copy_is_cut():
    real = timed(WORDS, 0, 600)
    copy = timed(WORDS, 3600, 40)
    assert cut(real + copy) == real


def test_phrase_said_twice_is_kept():
    first = timed("я клянусь".split() + ["говорить"], 0, 500)
    again = timed("я клянусь".split() + ["говорить"], 1500, 500)
    assert cut(first + again) == first + again


def test_short_or_different_tails_are_kept():
    real = timed(WORDS, 0, 600)
    assert cut(real + timed(WORDS[-2:], 3600, 40)) == real + timed(WORDS[-2:], 3600, 40)
    other = timed("совсем другие слова тут".split(), 3600, 40)
    assert cut(real + other) == real + other


@pytest.mark.slow
def test_offline_file_gives_the_sentence_once():
    from asr.offline import transcribe_file
    from asr_testlib import SPEECH, model, need_speech
    need_speech()
    segs = transcribe_file(SPEECH / "ru-dev" / "nsh_ru_ru_0045.wav", "ru", model=model())
    text = " ".join(s.text for s in segs).lower()
    assert text.count("магнитных") == 1, text
