"""Finding documents: a query's words stemmed like the index, matched through the full-text
index, only in the cases the caller may see, best first; and the snippet that shows the
matched words."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.access import cases_visible_to
from hearing.closures import search_visible
from hearing.errors import bad_request
from hearing.models import Case, SearchDoc
from hearing.roles import Caller
from hearing.search import fts
from hearing.search.stems import WORD, normalize, query_groups, word_stems


@dataclass(frozen=True)
class SearchLimits:
    #: Longer query text is refused (the HTTP edge declares the same bound).
    max_chars: int = 200
    #: Words after this many are not searched for.
    max_terms: int = 12
    #: A snippet shows about this many characters around the first matched word.
    snippet_chars: int = 240


LIMITS = SearchLimits()


@dataclass(frozen=True)
class Hit:
    doc: SearchDoc
    case_number: str


@dataclass(frozen=True)
class Found:
    hits: list[Hit]
    more: bool
    groups: list[tuple[str, ...]]


def parse(text: str, limits: SearchLimits = LIMITS) -> list[tuple[str, ...]]:
    if len(text) > limits.max_chars:
        raise bad_request(f"q: at most {limits.max_chars} characters", field="q")
    groups = query_groups(text, limits.max_terms)
    if not groups:
        raise bad_request("q: type at least one word to search for", field="q")
    return groups


def search(s: Session, caller: Caller, text: str, *, case_id: int | None = None,
           kind: str | None = None, offset: int = 0, limit: int = 20,
           limits: SearchLimits = LIMITS) -> Found:
    """The page of matching documents at ``offset`` in rank order, from the cases the caller
    may see (never another case's, whatever the filters say)."""
    groups = parse(text, limits)
    q = select(SearchDoc, Case.number).join(Case, Case.id == SearchDoc.case_id).where(
        cases_visible_to(caller), search_visible(caller))  # closed parts: hearing.closures
    if case_id is not None:
        q = q.where(SearchDoc.case_id == case_id)
    if kind is not None:
        q = q.where(SearchDoc.kind == kind)
    q, rank = fts.matching(q, s.get_bind().dialect.name, groups)
    rows = s.execute(q.order_by(rank, SearchDoc.id).offset(offset).limit(limit + 1)).all()
    hits = [Hit(doc, number) for doc, number in rows[:limit]]
    return Found(hits, len(rows) > limit, groups)


def _window(text: str, first: int, width: int) -> tuple[int, int]:
    """About ``width`` characters of ``text`` from a little before ``first``, cut between
    words (a word longer than the slack is cut)."""
    slack = 40
    start = max(0, first - width // 3)
    while 0 < start < first and not text[start - 1].isspace():
        start -= 1
    end = min(len(text), start + width)
    stop = min(len(text), end + slack)
    while end < stop and not text[end].isspace():
        end += 1
    return start, end


def snippet(text: str, language: str | None, groups: list[tuple[str, ...]],
            limits: SearchLimits = LIMITS) -> list[dict]:
    """The text (or, when long, the part around the first match) as parts, the matched words
    marked: [{"text", "mark"}]. Plain text: the page shows it as text, never as markup."""
    wanted = {stem for g in groups for stem in g}
    marks = [(m.start(), m.end()) for m in WORD.finditer(text)
             if wanted.intersection(word_stems(normalize(m.group()), language))]
    start, end = 0, len(text)
    if len(text) > limits.snippet_chars:
        start, end = _window(text, marks[0][0] if marks else 0, limits.snippet_chars)
    parts: list[dict] = [{"text": "…", "mark": False}] if start > 0 else []
    at = start
    for a, b in marks:
        if a < start or b > end:
            continue
        if a > at:
            parts.append({"text": text[at:a], "mark": False})
        parts.append({"text": text[a:b], "mark": True})
        at = b
    if end > at:
        parts.append({"text": text[at:end], "mark": False})
    if end < len(text):
        parts.append({"text": "…", "mark": False})
    return parts
