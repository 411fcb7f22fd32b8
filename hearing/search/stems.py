"""Word stems for search, so that any form of a word finds the others.

Russian words are stemmed with the Snowball Russian stemmer (``snowballstemmer``). Kazakh
words are stemmed by stripping the agglutinative endings in the order Kazakh stacks them:
personal (predicative) ending, case, possessive, plural (кітап-тар-ымыз-дан). ``kazstem``
(PyPI) would give real lemmas, but its wheel ships no compiled FSTs: it needs an HFST/CG
toolchain and a resource bundle built by its bootstrap script from downloads, which a court
server cannot fetch, so it is not used. The suffix stripper is consistent rather than
linguistically exact: every form of a word goes through the same steps and lands on the
same stem, which is what search needs.

A text is stemmed as its language says: "ru" Russian, "kk" Kazakh, "kk+ru" both (each word
gives both stems). A word with letters only Kazakh has (ә, ғ, қ, ң, ө, ұ, ү, һ, і) is
always Kazakh. Queries have no language: each query word may match either stem.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Iterator

import snowballstemmer

#: Words: runs of letters, or of ASCII digits (case numbers, years).
WORD = re.compile(r"[^\W\d_]+|[0-9]+")
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
#: Longer words are cut to this many characters (nothing real is longer; an index term has
#: a size limit on PostgreSQL).
MAX_WORD = 64

_RUSSIAN = snowballstemmer.stemmer("russian")

# Kazakh endings, outermost first; within a layer the longest match wins.
_PERSONAL = ("сыңдар", "сіңдер", "сыздар", "сіздер", "мын", "мін", "бын", "бін", "пын",
             "пін", "мыз", "міз", "быз", "біз", "пыз", "піз", "сың", "сің", "сыз", "сіз")
_CASE = ("менен", "бенен", "пенен", "ның", "нің", "дың", "дің", "тың", "тің", "дан", "ден",
         "тан", "тен", "нан", "нен", "нда", "нде", "мен", "бен", "пен", "ға", "ге", "қа", "ке",
         "на", "не", "ны", "ні", "ды", "ді", "ты", "ті", "да", "де", "та", "те", "а", "е",
         "н")
_POSSESSIVE = ("ымыз", "іміз", "ыңыз", "іңіз", "мыз", "міз", "ңыз", "ңіз", "ым", "ім", "ың",
               "ің", "сы", "сі", "м", "ң", "ы", "і")
_PLURAL = ("лар", "лер", "дар", "дер", "тар", "тер")
_LAYERS = tuple(tuple(sorted(layer, key=len, reverse=True))
                for layer in (_PERSONAL, _CASE, _POSSESSIVE, _PLURAL))
#: A stem keeps at least this many letters (three after a one-letter ending, which is too
#: easily the end of a root).
_MIN_STEM = 2
#: Voiced again before a vowel (кітап → кітабы, жүрек → жүрегі, құлақ → құлағы).
_DEVOICE = {"б": "п", "г": "к", "ғ": "қ"}


def normalize(text: str) -> str:
    """Lower case, NFC, ё read as е (Russian writing drops the dots freely)."""
    return unicodedata.normalize("NFC", text).lower().replace("ё", "е")


def words(text: str) -> Iterator[re.Match[str]]:
    """The words of a normalized text, with their places."""
    for m in WORD.finditer(text):
        if m.group().isalpha() or m.group().isascii():
            yield m


@functools.lru_cache(maxsize=200_000)
def kazakh_stem(word: str) -> str:
    stem = word
    for layer in _LAYERS:
        for suffix in layer:
            least = _MIN_STEM + (1 if len(suffix) == 1 else 0)
            if stem.endswith(suffix) and len(stem) - len(suffix) >= least:
                stem = stem[:-len(suffix)]
                break
    if len(stem) > _MIN_STEM and stem[-1] in _DEVOICE:
        stem = stem[:-1] + _DEVOICE[stem[-1]]
    return stem


@functools.lru_cache(maxsize=200_000)
def russian_stem(word: str) -> str:
    return _RUSSIAN.stemWord(word)


def word_stems(word: str, language: str | None) -> tuple[str, ...]:
    """The stems one normalized word is indexed (or searched) under. ``language`` None: a
    query word, which may be either language."""
    word = word[:MAX_WORD]
    if not word.isalpha():
        return (word,)
    if not _is_cyrillic(word):
        return (word,)
    if KAZAKH_LETTERS.intersection(word) or language == "kk":
        return (kazakh_stem(word),)
    if language == "ru":
        return (russian_stem(word),)
    ru, kk = russian_stem(word), kazakh_stem(word)
    return (ru,) if ru == kk else (ru, kk)


def _is_cyrillic(word: str) -> bool:
    return all("\u0400" <= c <= "\u04ff" for c in word)


def terms(text: str, language: str | None) -> str:
    """The stems of every word of a text, space-separated, in order (what the index holds)."""
    out: list[str] = []
    for m in words(normalize(text)):
        out.extend(word_stems(m.group(), language))
    return " ".join(out)


def query_groups(text: str, max_terms: int) -> list[tuple[str, ...]]:
    """A query's words as groups of alternative stems (any stem of a group matches that
    word; every group must match), repeated words once, at most ``max_terms`` groups."""
    groups: list[tuple[str, ...]] = []
    for m in words(normalize(text)):
        g = word_stems(m.group(), None)
        if g not in groups:
            groups.append(g)
        if len(groups) == max_terms:
            break
    return groups
