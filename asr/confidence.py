"""How sure the recogniser is of a segment: the mark the record carries beside its text.

Whisper writes fluent text whether or not it heard it, so a segment is judged on what the model
itself reports: the mean probability of its words, the average log-probability of the decoded
tokens, the probability that the audio held no speech, and the probability of the language it
was decoded in (between Kazakh and Russian). A segment the model is unsure of keeps its words
(each with its probability) and is marked with the reason; a segment with no usable text left
is marked ``unintelligible`` and carries no text, so invented words never enter the record as
ordinary text. Single words are judged on their own probability as well: the record keeps it,
and a word under ``stenogram.segments.DOUBTFUL_PROBABILITY`` is shown and counted as doubtful
(segment marks and doubtful words together: a quarter to a third of the words, most of the
errors). Thresholds were chosen on half of ``../shared/speech/ru-dev`` (tuning half, see
``bench/asr_stream.py --half tune``) and checked on the other half and the Kazakh clips."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable


@dataclass(frozen=True)
class ConfidenceOptions:
    """Thresholds of the mark. A segment is marked when any one of them is crossed."""

    #: the model's own probability that the audio held no speech (real speech of the tuning
    #: half reached 0.44)
    no_speech_prob: float = 0.5
    #: mean word probability below this: the model guessed some of the words. With the beam
    #: second pass this marks 10 % of the live words of the tuning half, which carry 15 % of
    #: the errors (marked WER 0.25, unmarked 0.15); doubtful single words carry most of the
    #: rest, so whole segments are marked only where most of their words are in doubt
    mean_probability: float = 0.78
    #: average log-probability of the decoded tokens below this: text the model wrote without
    #: believing it (reversed speech: -0.8); real speech of the tuning half stays above it
    avg_logprob: float = -0.7
    #: probability of the decoded language (Kazakh against Russian) below this: Kazakh decoded
    #: under kk+ru scored 0.62-0.69, Russian of the tuning half 0.68 once, else above 0.88
    language_probability: float = 0.8
    #: mean word probability below this: no usable text at all, the words are not kept (real
    #: speech of the tuning half stayed above 0.37)
    unintelligible_probability: float = 0.2
    #: languages the model is too weak in for its text to be taken as sure, whatever it
    #: reports (``ModelOptions.review_languages``; None: the model's own, filled in by the
    #: scheduler and the offline transcriber)
    weak_languages: tuple[str, ...] | None = None


@dataclass
class Scores:
    """What a segment is judged on, gathered over every decode that gave it words."""

    mean_probability: float = 1.0
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    language_probability: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in vars(self).items()}


class Evidence:
    """Running figures of one utterance's decodes (token-weighted log-probability, the
    no-speech and language probabilities of the decodes that gave words)."""

    def __init__(self) -> None:
        self._tokens = 0
        self._logprob = 0.0
        self._no_speech: list[float] = []
        self._language: dict[str, list[float]] = {}

    def add(self, *, n_tokens: int, avg_logprob: float, no_speech_prob: float,
            language: str, language_probability: float) -> None:
        if n_tokens <= 0:
            return
        self._tokens += n_tokens
        self._logprob += n_tokens * avg_logprob
        self._no_speech.append(no_speech_prob)
        self._language.setdefault(language, []).append(language_probability)

    def scores(self, probabilities: Iterable[float | None], language: str) -> Scores:
        probs = [p for p in probabilities if p is not None]
        same = self._language.get(language, [])
        other = [1 - p for lang, ps in self._language.items() if lang != language for p in ps]
        heard = same + other
        return Scores(
            mean_probability=sum(probs) / len(probs) if probs else 0.0,
            avg_logprob=self._logprob / self._tokens if self._tokens else 0.0,
            no_speech_prob=sum(self._no_speech) / len(self._no_speech) if self._no_speech
            else 0.0,
            language_probability=sum(heard) / len(heard) if heard else 1.0)


def conditions_prompt(uncertain: str) -> bool:
    """Whether a final with this mark may prompt the source's next decodes: text the model
    merely doubts is mostly right, but text it may have invented (no speech, another
    language, nothing usable) would be carried on into what follows."""
    return uncertain in ("", "low_confidence")


def with_model_languages(options: ConfidenceOptions, weak: tuple[str, ...]
                         ) -> ConfidenceOptions:
    """``options`` with the model's weak languages, unless they name their own."""
    if options.weak_languages is not None:
        return options
    return replace(options, weak_languages=tuple(weak))


def judge(scores: Scores, options: ConfidenceOptions, language: str = "") -> str:
    """The reason to mark a segment with these scores, decoded in ``language``, or "" when
    the model is sure of it."""
    if scores.mean_probability < options.unintelligible_probability:
        return "unintelligible"
    if scores.no_speech_prob > options.no_speech_prob:
        return "no_speech"
    if scores.language_probability < options.language_probability:
        return "language"
    if scores.mean_probability < options.mean_probability or \
            scores.avg_logprob < options.avg_logprob or \
            language in (options.weak_languages or ()):
        return "low_confidence"
    return ""
