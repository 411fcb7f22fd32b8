"""Re-transcription by a second model: the secretary's request, how far it is, and the
decision on each proposal (accepted: the secretary's correction naming the model; rejected:
a revision that changes nothing). Only the hearing's secretary and judge start or decide."""

from __future__ import annotations

from hearing.access import is_assigned, load_hearing, load_managed, require_editor
from hearing.errors import Conflict, Unprocessable
from hearing.retranscription import ENDING, job_rows
from hearing.roles import Caller
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.transcripts import Draft
from stenogram import Revision, RevisionError, Transcript


def _request(tx: Tx, hearing_id: int, model: str) -> None:
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_editor(tx.me, h)
    if h.state != "closed":
        raise Conflict("a hearing's recordings are re-transcribed once it is closed",
                       code="not_closed")
    rows = job_rows(tx.s, hearing_id)
    if rows and rows[-1].action not in ENDING:
        raise Conflict("a re-transcription of this hearing is under way", code="running")
    tx.audit(h, "retranscription.queued", {"model": model, "on": "request"})


async def request(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """Queue the hearing's recordings for the configured model."""
    jobs = state.retranscription
    if not jobs.enabled:
        raise Conflict("no re-transcription model is configured (retranscribe_model_dir)",
                       code="not_configured")
    await state.transaction(caller, _request, hearing_id, jobs.model_label)
    jobs.submit(hearing_id)
    return await status(state, caller, hearing_id)


def _job(tx: Tx, hearing_id: int, enabled: bool) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    rows = job_rows(tx.s, hearing_id)
    ended = not rows or rows[-1].action in ENDING
    startable = enabled and ended and h.state == "closed" and is_assigned(tx.me, h)
    if not rows:
        return {"state": "none", "model": None, "sources_done": [], "error": None,
                "startable": startable}
    last = rows[-1].action
    return {"state": {"retranscription.done": "done",
                      "retranscription.failed": "failed"}.get(last, "queued"),
            "startable": startable, "model": rows[0].data.get("model"),
            "sources_done": [r.data.get("source_id") for r in rows
                             if r.action == "retranscription.source"],
            "error": rows[-1].data.get("error") if last == "retranscription.failed" else None}


def proposal_json(t: Transcript, rev: Revision) -> dict:
    seg = t.segment(rev.payload["segment_id"])
    return {"seq": rev.seq, "segment_id": seg.segment_id, "source_id": seg.source_id,
            "start_ms": seg.start_ms, "end_ms": seg.end_ms, "text": seg.text,
            "proposed": rev.payload["text"], "model": rev.author.removeprefix("asr:"),
            "at": rev.at}


async def status(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The latest job (stored state, and live progress while it runs here), whether the caller
    may start one now, and the proposals still to decide."""
    job = await state.transaction(caller, _job, hearing_id, state.retranscription.enabled)
    live = state.retranscription.progress.get(hearing_id)
    progress = 1.0 if job["state"] == "done" else 0.0
    # live progress only while it runs: its end is read from the stored rows, with the rest
    # of the answer (read just before, they may not hold it yet: then it is still running)
    if live is not None and job["state"] == "queued" and live.state in ("queued", "running"):
        job["state"], progress = live.state, live.progress
        job["source_id"] = live.source_id
    t = await state.transcripts.get(hearing_id)
    return {**{"source_id": None}, **job, "progress": round(progress, 3),
            "proposals": [proposal_json(t, r) for r in t.proposals()]}


def _decide(tx: Tx, hearing_id: int, seq: int, accept: bool, reason: str,
            draft: Draft) -> Revision:
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_editor(tx.me, h)
    try:
        rev = draft.apply(tx.s, lambda t: t.accept_proposal(seq, author=tx.me.actor)
                          if accept else t.reject_proposal(seq, author=tx.me.actor,
                                                           reason=reason))
    except RevisionError as exc:
        raise Unprocessable(str(exc), code="cannot_apply") from None
    tx.audit(h, "transcript.revise", {"seq": rev.seq, "kind": rev.kind, "hash": rev.hash,
                                      "proposal_seq": seq})
    return rev


async def decide(state: AppState, caller: Caller, hearing_id: int, seq: int, accept: bool,
                 reason: str = "") -> dict:
    """Accept (the model's text becomes the secretary's correction) or reject a proposal."""
    rev = await state.transcripts.change(hearing_id, lambda draft: state.transaction(
        caller, _decide, hearing_id, seq, accept, reason, draft))
    t = await state.transcripts.get(hearing_id)
    state.hub.publish(hearing_id, {"type": "revision", "seq": rev.seq, "kind": rev.kind,
                                   "head_hash": t.head_hash}, staff_only=True)
    return {"revision": rev.to_dict(), "head_hash": t.head_hash,
            "proposals": [proposal_json(t, r) for r in t.proposals()]}
