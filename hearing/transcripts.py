"""The hearing's transcript as stored: the stenogram revision chain in the database, one row per
revision, with the folded current state cached per hearing.

Machine finals and the secretary's corrections go through the same per-hearing lock, so the
chain stays linear. A change is worked out on a draft copy and written in the caller's
transaction; the cache takes the draft only once that transaction has committed, so memory
never shows a revision the database does not hold. The unique (hearing_id, seq) constraint
catches a second server writing the same hearing: the cache is dropped and the caller gets 409."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearing.db import Database
from hearing.errors import Conflict, DomainError
from hearing.models import AudioSource, Participant, TranscriptRevision
from stenogram import Revision, RevisionError, Segment, Transcript

T = TypeVar("T")


class TranscriptConflict(Conflict):
    """Another writer extended the chain first; reload and try again."""


def revision_docs(s: Session, hearing_id: int) -> list[dict]:
    """The stored chain, oldest first."""
    return [r.doc for r in s.execute(
        select(TranscriptRevision).where(TranscriptRevision.hearing_id == hearing_id)
        .order_by(TranscriptRevision.seq)).scalars()]


def append_revision(s: Session, hearing_id: int, rev: Revision) -> None:
    """Write one revision in the caller's transaction, flushed at once: a link another writer
    stored first is refused here as a conflict."""
    s.add(TranscriptRevision(hearing_id=hearing_id, seq=rev.seq, kind=rev.kind,
                             author=rev.author, doc=rev.to_dict(), hash=rev.hash))
    try:
        s.flush()
    except IntegrityError:
        raise TranscriptConflict("the transcript changed meanwhile; reload") from None


def apply_change(t: Transcript, change: dict, author: str) -> Revision:
    """One correction (the API's TranscriptChange) as the next revision of ``t``."""
    kind, reason = change["kind"], change.get("reason", "")
    if kind == "edit_text":
        return t.edit_text(change["segment_id"], change["text"], author=author, reason=reason)
    if kind == "set_speaker":
        return t.set_speaker(change["segment_id"], change["speaker"], author=author,
                             reason=reason)
    if kind == "split":
        return t.split(change["segment_id"], change["at_word"], author=author, reason=reason)
    if kind == "merge":
        return t.merge(change["segment_ids"], author=author, reason=reason)
    if kind == "restore":
        return t.restore(change["segment_id"], change["to_seq"], author=author, reason=reason)
    raise RevisionError(f"unknown change {kind!r}")


def _copy(t: Transcript) -> Transcript:
    """A copy to change (revisions and segments are immutable: copying the containers will do)."""
    d = Transcript()
    d.revisions = list(t.revisions)
    d.state = dict(t.state)
    return d


@dataclass
class Draft:
    """One transaction's change to a hearing's transcript: a copy of the cached transcript (or
    of the chain as read in that transaction), to which its revisions are added and written."""

    hearing_id: int
    base: Transcript | None
    transcript: Transcript | None = None

    def open(self, s: Session) -> Transcript:
        if self.transcript is None:
            base = self.base
            if base is None:  # checked on load: a chain edited in the database refuses to fold
                base = Transcript.from_dicts(revision_docs(s, self.hearing_id), check=True)
            self.transcript = _copy(base)
        return self.transcript

    def apply(self, s: Session, op: Callable[[Transcript], Revision]) -> Revision:
        """Add the revision ``op`` makes to the draft and write it in this transaction."""
        rev = op(self.open(s))  # raises RevisionError before anything is written
        append_revision(s, self.hearing_id, rev)
        return rev


class TranscriptStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[int, Transcript] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        #: Run in the transaction of each machine final before it is written: the live
        #: owner's fence (hearing.live.hearings), so a node that lost the hearing stores none.
        self.check_final: Callable[[Session, int], None] | None = None

    def _lock(self, hearing_id: int) -> asyncio.Lock:
        return self._locks.setdefault(hearing_id, asyncio.Lock())

    async def get(self, hearing_id: int) -> Transcript:
        """The current transcript. Never changed in place: a reader may keep it."""
        async with self._lock(hearing_id):
            t = self._cache.get(hearing_id)
            if t is None:
                rows = await self.db.run(lambda s: revision_docs(s, hearing_id))
                t = Transcript.from_dicts(rows, check=True)
                if rows:  # no entry for ids that have no transcript (or no hearing)
                    self._cache[hearing_id] = t
            return t

    async def change(self, hearing_id: int, commit: Callable[[Draft], Awaitable[T]]) -> T:
        """Run ``commit(draft)``: ONE database transaction that adds its revisions with
        ``draft.apply`` (and nothing after its commit that could fail). The draft becomes the
        cached transcript only once that transaction committed; a refusal before the commit
        leaves the cache as it was, anything else (a conflict, a failed or interrupted commit)
        drops it."""
        async with self._lock(hearing_id):
            draft = Draft(hearing_id, self._cache.get(hearing_id))
            try:
                result = await commit(draft)
            except TranscriptConflict:
                self._cache.pop(hearing_id, None)
                raise
            except (DomainError, RevisionError):
                raise  # refused before the commit: the database is as the cache says
            except BaseException:
                self._cache.pop(hearing_id, None)  # memory and database must not disagree
                raise
            if draft.transcript is not None:
                self._cache[hearing_id] = draft.transcript
            return result

    async def add_final(self, hearing_id: int, seg: Segment) -> Segment:
        """Store an asr final (hearing.live.transcription.machine_segment) as an immutable
        machine segment."""

        def work(s: Session, draft: Draft) -> Revision:
            if self.check_final is not None:
                self.check_final(s, hearing_id)
            return draft.apply(s, lambda t: t.add_machine_segment(seg))

        async def commit(draft: Draft) -> Revision:
            return await self.db.run(lambda s: work(s, draft))
        await self.change(hearing_id, commit)
        return seg


def speakers(s: Session, hearing_id: int) -> dict[str, dict]:
    """Speaker keys (the audio source keys segments carry) to what a reader needs: the
    person's name when known, else the seat's label, and the role; the language the source
    is transcribed in when it has its own, and an interpreter's language of interpretation."""
    out = {}
    parts = {p.id: p for p in s.execute(select(Participant).where(
        Participant.hearing_id == hearing_id)).scalars()}
    for src in s.execute(select(AudioSource).where(AudioSource.hearing_id == hearing_id)
                         .order_by(AudioSource.id)).scalars():
        p = parts.get(src.participant_id) if src.participant_id else None
        out[src.key] = {"key": src.key, "label": p.display_name if p else src.label,
                        "role": p.role if p else (src.seat or "seat"),
                        "participant_id": p.id if p else None, "seat": src.seat,
                        "language": src.language,
                        "interpretation": (p.interprets_into if p and p.role == "interpreter"
                                           else None)}
    return out


def speaker_of(key: str | None, known: dict[str, dict]) -> dict:
    if key and key in known:
        return known[key]
    return {"key": key, "label": key or "?", "role": None, "participant_id": None, "seat": None,
            "language": None, "interpretation": None}
