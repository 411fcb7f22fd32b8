"""The transcript in the secretary's editor: the current segments with their speakers, a
correction as one new revision (written with its audit row in one transaction), and each
segment's history."""

from __future__ import annotations

from typing import TypedDict

from hearing.access import load_hearing, load_managed, require_editor
from hearing.closures import View, view
from hearing.errors import Unprocessable, bad_request, forbidden, not_found
from hearing.gaps import hearing_gaps
from hearing.paging import PageRequest, encode_cursor
from hearing.roles import Caller
from hearing.services import redactions
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.transcripts import Draft, apply_change, speaker_of, speakers
from stenogram import Revision, RevisionError, Segment, Transcript


def segment_json(seg: Segment, known: dict[str, dict]) -> dict:
    return {"id": seg.segment_id, "source_id": seg.source_id,
            "speaker": speaker_of(seg.speaker or seg.source_id, known),
            "start_ms": seg.start_ms, "end_ms": seg.end_ms, "text": seg.text,
            "words": [{"text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                       "probability": w.probability} for w in seg.words],
            "language": seg.language, "model": seg.model, "edited": seg.origin != "asr",
            "origin": seg.origin, "uncertain": seg.uncertain,
            "interpretation": seg.interpretation}


def _readable(tx: Tx, hearing_id: int) -> dict[str, dict]:
    h = load_managed(tx.s, hearing_id, tx.me)
    if redactions.sealed_from(tx.s, tx.me, h):
        raise forbidden("the record is redacted: its original text is sealed; read the "
                        "redacted protocol")
    return speakers(tx.s, hearing_id)


def _readable_gaps(tx: Tx, hearing_id: int,
                   live: list[dict] | None) -> tuple[dict[str, dict], list[dict], View]:
    known = _readable(tx, hearing_id)
    return known, hearing_gaps(tx.s, hearing_id, live), _view(tx, hearing_id)


def _view(tx: Tx, hearing_id: int) -> View:
    """What of the record the caller may see (closed parts: hearing.closures)."""
    return view(tx.s, tx.me, load_hearing(tx.s, hearing_id, tx.me))


async def current(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The transcript as it stands, with every speaker the hearing knows and the gaps in its
    audio (open ones with end_ms null)."""
    known, gaps, seen = await state.transaction(caller, _readable_gaps, hearing_id,
                                                state.live.gaps(hearing_id))
    t = await state.transcripts.get(hearing_id)
    return {"segments": [segment_json(x, known) for x in seen.segments(t.segments())],
            "head_hash": t.head_hash,
            "revision_seq": t.revisions[-1].seq if t.revisions else None,
            "speakers": list(known.values()), "gaps": gaps}


def _revise(tx: Tx, hearing_id: int, change: dict,
            draft: Draft) -> tuple[Revision, dict[str, dict], Transcript]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_editor(tx.me, h)
    known = speakers(tx.s, hearing_id)
    if change["kind"] == "set_speaker" and change["speaker"] not in known:
        raise bad_request("speaker: not a participant or seat of this hearing", field="speaker")
    try:
        t = draft.open(tx.s)
        rev = draft.apply(tx.s, lambda t: apply_change(t, change, tx.me.actor))
    except RevisionError as exc:
        raise Unprocessable(str(exc), code="cannot_apply") from None
    tx.audit(h, "transcript.revise", {"seq": rev.seq, "kind": rev.kind, "hash": rev.hash})
    return rev, known, t


async def revise(state: AppState, caller: Caller, hearing_id: int, change: dict) -> dict:
    """A correction by the hearing's secretary or judge: the check, the new revision and its
    audit row commit together; the machine text stays in the chain."""
    rev, known, t = await state.transcripts.change(
        hearing_id, lambda draft: state.transaction(caller, _revise, hearing_id, change, draft))
    state.hub.publish(hearing_id, {"type": "revision", "seq": rev.seq, "kind": rev.kind,
                                   "head_hash": t.head_hash}, staff_only=True)
    return {"revision": rev.to_dict(),
            "segments": [segment_json(x, known) for x in t.segments()],
            "head_hash": t.head_hash}


class HistoryFilters(TypedDict, total=False):
    kind: str


async def history(state: AppState, caller: Caller, hearing_id: int, segment_id: str,
                  f: HistoryFilters, req: PageRequest) -> dict:
    """Every revision that made or changed a segment, oldest first, paged by the revision's
    number in the hearing's chain."""
    await state.transaction(caller, _readable, hearing_id)
    seen = await state.transaction(caller, _view, hearing_id)
    t = await state.transcripts.get(hearing_id)
    try:
        revs = t.history(segment_id)
    except (KeyError, RevisionError):
        raise not_found("no such segment") from None
    now = [x for x in t.segments() if x.segment_id == segment_id]
    if not revs or (now and not seen.segments(now)):
        raise not_found("no such segment")
    rest = [r for r in revs if (req.after is None or r.seq > req.after)
            and ("kind" not in f or r.kind == f["kind"])]
    shown = rest[:req.limit]
    return {"revisions": [r.to_dict() for r in shown],
            "next_cursor": encode_cursor(shown[-1].seq) if len(rest) > req.limit else None}
