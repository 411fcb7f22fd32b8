"""The judge's and secretary's log notes as the record carries them: one canonical form per
note, used for its audit row's hash and for the stenogram version, so the bundle's verifier
can match every note in a version against the audit log it was written with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.audit import iso_utc
from hearing.models import HearingNote
from stenogram.canonical import canonical_sha256


def note_doc(n: HearingNote) -> dict:
    """A note as a stenogram version holds it (and as its audit row hashes it)."""
    return {"id": n.id, "at_ms": n.at_ms, "role": n.role, "author_id": n.author_id,
            "author": n.author_name, "text": n.text, "created_at": iso_utc(n.created_at),
            "replaces": n.replaces}


def note_sha256(n: HearingNote) -> str:
    return canonical_sha256(note_doc(n))


def record_notes(s: Session, hearing_id: int) -> list[dict]:
    """Every note of the hearing in the order written, corrected ones too (the note that
    replaces one names it): what the next stenogram version carries."""
    return [note_doc(n) for n in s.execute(select(HearingNote).where(
        HearingNote.hearing_id == hearing_id).order_by(HearingNote.id)).scalars()]
