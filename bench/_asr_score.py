"""Scoring for the ASR benchmark: the normalisation of ../shared/speech/README.md, WER and CER.

Both sides are normalised the same way: Unicode NFC, lower case, ``ё``->``е``, numbers written
as words, punctuation removed, whitespace collapsed."""

from __future__ import annotations

import re
import unicodedata

import jiwer
from num2words import num2words

_NUM = re.compile(r"\d+(?:[.,]\d+)?")
_NON_WORD = re.compile(r"[^\w\s]|_", re.UNICODE)
_N2W_LANG = {"ru": "ru", "kk": "kz"}


def _spell(match: re.Match, lang: str) -> str:
    text = match.group(0).replace(",", ".")
    try:
        value = float(text) if "." in text else int(text)
        return " " + num2words(value, lang=_N2W_LANG.get(lang, lang)) + " "
    except (NotImplementedError, OverflowError, ValueError):
        return " " + text + " "


def normalize(text: str, lang: str = "ru") -> str:
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    text = _NUM.sub(lambda m: _spell(m, lang), text)
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    text = _NON_WORD.sub(" ", text)
    return " ".join(text.split())


def wer(refs: list[str], hyps: list[str]) -> float:
    pairs = [(r, h) for r, h in zip(refs, hyps) if r]
    if not pairs:
        return 0.0
    return float(jiwer.wer([r for r, _ in pairs], [h or "" for _, h in pairs]))


def cer(refs: list[str], hyps: list[str]) -> float:
    pairs = [(r, h) for r, h in zip(refs, hyps) if r]
    if not pairs:
        return 0.0
    return float(jiwer.cer([r for r, _ in pairs], [h or "" for _, h in pairs]))


def split_half(rows: list[dict], half: str) -> list[dict]:
    """The tuning or the test half of a dataset: files sorted by name, every other one (so both
    halves hold every kind of recording). ``half`` is "tune", "test" or "all"."""
    if half == "all":
        return rows
    if half not in ("tune", "test"):
        raise ValueError(f"half must be tune, test or all, not {half!r}")
    ordered = sorted(rows, key=lambda r: r["audio"])
    return ordered[0 if half == "tune" else 1::2]


def word_errors(ref: str, words: list[str], lang: str = "ru") -> tuple[list[tuple[int, int]], int]:
    """Word errors of each hypothesis word against one file's reference (both as written; each
    word is normalised on its own, so "12" counts for the words it becomes): [(reference
    words, errors)] per word, and the reference words missed where the file has no hypothesis
    at all. A substitution or insertion counts against its own word, a deletion against the
    word before it (or after it, at the start)."""
    owner: list[int] = []
    tokens: list[str] = []
    for k, w in enumerate(words):
        for tok in normalize(w, lang).split():
            tokens.append(tok)
            owner.append(k)
    out = [[0, 0] for _ in words]
    ref = normalize(ref, lang)
    if not ref.split():
        for k in owner:
            out[k][1] += 1
        return [tuple(x) for x in out], 0
    if not tokens:
        return [tuple(x) for x in out], len(ref.split())
    res = jiwer.process_words(ref, " ".join(tokens))
    for chunk in res.alignments[0]:
        if chunk.type in ("equal", "substitute"):
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                out[owner[i]][0] += 1
                out[owner[i]][1] += chunk.type == "substitute"
        elif chunk.type == "insert":
            for i in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                out[owner[i]][1] += 1
        else:  # delete
            n_ref = chunk.ref_end_idx - chunk.ref_start_idx
            k = owner[chunk.hyp_start_idx - 1] if chunk.hyp_start_idx > 0 else owner[0]
            out[k][0] += n_ref
            out[k][1] += n_ref
    return [tuple(x) for x in out], 0


def marked_wer(files: list[tuple[list[tuple[int, int]], int]], marks: list[list[bool]]) -> dict:
    """WER of the marked and of the unmarked words, from ``word_errors`` of every file and each
    word's mark. Marked words should carry most of the errors."""
    n = {True: 0, False: 0}
    e = {True: 0, False: 0}
    missed = 0
    for (per_word, lost), file_marks in zip(files, marks):
        missed += lost
        for (words, errors), marked in zip(per_word, file_marks):
            n[marked] += words
            e[marked] += errors
    total = e[True] + e[False] + missed
    return {"marked_wer": round(e[True] / n[True], 4) if n[True] else None,
            "unmarked_wer": round(e[False] / n[False], 4) if n[False] else None,
            "marked_ref_words": n[True], "unmarked_ref_words": n[False],
            "marked_share_of_words": round(n[True] / (n[True] + n[False]), 4)
            if n[True] + n[False] else None,
            "marked_share_of_errors": round(e[True] / total, 4) if total else None,
            "missed_ref_words": missed}
