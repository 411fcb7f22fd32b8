"""Keeping the search documents in step with the record. Only what is final is searchable:
a stenogram's segments once a version carries every required signature (a newer signed
version replaces the hearing's segments), the transcript of accepted evidence, and the case's
own record (number, title, parties). Each function runs inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from hearing import stenograms
from hearing.models import Case, EvidenceItem, Hearing, Redaction, SearchDoc
from hearing.search.stems import terms
from stenogram import StenogramVersion, is_locked
from stenogram.redaction import redacted_version


def segment_ref(hearing_id: int, segment_id: str) -> str:
    return f"{hearing_id}:{segment_id}"


def evidence_ref(evidence_id: int, n: int) -> str:
    """The n-th segment of an evidence item's own transcript."""
    return f"{evidence_id}:{n}"


def _doc(*, case_id: int, hearing_id: int | None, kind: str, ref: str, text: str,
         language: str | None, clock_ms: int | None = None,
         version: int | None = None) -> dict[str, Any] | None:
    stems = terms(text, language)
    if not stems:
        return None
    return {"case_id": case_id, "hearing_id": hearing_id, "kind": kind, "ref": ref,
            "clock_ms": clock_ms, "version": version, "language": language, "text": text,
            "terms": stems}


def _insert(s: Session, docs: Iterable[dict[str, Any] | None]) -> int:
    rows = [d for d in docs if d is not None]
    if rows:
        s.execute(insert(SearchDoc), rows)
    return len(rows)


def index_version(s: Session, hearing: Hearing, version: StenogramVersion) -> int:
    """The version's segments as the hearing's searchable text, replacing an earlier signed
    version's; each stemmed in its own language (an interpreter's Kazakh in a Russian
    hearing). Returns how many were indexed."""
    s.execute(delete(SearchDoc).where(SearchDoc.hearing_id == hearing.id,
                                      SearchDoc.kind == "segment"))
    return _insert(s, (_doc(case_id=hearing.case_id, hearing_id=hearing.id, kind="segment",
                            ref=segment_ref(hearing.id, seg["segment_id"]), text=seg["text"],
                            language=seg.get("language") or hearing.language,
                            clock_ms=seg["start_ms"],
                            version=version.number)
                       for seg in version.document.get("segments", [])))


def index_record(s: Session, hearing: Hearing) -> int:
    """The hearing's searchable text: its latest version carrying every required signature,
    or, once its record has been redacted, the newest redacted copy (the original is sealed,
    and what anyone can find must be what every searcher may read; a version signed later is
    searchable once it is redacted too). Returns how many segments were indexed."""
    copy = s.execute(select(Redaction.doc).where(Redaction.hearing_id == hearing.id)
                     .order_by(Redaction.id.desc()).limit(1)).scalar_one_or_none()
    if copy is not None:
        return index_version(s, hearing, redacted_version(copy))
    signed = stenograms.signatures(s, hearing.id)
    for version in reversed(stenograms.versions(s, hearing.id)):
        if is_locked(version, signed):
            return index_version(s, hearing, version)
    return 0


def version_signed(s: Session, hearing: Hearing, version: StenogramVersion) -> None:
    """After a signature is stored: once the version carries every required signature, the
    hearing's searchable text is brought up to date."""
    if is_locked(version, stenograms.signatures(s, hearing.id)):
        index_record(s, hearing)


def index_evidence(s: Session, item: EvidenceItem) -> int:
    """An accepted evidence item's transcript, one document per transcript segment (its time
    counted from the start of the evidence file)."""
    s.execute(delete(SearchDoc).where(SearchDoc.hearing_id == item.hearing_id,
                                      SearchDoc.kind == "evidence",
                                      SearchDoc.ref.like(f"{item.id}:%")))
    if item.status != "accepted" or not item.transcript:
        return 0
    language = s.execute(select(Hearing.language).where(Hearing.id == item.hearing_id)
                         ).scalar_one()
    return _insert(s, (_doc(case_id=item.case_id, hearing_id=item.hearing_id, kind="evidence",
                            ref=evidence_ref(item.id, n), text=seg.get("text") or "",
                            language=language, clock_ms=seg.get("start_ms"))
                       for n, seg in enumerate(item.transcript)))


def case_text(case: Case) -> str:
    names = [p.display_name for p in case.parties if p.active]
    return "\n".join([case.number, case.title, *names])


def index_case(s: Session, case: Case) -> None:
    """The case's record (number, title, the parties' names): call when it changes."""
    s.execute(delete(SearchDoc).where(SearchDoc.kind == "case", SearchDoc.ref == str(case.id)))
    # names and titles come in either language
    _insert(s, [_doc(case_id=case.id, hearing_id=None, kind="case", ref=str(case.id),
                     text=case_text(case), language="kk+ru")])


@dataclass(frozen=True)
class Reindexed:
    segments: int
    evidence: int
    cases: int


def reindex_all(s: Session) -> Reindexed:
    """Rebuild every search document from the record."""
    s.execute(delete(SearchDoc))
    segments = evidence = cases = 0
    for hearing in s.execute(select(Hearing).order_by(Hearing.id)).scalars():
        segments += index_record(s, hearing)
    for item in s.execute(select(EvidenceItem).where(
            EvidenceItem.status == "accepted", EvidenceItem.transcript.is_not(None))
            .order_by(EvidenceItem.id)).scalars():
        evidence += index_evidence(s, item)
    for case in s.execute(select(Case).order_by(Case.id)).scalars():
        index_case(s, case)
        cases += 1
    return Reindexed(segments, evidence, cases)
