"""Closed parts of a hearing and access levels, as rules on records: which level a moment of the
hearing clock has (the strictest closed span over it, never below the hearing's own level),
which levels a caller may see, and the filters every reader of the record goes through
(transcript, documents, recordings, search, evidence). The signed versions stay whole: only
what a caller is served is cut."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import ColumnElement, String, and_, cast, exists, false, or_, select, true
from sqlalchemy.orm import Session

from hearing.access import case_ids_of_party, level_allowed
from hearing.errors import Forbidden
from hearing.models import (ACCESS_LEVELS, AccessLevel, ClosedSpan, EvidenceItem, Hearing,
                            Participant, SearchDoc)
from hearing.roles import Caller

#: Strictness of each level, so the strictest of several wins.
RANK = {level: n for n, level in enumerate(ACCESS_LEVELS)}

#: The one line a served copy prints where a closed part was left out, by record language.
PLACEHOLDER = {"ru": "[Закрытая часть заседания {start}–{end}]",
               "kk": "[Жабық сот отырысы бөлігі {start}–{end}]"}


def strictest(*levels: str) -> AccessLevel:
    return max(levels, key=lambda x: RANK.get(x, len(RANK)))  # type: ignore[return-value]


def spans_of(s: Session, hearing_id: int) -> list[ClosedSpan]:
    """The hearing's closed spans in the order of their start (open ones included)."""
    return list(s.execute(select(ClosedSpan).where(ClosedSpan.hearing_id == hearing_id)
                          .order_by(ClosedSpan.start_ms, ClosedSpan.id)).scalars())


def _covers(span: ClosedSpan, start_ms: int, end_ms: int) -> bool:
    """Whether the span meets [start_ms, end_ms] (a point when they are equal); an open span
    reaches to the end of the hearing."""
    if span.end_ms is not None and span.end_ms <= start_ms:
        return False
    return span.start_ms <= end_ms if start_ms == end_ms else span.start_ms < end_ms


def level_at(spans: Iterable[ClosedSpan], ms: int) -> AccessLevel:
    """The strictest span covering the moment ``ms``, else "public"."""
    return level_over(spans, ms, ms)


def level_over(spans: Iterable[ClosedSpan], start_ms: int, end_ms: int) -> AccessLevel:
    """The strictest span that meets [start_ms, end_ms], else "public": a segment or a
    recording that reaches into a closed part carries its level."""
    found = [sp.level for sp in spans if _covers(sp, start_ms, max(start_ms, end_ms))]
    return strictest("public", *found)


def allowed_levels(caller: Caller, hearing: Hearing) -> frozenset[str]:
    """The levels a caller who may view the hearing may see in it."""
    return frozenset(x for x in ACCESS_LEVELS if level_allowed(caller, hearing, x))


def may_read(caller: Caller, hearing: Hearing) -> bool:
    """The hearing's own level: its record at all (restricted: court and parties; sealed:
    its judge and secretary)."""
    return level_allowed(caller, hearing, hearing.access_level or "public")


def segment_level(hearing: Hearing, spans: Sequence[ClosedSpan], start_ms: int,
                  end_ms: int) -> AccessLevel:
    return strictest(hearing.access_level or "public", level_over(spans, start_ms, end_ms))


def visible_segments(caller: Caller, hearing: Hearing, segments: Iterable,
                     spans: Sequence[ClosedSpan]) -> list:
    """The segments (stenogram Segments or version dicts) the caller may see: those whose
    level (hearing and spans over their time) the caller holds."""
    allowed = allowed_levels(caller, hearing)
    return [seg for seg in segments
            if segment_level(hearing, spans, _get(seg, "start_ms"), _get(seg, "end_ms"))
            in allowed]


def _get(seg: object, key: str) -> int:
    return int(seg[key] if isinstance(seg, dict) else getattr(seg, key))


@dataclass(frozen=True)
class LeftOut:
    """A closed part a served copy leaves out: its span and the line printed instead."""
    start_ms: int
    end_ms: int
    text: str


def clock_text(ms: int) -> str:
    s = max(0, int(ms)) // 1000
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def public_copy(v: View, document: dict) -> tuple[dict, list[LeftOut]]:
    """A version document as this caller may be served it: the segments and notes of the
    closed parts the caller may not see left out, and for each such part the line a document
    prints in its place (also kept in the copy as ``closed_parts``). A copy: the signed
    version is never changed."""
    hidden = [sp for sp in v.spans if sp.level not in v.allowed]
    if not hidden:
        return document, []
    lang = "kk" if (document.get("hearing") or {}).get("language") == "kk" else "ru"
    everything = document.get("segments") or []
    segments = [seg for seg in everything
                if level_over(hidden, int(seg["start_ms"]), int(seg["end_ms"])) == "public"]
    end_of_record = max([int(seg["end_ms"]) for seg in everything]
                        + [sp.start_ms for sp in hidden])
    ranges: list[list[int]] = []  # overlapping parts are left out as one
    for start, end in sorted((sp.start_ms, sp.end_ms if sp.end_ms is not None
                              else end_of_record) for sp in hidden):
        if ranges and start <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], end)
        else:
            ranges.append([start, end])
    left_out = [LeftOut(start, end, PLACEHOLDER[lang].format(
        start=clock_text(start), end=clock_text(end))) for start, end in ranges]
    notes = [n for n in document.get("notes") or []
             if level_at(hidden, int(n.get("at_ms") or 0)) == "public"]
    copy = {**document, "segments": segments, "notes": notes,
            "closed_parts": [{"start_ms": x.start_ms, "end_ms": x.end_ms, "text": x.text}
                             for x in left_out]}
    return copy, left_out


@dataclass(frozen=True)
class Span:
    """A closed span as plain data (what outlives the transaction it was read in)."""
    start_ms: int
    end_ms: int | None
    level: str


@dataclass(frozen=True)
class View:
    """What one caller may be served of one hearing's record: read in a transaction, used
    after it (the transcript, documents and recordings are served outside it)."""
    hearing_level: str
    allowed: frozenset[str]
    spans: tuple[Span, ...]

    @property
    def whole(self) -> bool:
        """Nothing is withheld from this caller."""
        return self.hearing_level in self.allowed and all(
            sp.level in self.allowed for sp in self.spans)

    def level(self, start_ms: int, end_ms: int) -> str:
        return strictest(self.hearing_level, level_over(self.spans, start_ms, end_ms))

    def may_see(self, start_ms: int, end_ms: int) -> bool:
        return self.level(start_ms, end_ms) in self.allowed

    def segments(self, segments: Iterable) -> list:
        return [seg for seg in segments
                if self.may_see(_get(seg, "start_ms"), _get(seg, "end_ms"))]

    def withheld(self, start_ms: int, end_ms: int) -> str | None:
        """Why a recording over [start_ms, end_ms] is withheld, or None."""
        level = self.level(start_ms, end_ms)
        if level in self.allowed:
            return None
        return (f"this recording covers a {level} part of the hearing, which you may not "
                "hear")


def view(s: Session, caller: Caller, hearing: Hearing) -> View:
    """The caller's view of the hearing's record (the caller may view the hearing)."""
    return View(hearing.access_level or "public", allowed_levels(caller, hearing),
                tuple(Span(sp.start_ms, sp.end_ms, sp.level) for sp in spans_of(s, hearing.id)))


def require_record_level(caller: Caller, hearing: Hearing) -> None:
    """The hearing's own level, for its record: restricted, the court and the parties;
    sealed, its judge and secretary."""
    if not may_read(caller, hearing):
        raise Forbidden(f"this hearing is {hearing.access_level}: its record is not open to "
                        "you", code="hearing_closed")


# -- conditions for lists and search ------------------------------------------------------------

def _assigned_hearing(caller: Caller, hearing_id: ColumnElement) -> ColumnElement[bool]:
    """The hearing named by ``hearing_id`` is one the caller sits in as judge or secretary."""
    if caller.kind != "staff":
        return false()
    return exists().where(Hearing.id == hearing_id, (Hearing.judge_id == caller.user_id)
                          | (Hearing.secretary_id == caller.user_id))


def _restricted_ok(caller: Caller, hearing_id: ColumnElement,
                   case_id: ColumnElement) -> ColumnElement[bool]:
    """level_allowed(caller, hearing, "restricted") as a condition."""
    if caller.kind == "staff":
        return true() if caller.role == "admin" else _assigned_hearing(caller, hearing_id)
    if caller.kind == "party":
        return case_id.in_(case_ids_of_party(caller.user_id))
    return true() if caller.role != "observer" else false()


def level_ok(caller: Caller, level: ColumnElement, hearing_id: ColumnElement,
             case_id: ColumnElement) -> ColumnElement[bool]:
    """A level column the caller holds, in the hearing named by ``hearing_id``."""
    return or_(level == "public",
               and_(level == "restricted", _restricted_ok(caller, hearing_id, case_id)),
               and_(level == "sealed", _assigned_hearing(caller, hearing_id)))


def evidence_visible(caller: Caller) -> ColumnElement[bool]:
    """Evidence items whose own level the caller holds (in the item's hearing)."""
    return level_ok(caller, EvidenceItem.access_level, EvidenceItem.hearing_id,
                    EvidenceItem.case_id)


def evidence_level_ok(caller: Caller, hearing: Hearing, item: EvidenceItem) -> bool:
    """The item's level, for the caller in the item's own hearing."""
    return level_allowed(caller, hearing, item.access_level or "public")


def search_visible(caller: Caller) -> ColumnElement[bool]:
    """Search documents the caller may be shown: of a hearing whose level the caller holds,
    no segment inside a closed span above the caller's level, no evidence above it."""
    hearing_ok = exists().where(Hearing.id == SearchDoc.hearing_id, level_ok(
        caller, Hearing.access_level, Hearing.id, Hearing.case_id))
    in_closed = exists().where(
        ClosedSpan.hearing_id == SearchDoc.hearing_id,
        ClosedSpan.start_ms <= SearchDoc.clock_ms,
        ClosedSpan.end_ms.is_(None) | (ClosedSpan.end_ms > SearchDoc.clock_ms),
        ~level_ok(caller, ClosedSpan.level, ClosedSpan.hearing_id, SearchDoc.case_id))
    item_hidden = exists().where(
        EvidenceItem.hearing_id == SearchDoc.hearing_id,
        SearchDoc.ref.startswith(cast(EvidenceItem.id, String) + ":"),
        ~level_ok(caller, EvidenceItem.access_level, EvidenceItem.hearing_id,
                  EvidenceItem.case_id))
    return and_(
        SearchDoc.hearing_id.is_(None) | hearing_ok,
        ~((SearchDoc.kind == "segment") & in_closed),
        ~((SearchDoc.kind == "evidence") & item_hidden))


def require_live_admission(caller: Caller, hearing: Hearing) -> None:
    """A closed (restricted or sealed) hearing takes the court and the parties live, never
    observers or the public: its record's own level decides who reads it afterwards."""
    if (hearing.access_level or "public") != "public" and not level_allowed(
            caller, hearing, "restricted"):
        raise Forbidden("this hearing is closed: observers and the public may not join it",
                        code="hearing_closed")


# -- live: who is cut off while a closed part runs -----------------------------------------------

def participant_allowed(hearing: Hearing, participant: Participant, level: str) -> bool:
    """level_allowed for whoever holds a participant's seat: the hearing's judge and
    secretary see everything; restricted is also for every participant but an observer."""
    if level == "public":
        return True
    if participant.user_id is not None and participant.user_id in (hearing.judge_id,
                                                                   hearing.secretary_id):
        return True
    return level == "restricted" and participant.role != "observer"


def open_level(spans: Iterable[ClosedSpan]) -> AccessLevel | None:
    """The level of the closed part running now (the strictest open span), None if none."""
    running = [sp.level for sp in spans if sp.end_ms is None]
    return strictest(*running) if running else None


def span_json(sp: ClosedSpan) -> dict:
    return {"id": sp.id, "hearing_id": sp.hearing_id, "start_ms": sp.start_ms,
            "end_ms": sp.end_ms, "level": sp.level, "reason": sp.reason,
            "created_by": sp.created_by, "created_at": sp.created_at.isoformat()}


@dataclass(frozen=True)
class LiveClosure:
    """What the owner of a live hearing needs: the spans (for the level of each caption by
    its time) and the media ids to cut off now."""
    spans: list[dict]
    cut_off: list[str]


def live_closure(s: Session, hearing_id: int) -> LiveClosure:
    h = s.get(Hearing, hearing_id)
    if h is None:
        return LiveClosure([], [])
    spans = spans_of(s, hearing_id)
    level = open_level(spans)
    cut = [] if level is None else [f"p{p.id}" for p in h.participants
                                    if not participant_allowed(h, p, level)]
    return LiveClosure([{"start_ms": sp.start_ms, "end_ms": sp.end_ms, "level": sp.level}
                        for sp in spans], cut)


def caption_level(spans: Iterable[dict], start_ms: int, end_ms: int) -> AccessLevel:
    """The level of live words over [start_ms, end_ms] (spans as LiveClosure holds them)."""
    found = [sp["level"] for sp in spans
             if (sp["end_ms"] is None or sp["end_ms"] > start_ms) and sp["start_ms"] <= end_ms]
    return strictest("public", *found)
