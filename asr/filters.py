"""Defences against what Whisper writes when nobody speaks.

Whisper was trained on subtitles, so on quiet or noisy audio it invents the credits of a video
("Продолжение следует...", "Субтитры сделал ...", "Спасибо за просмотр") or loops one phrase.
The VAD keeps most silence away; these checks catch the rest."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Phrases Whisper is known to produce on silence, music or noise (Russian and Kazakh subtitle
# credits and channel outros). Matched against the normalised text of a whole segment or of a
# run of words; kept unless clearly spoken (see ``FilterOptions.clear_probability``).
KNOWN_HALLUCINATIONS: tuple[str, ...] = (
    r"продолжение следует",
    r"субтитры (сделал|сделала|сделаны|делал|создавал|подготовил|подогнал|предоставил)\b.*",
    r"субтитры (от|by)\b.*",
    r"редактор субтитров\b.*",
    r"корректор\b.*",
    r"спасибо за (просмотр|внимание)",
    r"благодарю за (просмотр|внимание)",
    r"подписывайтесь на (наш )?канал\b.*",
    r"ставьте лайки?\b.*",
    r"до (новых )?встреч(и)?( в следующем (видео|выпуске))?",
    r"всем (пока|спасибо)",
    r"(с вами был|это был)\b.*",
    r"dimatorzok",
    r"amara org\b.*",
    r"музыка",
    r"(тихая |спокойная |веселая |грустная )?музыка",
    r"аплодисменты",
    r"смех",
    r"(қазақстан )?субтитрлер\b.*",
    r"жазылыңыз\b.*",
    r"қарағаныңызға рахмет",
    r"назар аударғаныңызға рахмет",
)
_PATTERNS = tuple(re.compile(rf"^(?:{p})$") for p in KNOWN_HALLUCINATIONS)
_NON_WORD = re.compile(r"[^\w\s]|_")


@dataclass(frozen=True)
class FilterOptions:
    """Thresholds, as in Whisper's own decoding fallbacks."""

    no_speech_threshold: float = 0.6  # with a low log-prob: the model heard no speech
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4  # text this repetitive is a loop
    min_repeats: int = 3  # a phrase repeated this often in a row is cut to one
    clear_probability: float = 0.9  # a known phrase is kept only with words this certain
    #: a decode none of whose new words reaches this probability is an invention (a tone, hum
    #: or a click heard as a syllable), not speech: real words, even mumbled, score higher
    invented_probability: float = 0.1


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    return " ".join(_NON_WORD.sub(" ", text).split())


def is_known_hallucination(text: str) -> bool:
    norm = normalize(text)
    return bool(norm) and any(p.match(norm) for p in _PATTERNS)


def find_repetition(words: list[str], min_repeats: int = 3, max_phrase: int = 8) -> tuple[int, int] | None:
    """First run of one phrase repeated ``min_repeats`` times or more, as (start of the second
    copy, end of the run) word indices: the slice to cut so that one copy stays."""
    norm = [normalize(w) for w in words]
    n = len(norm)
    for i in range(n):
        for size in range(1, max_phrase + 1):
            if i + size * min_repeats > n:
                break
            phrase = norm[i:i + size]
            if not any(phrase):
                continue
            reps = 1
            while norm[i + reps * size:i + (reps + 1) * size] == phrase:
                reps += 1
            if reps >= min_repeats:
                return i + size, i + reps * size
    return None


def find_trailing_loop(words: list[str], min_phrase: int = 2, max_phrase: int = 12) -> int | None:
    """Where a hypothesis that ends in a loop cut short by the token limit should end: a
    phrase of ``min_phrase`` words or more, twice in a row, then the start of a third copy
    ("A B C. A B C. A B"). Returns the index after the first copy, or None."""
    norm = [normalize(w) for w in words]
    n = len(norm)
    for size in range(min_phrase, max_phrase + 1):
        for partial in range(size - 1, 0, -1):  # earliest start first: not a rotation
            start = n - 2 * size - partial
            if start < 0:
                continue
            a, b = norm[start:start + size], norm[start + size:start + 2 * size]
            if a == b and any(a) and norm[start + 2 * size:] == a[:partial]:
                return start + size
    return None


def cut_repetitions(words: list, text_of=lambda w: w, min_repeats: int = 3) -> list:
    """Remove every repetition loop, keeping one copy of the phrase."""
    out = list(words)
    while True:
        span = find_repetition([text_of(w) for w in out], min_repeats)
        if span is None:
            break
        out = out[:span[0]] + out[span[1]:]
    end = find_trailing_loop([text_of(w) for w in out])
    return out if end is None else out[:end]


def cut_squeezed_copy(words: list, text_of, span_of, min_words: int = 3,
                      ratio: float = 0.4) -> list:
    """Whisper sometimes writes a whole sentence a second time at the end of its window, the
    copy's words squeezed into a few hundred milliseconds after the real ones: the audio holds
    one copy. A trailing exact copy (``min_words`` words or more) of the words just before it,
    lasting under ``ratio`` of their time, is cut. ``span_of(word) -> (start, end)``."""
    norm = [normalize(text_of(w)) for w in words]
    n = len(norm)
    for size in range(n // 2, min_words - 1, -1):
        first, second = norm[n - 2 * size:n - size], norm[n - size:]
        if first != second or not any(first):
            continue
        t_first = span_of(words[n - size - 1])[1] - span_of(words[n - 2 * size])[0]
        t_second = span_of(words[-1])[1] - span_of(words[n - size])[0]
        if t_second < ratio * t_first:
            return words[:n - size]
    return words


def is_silence_hallucination(no_speech_prob: float, avg_logprob: float,
                             options: FilterOptions) -> bool:
    """Whisper's own rule: likely no speech and an unsure decoding means nothing was said."""
    return no_speech_prob > options.no_speech_threshold and avg_logprob < options.logprob_threshold


def drop_known_phrases(words: list, text_of, prob_of, options: FilterOptions) -> list:
    """Drop runs of words that form a known invented phrase unless they were clearly spoken."""
    if not words:
        return words
    if is_known_hallucination(" ".join(text_of(w) for w in words)):
        if min(prob_of(w) for w in words) < options.clear_probability:
            return []
        return words
    # A phrase at the end (a credit line after real speech) or at the start.
    for k in range(1, len(words)):
        tail, head = words[k:], words[:len(words) - k]
        if is_known_hallucination(" ".join(text_of(w) for w in tail)) and \
                min(prob_of(w) for w in tail) < options.clear_probability:
            return words[:k]
        if is_known_hallucination(" ".join(text_of(w) for w in head)) and \
                min(prob_of(w) for w in head) < options.clear_probability:
            return words[len(words) - k:]
    return words
