"""Hallucination defences that need no model: the phrase list, repetition loops."""

from __future__ import annotations

import pytest

from asr.filters import (KNOWN_HALLUCINATIONS, FilterOptions, cut_repetitions,
                         drop_known_phrases, is_known_hallucination)

INVENTED = [
    "Продолжение следует...",
    "Субтитры сделал DimaTorzok",
    "Субтитры создавал DimaTorzok",
    "Субтитры подготовил Любовь Шляхтина.",
    "Редактор субтитров А.Синецкая Корректор А.Егорова",
    "Спасибо за просмотр!",
    "Благодарю за внимание.",
    "Подписывайтесь на канал!",
    "ПРОДОЛЖЕНИЕ СЛЕДУЕТ",
    "До новых встреч!",
    "Музыка",
    "Субтитрлер",
]

REAL = [
    "Суд удаляется в совещательную комнату.",
    "Спасибо, садитесь.",
    "Продолжение заседания назначено на понедельник.",
    "Субтитры к видеозаписи приобщены к делу как доказательство.",
    "Сот мәжілісі жалғасады.",
    "Прошу приобщить к материалам дела музыкальную запись.",
]


@pytest.mark.parametrize("text", INVENTED)
def test_known_invented_phrases_are_recognised(text):
    assert is_known_hallucination(text)


@pytest.mark.parametrize("text", REAL)
def test_courtroom_speech_is_not_mistaken_for_an_invented_phrase(text):
    assert not is_known_hallucination(text)


def test_every_listed_pattern_is_exercised_by_a_compiled_regex():
    assert len(KNOWN_HALLUCINATIONS) >= 15
    for pattern in KNOWN_HALLUCINATIONS:
        assert pattern and pattern == pattern.lower()


def _words(text: str, prob: float) -> list[tuple[str, float]]:
    return [(w, prob) for w in text.split()]


def test_invented_phrase_on_quiet_audio_is_dropped_but_clearly_spoken_one_kept():
    opts = FilterOptions()
    unsure = _words("Продолжение следует...", 0.4)
    sure = _words("Продолжение следует.", 0.97)
    assert drop_known_phrases(unsure, lambda w: w[0], lambda w: w[1], opts) == []
    assert drop_known_phrases(sure, lambda w: w[0], lambda w: w[1], opts) == sure


def test_credit_line_after_real_speech_is_cut_off():
    words = _words("Заседание объявляется закрытым.", 0.95) + _words("Спасибо за просмотр!", 0.3)
    kept = drop_known_phrases(words, lambda w: w[0], lambda w: w[1], FilterOptions())
    assert [w[0] for w in kept] == ["Заседание", "объявляется", "закрытым."]


def test_repetition_loop_is_cut_to_one_copy():
    loop = "Я не знаю. Я не знаю. Я не знаю. Я не знаю. Я не знаю.".split()
    assert cut_repetitions(loop) == ["Я", "не", "знаю."]
    single = "да, да, да, да, да, да".split()
    assert cut_repetitions(single) == ["да,"]


def test_two_repeats_are_speech_not_a_loop():
    words = "Скука, скука, вы видите".split()
    assert cut_repetitions(words) == words


def test_a_loop_cut_short_by_the_token_limit_is_cut_to_one_copy():
    words = ("чтобы потише слышать других участников. " * 2 + "чтобы потише слышать").split()
    assert " ".join(cut_repetitions(words)) == "чтобы потише слышать других участников."
