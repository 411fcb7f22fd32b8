"""Defences against what Whisper writes when nobody speaks.

Whisper was trained on subtitles, so on quiet or noisy audio it invents the credits of a video
("Продолжение следует...", "Субтитры сделал ...", "Спасибо за просмотр") or loops one phrase.
The VAD keeps most silence away; these checks catch the rest."""

from __future__ import annotations

import os
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
    r"\w+ музыка",  # a subtitle's sound caption: "тревожная музыка"
    r"редактор",
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
    #: a loop (``min_repeats`` copies or more) whose words average below this is babble heard
    #: as words: it is dropped whole, not cut to one copy (real loops of speech score higher)
    loop_probability: float = 0.4
    #: a sentence this long or longer followed at once by a copy is a sentence written twice;
    #: shorter repeats ("да, да", "я клянусь говорить") are how people talk
    min_copy_words: int = 4
    #: words of a copy that may be another form of the first copy's word ("решетку"/"решеткой")
    copy_word_changes: int = 1
    #: the second copy is kept only when its words average this much more probable than the
    #: first's: the speaker then likely said it again
    copy_keep_margin: float = 0.2
    #: an unfinished last sentence that repeats the start of an earlier sentence of the same
    #: final for this many words (the last one may be cut short) is a copy broken off
    min_fragment_words: int = 3


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    return " ".join(_NON_WORD.sub(" ", text).split())


def is_known_hallucination(text: str) -> bool:
    norm = normalize(text)
    return bool(norm) and any(p.match(norm) for p in _PATTERNS)


def find_repetition(words: list[str], min_repeats: int = 3, max_phrase: int = 8) -> tuple[int, int] | None:
    """First run of one phrase repeated ``min_repeats`` times or more, as (start of the second
    copy, end of the run) word indices: the slice to cut so that one copy stays."""
    found = _find_loop([normalize(w) for w in words], min_repeats, max_phrase)
    return None if found is None else (found[0] + found[1], found[2])


def _find_loop(norm: list[str], min_repeats: int, max_phrase: int = 8
               ) -> tuple[int, int, int] | None:
    """First phrase repeated ``min_repeats`` times or more in a row: (start, phrase size, end)."""
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
                return i, size, i + reps * size
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
            rest = norm[start + 2 * size:]
            # the third copy's last word may itself be broken off ("... A B C. A B C. A B")
            if a == b and any(a) and rest[:-1] == a[:partial - 1] and rest[-1] and \
                    a[partial - 1].startswith(rest[-1]):
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
    one copy. A trailing copy (``min_words`` words or more; its last word may be broken off)
    of the words just before it, lasting under ``ratio`` of their time, is cut.
    ``span_of(word) -> (start, end)``."""
    norm = [normalize(text_of(w)) for w in words]
    n = len(norm)
    for size in range(n // 2, min_words - 1, -1):
        first, second = norm[n - 2 * size:n - size], norm[n - size:]
        if first[:-1] != second[:-1] or not any(first) or not second[-1] or \
                not first[-1].startswith(second[-1]):
            continue
        t_first = span_of(words[n - size - 1])[1] - span_of(words[n - 2 * size])[0]
        t_second = span_of(words[-1])[1] - span_of(words[n - size])[0]
        if t_second < ratio * t_first:
            return words[:n - size]
    return words


def cut_untimed_tail(words: list, span_of, min_untimed: int = 3) -> list:
    """Cut the end of a decode where most words take no time: the alignment found no audio
    for them, because the decoder wrote its sentence again into the silence after the speech
    ("Видите пароль и нажмите решетку. Видите пароль и нажмите решетку. Видите пар"). The cut
    starts at a word with no duration and keeps at least the first word; it needs
    ``min_untimed`` such words, so one short word aligned to an instant ("в", "и") is kept."""
    untimed = [span_of(w)[1] <= span_of(w)[0] for w in words]
    for k in range(1, len(words)):
        tail = untimed[k:]
        if untimed[k] and sum(tail) >= min_untimed and 2 * sum(tail) >= len(tail):
            return words[:k]
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


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _ends_sentence(text: str) -> bool:
    return bool(re.search(r"[.!?…]['\"»)]*$", text))


def cut_loops(words: list, text_of, prob_of, options: FilterOptions) -> list:
    """Cut every loop to one copy, or drop it whole when its words are unsure (babble)."""
    out = list(words)
    while True:
        found = _find_loop([normalize(text_of(w)) for w in out], options.min_repeats)
        if found is None:
            break
        start, size, end = found
        phrase = [normalize(text_of(w)) for w in out[start:start + size]]
        while end < len(out) and end - start < len(out) and \
                normalize(text_of(out[end])) == phrase[(end - start) % size]:
            end += 1  # a copy broken off after the run belongs to the loop
        if _mean([prob_of(w) for w in out[start:end]]) < options.loop_probability:
            out = out[:start] + out[end:]
        else:
            out = out[:start + size] + out[end:]
    end = find_trailing_loop([text_of(w) for w in out])
    return out if end is None else out[:end]


def _inflected(a: str, b: str) -> bool:
    """Two forms of one word ("решетку"/"решеткой", "эта"/"это"), not two words."""
    common = len(os.path.commonprefix([a, b]))
    return common >= 2 and common >= min(len(a), len(b)) - 2


def is_copy(first: list[str], second: list[str], options: FilterOptions) -> bool:
    """``second`` is ``first`` written again: as many words, at most ``copy_word_changes`` of
    them another form of the same word. Lists that differ by a real word ("Нажмите три …" /
    "Нажмите четыре …") are what menus and statutes sound like, and are kept."""
    if len(first) != len(second) or len(first) < options.min_copy_words:
        return False
    changed = [(x, y) for x, y in zip(first, second) if x != y]
    return len(changed) <= options.copy_word_changes and \
        all(_inflected(x, y) for x, y in changed)


def _find_near_copy(norm: list[str], probs: list[float], starts: list[bool],
                    options: FilterOptions) -> tuple[int, int] | None:
    """The first sentence (or run of sentences) followed at once by a copy that is not clearly
    more probable: the copy's (start, end). Both copies begin a sentence, and the copy ends
    one or ends the final (``starts`` marks sentence starts)."""
    n = len(norm)
    for s in range(n):
        if not starts[s]:
            continue
        for i in range(s + options.min_copy_words, n):
            size = i - s
            if i + size > n or not starts[i] or not (i + size == n or starts[i + size]):
                continue
            if not is_copy(norm[s:i], norm[i:i + size], options):
                continue
            if _mean(probs[i:i + size]) - _mean(probs[s:i]) < options.copy_keep_margin:
                return i, i + size
    return None


def cut_near_copies(words: list, text_of, prob_of, options: FilterOptions) -> list:
    """Drop a span written twice in a row (exact or near copy, at least ``min_copy_words``),
    keeping the first copy."""
    out = list(words)
    while True:
        starts = [i == 0 or _ends_sentence(text_of(out[i - 1])) for i in range(len(out))]
        found = _find_near_copy([normalize(text_of(w)) for w in out],
                                [prob_of(w) for w in out], starts, options)
        if found is None:
            return out
        out = out[:found[0]] + out[found[1]:]


def cut_trailing_fragment(words: list, text_of, options: FilterOptions) -> list:
    """Drop an unfinished last sentence that repeats the start of an earlier sentence of the
    same final ("… Видите номер конференции … решетку. Видите номер конф")."""
    n = len(words)
    if not n or _ends_sentence(text_of(words[-1])):
        return words
    start = n
    while start > 0 and not _ends_sentence(text_of(words[start - 1])):
        start -= 1
    if start == 0:
        return words
    frag = [normalize(text_of(w)) for w in words[start:]]
    if len(frag) < options.min_fragment_words or not frag[-1]:
        return words
    norm = [normalize(text_of(w)) for w in words[:start]]
    k = len(frag)
    for j in range(0, start - k + 1):
        if j and not _ends_sentence(text_of(words[j - 1])):
            continue
        if norm[j:j + k - 1] == frag[:-1] and norm[j + k - 1].startswith(frag[-1]):
            return words[:start]
    return words


def clean_final(words: list, text_of, prob_of, options: FilterOptions) -> list:
    """Judge a whole final (or an offline chunk): loops, sentences written twice and a copy
    broken off at the end. Text said once comes through unchanged."""
    words = cut_loops(words, text_of, prob_of, options)
    words = cut_near_copies(words, text_of, prob_of, options)
    return cut_trailing_fragment(words, text_of, options)


def is_zero_length(words: list, span_of) -> bool:
    """Most words of this run take no time: an offline decode wrote text the audio lacks."""
    zero = sum(1 for w in words if span_of(w)[1] <= span_of(w)[0])
    return bool(words) and (zero * 2 >= len(words) or
                            span_of(words[-1])[1] <= span_of(words[0])[0])


def repeats_previous(previous: list, current: list, text_of, prob_of,
                     options: FilterOptions) -> bool:
    """A segment that copies the segment just before it (see ``is_copy``) and is not clearly
    more probable than it."""
    a = [normalize(text_of(x)) for x in previous]
    b = [normalize(text_of(x)) for x in current]
    if not is_copy(a, b, options):
        return False
    return _mean([prob_of(x) for x in current]) - _mean([prob_of(x) for x in previous]) < \
        options.copy_keep_margin
