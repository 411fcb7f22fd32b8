"""The uncertainty mark: a segment the model is unsure of is marked with its reason, one with no
usable text keeps only its time, and invented text never comes out as confident text."""

from __future__ import annotations

import numpy as np
import pytest

from asr.confidence import ConfidenceOptions, Evidence, Scores, judge
from asr.decoder import DecodedWord, DecodeResult
from asr.stream import StreamCore, StreamOptions

OPTS = ConfidenceOptions()


def test_each_reason_is_told_apart_and_sure_text_is_not_marked():
    assert judge(Scores(0.93, -0.2, 0.01, 0.99), OPTS) == ""
    assert judge(Scores(0.93, -0.2, 0.9, 0.99), OPTS) == "no_speech"
    assert judge(Scores(0.93, -0.2, 0.01, 0.55), OPTS) == "language"
    assert judge(Scores(0.35, -0.4, 0.01, 0.99), OPTS) == "low_confidence"
    assert judge(Scores(0.9, -1.6, 0.01, 0.99), OPTS) == "low_confidence"
    assert judge(Scores(0.05, -2.5, 0.01, 0.99), OPTS) == "unintelligible"


def test_text_in_a_language_the_model_is_weak_in_is_never_sure():
    from asr.model import ModelOptions
    sure = Scores(0.93, -0.2, 0.01, 0.99)
    weak = ConfidenceOptions(weak_languages=("kk",))
    assert judge(sure, weak, "kk") == "low_confidence"
    assert judge(sure, weak, "ru") == ""
    assert judge(Scores(0.93, -0.2, 0.9, 0.99), weak, "kk") == "no_speech"  # the first reason
    # the bundled base model is weak in Kazakh; a model the court installs is taken at its
    # word unless the court says otherwise
    assert ModelOptions().review_languages == ("kk",)
    assert ModelOptions(model_dir="/models/large-v3-kk").review_languages == ()
    assert ModelOptions(model_dir="/m", weak_languages=("kk", "ru")).review_languages == \
        ("kk", "ru")


def test_a_court_names_its_models_weak_languages():
    from hearing.config import weak_languages
    from asr.model import ModelOptions
    assert weak_languages("auto") is None
    assert weak_languages("none") == () == weak_languages("")
    assert weak_languages(" KK, ru ") == ("kk", "ru")
    assert ModelOptions(model_dir="/models/large-v3",  # not fine-tuned on Kazakh
                        weak_languages=weak_languages("kk")).review_languages == ("kk",)


def test_evidence_weighs_decodes_by_their_tokens_and_reads_the_other_language_as_doubt():
    e = Evidence()
    e.add(n_tokens=30, avg_logprob=-0.2, no_speech_prob=0.1, language="kk",
          language_probability=0.9)
    e.add(n_tokens=10, avg_logprob=-1.0, no_speech_prob=0.3, language="ru",
          language_probability=0.7)
    e.add(n_tokens=0, avg_logprob=-9.0, no_speech_prob=1.0, language="ru",
          language_probability=1.0)  # a decode that gave no words says nothing
    s = e.scores([0.5, 1.0, None], "kk")
    assert s.mean_probability == pytest.approx(0.75)
    assert s.avg_logprob == pytest.approx(-0.4)
    assert s.no_speech_prob == pytest.approx(0.2)
    assert s.language_probability == pytest.approx((0.9 + 0.3) / 2)


def _decode(words: list[tuple[str, float]], prob_lang: float = 0.99, logprob: float = -0.2,
            no_speech: float = 0.01) -> DecodeResult:
    dw = [DecodedWord(" " + w, 0.3 * i, 0.3 * i + 0.25, p, [1]) for i, (w, p) in
          enumerate(words)]
    return DecodeResult("ru", prob_lang, dw, 0, " ".join(w for w, _ in words), logprob,
                        no_speech, 1.2, len(dw))


def _final(words: list[tuple[str, float]], partial: bool = True, **kw):
    """One utterance through the stream core, its partial (unless it is closed before one)
    and its final (the second pass) decoded as ``words``."""
    core = StreamCore("s", StreamOptions(), "m")
    rng = np.random.default_rng(1)
    core.push(0, (rng.standard_normal(48_000) * 0.1).astype(np.float32))
    frames = core.take_input()
    core.apply_vad(frames, np.ones(len(frames) // 512, np.float32))
    if partial:
        core.complete(core.take_partial_job(), _decode(words, **kw))
    core.close()
    job = core.take_final_job()
    core.complete(job, _decode(words, **kw))
    return [e for e in core.drain_events() if e.kind == "final"]


def test_a_sure_final_is_not_marked_and_a_doubtful_one_keeps_its_words_with_the_mark():
    sure = _final([("Суд", 0.95), ("идёт.", 0.9)])
    assert [(e.text, e.uncertain) for e in sure] == [("Суд идёт.", "")]
    assert sure[0].scores["mean_probability"] == pytest.approx(0.925)
    unsure = _final([("Суд", 0.3), ("идёт.", 0.4)])
    assert [(e.text, e.uncertain) for e in unsure] == [("Суд идёт.", "low_confidence")]
    other = _final([("Суд", 0.9), ("идёт.", 0.9)], prob_lang=0.4)
    assert [e.uncertain for e in other] == ["language"]


def test_a_loop_on_babble_is_dropped_whole_not_cut_to_one_copy():
    babble = [(w, 0.25) for w in ["Мой,", "что,", "дар,"] * 4]
    assert _final(babble) == []
    spoken = _final([(w, 0.8) for w in ["Да,", "да,"] * 3])  # a sure loop is speech
    assert [(e.text, e.uncertain) for e in spoken] == [("Да,", "")]


def test_speech_closed_before_any_partial_whose_only_decode_loops_keeps_its_time_not_text():
    """Audio that arrives all at once (a backlog, a stream closed at once) gets no partial:
    where its one decode is a loop, the record says that someone spoke, and when."""
    finals = _final([("Алғағағағағағағағағағағағағаға", 0.54)], partial=False, logprob=-0.69,
                    no_speech=0.14)
    assert [(e.text, e.words, e.uncertain) for e in finals] == [("", [], "unintelligible")]
    assert finals[0].end_ms > finals[0].start_ms


def test_noise_closed_before_any_partial_whose_decode_is_a_stock_phrase_leaves_nothing():
    """Not a loop: what Whisper writes on noise ("Продолжение следует...") is no sign that
    anyone spoke, so a silent seat's cough stays out of the record."""
    assert _final([("Продолжение", 0.6), ("следует...", 0.6)], partial=False,
                  no_speech=0.2) == []


def test_words_the_model_does_not_believe_are_not_kept_as_text():
    finals = _final([("Хорошо", 0.15), ("сказал", 0.12), ("он.", 0.18)])
    assert [(e.text, e.words, e.uncertain) for e in finals] == [("", [], "unintelligible")]


def test_a_final_judged_as_no_speech_is_marked():
    finals = _final([("Спасибо.", 0.8)], no_speech=0.9, logprob=-0.5)
    assert [e.uncertain for e in finals] == ["no_speech"]
