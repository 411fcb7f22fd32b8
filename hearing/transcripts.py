"""The hearing's transcript as stored: the stenogram revision chain in the database, one row per
revision, with the folded current state cached per hearing.

Machine finals and the secretary's corrections go through the same per-hearing lock, so the
chain stays linear; the unique (hearing_id, seq) constraint catches a second server writing
the same hearing, in which case the cache is dropped and the caller retries or gets 409."""

from __future__ import annotations

import asyncio
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearing.db import Database
from hearing.models import AudioSource, Participant, TranscriptRevision
from stenogram import Revision, RevisionError, Segment, Transcript, segment_from_final


class TranscriptConflict(Exception):
    """Another writer extended the chain first; reload and try again."""


class TranscriptStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[int, Transcript] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def lock(self, hearing_id: int) -> asyncio.Lock:
        return self._locks.setdefault(hearing_id, asyncio.Lock())

    async def _load(self, hearing_id: int) -> Transcript:
        t = self._cache.get(hearing_id)
        if t is None:
            rows = await self.db.run(lambda s: [r.doc for r in s.execute(
                select(TranscriptRevision).where(TranscriptRevision.hearing_id == hearing_id)
                .order_by(TranscriptRevision.seq)).scalars()])
            # Checked on load: a chain edited in the database refuses to fold.
            t = self._cache[hearing_id] = Transcript.from_dicts(rows, check=True)
        return t

    async def get(self, hearing_id: int) -> Transcript:
        async with self.lock(hearing_id):
            return await self._load(hearing_id)

    async def _apply(self, hearing_id: int, op: Callable[[Transcript], Revision]) -> Revision:
        async with self.lock(hearing_id):
            t = await self._load(hearing_id)
            rev = op(t)  # raises RevisionError before anything changes
            row = TranscriptRevision(hearing_id=hearing_id, seq=rev.seq, kind=rev.kind,
                                     author=rev.author, doc=rev.to_dict(), hash=rev.hash)
            try:
                await self.db.run(lambda s: s.add(row))
            except IntegrityError:
                self._cache.pop(hearing_id, None)
                raise TranscriptConflict("the transcript changed meanwhile; reload") from None
            except BaseException:
                self._cache.pop(hearing_id, None)  # memory and database must not disagree
                raise
            return rev

    async def add_final(self, hearing_id: int, event: dict, speaker: str | None) -> Segment:
        """Store an asr final as an immutable machine segment."""
        seg = segment_from_final(event, speaker=speaker)
        await self._apply(hearing_id, lambda t: t.add_machine_segment(seg))
        return seg

    async def revise(self, hearing_id: int, change: dict, author: str) -> Revision:
        kind, reason = change["kind"], change.get("reason", "")

        def op(t: Transcript) -> Revision:
            if kind == "edit_text":
                return t.edit_text(change["segment_id"], change["text"], author=author,
                                   reason=reason)
            if kind == "set_speaker":
                return t.set_speaker(change["segment_id"], change["speaker"], author=author,
                                     reason=reason)
            if kind == "split":
                return t.split(change["segment_id"], change["at_word"], author=author,
                               reason=reason)
            if kind == "merge":
                return t.merge(change["segment_ids"], author=author, reason=reason)
            if kind == "restore":
                return t.restore(change["segment_id"], change["to_seq"], author=author,
                                 reason=reason)
            raise RevisionError(f"unknown change {kind!r}")
        return await self._apply(hearing_id, op)

    def forget(self, hearing_id: int) -> None:
        self._cache.pop(hearing_id, None)


def speakers(s: Session, hearing_id: int) -> dict[str, dict]:
    """Speaker keys (the audio source keys segments carry) to what a reader needs: the
    person's name when known, else the seat's label, and the role."""
    out = {}
    parts = {p.id: p for p in s.execute(select(Participant).where(
        Participant.hearing_id == hearing_id)).scalars()}
    for src in s.execute(select(AudioSource).where(AudioSource.hearing_id == hearing_id)
                         .order_by(AudioSource.id)).scalars():
        p = parts.get(src.participant_id) if src.participant_id else None
        out[src.key] = {"key": src.key, "label": p.display_name if p else src.label,
                        "role": p.role if p else (src.seat or "seat"),
                        "participant_id": p.id if p else None, "seat": src.seat}
    return out


def speaker_of(key: str | None, known: dict[str, dict]) -> dict:
    if key and key in known:
        return known[key]
    return {"key": key, "label": key or "?", "role": None, "participant_id": None, "seat": None}
