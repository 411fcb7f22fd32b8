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
