"""Search over signed stenograms, evidence transcripts and case records, for staff and party
accounts: ranked results from the cases the caller may see, each with its snippet and the
links to the hearing, the segment and the moment in the recording; and rebuilding the index.

Paging is by rank position: the cursor (hearing.paging) carries how many results came
before, up to MAX_OFFSET (a search that needs more pages needs more words)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.errors import bad_request
from hearing.models import Hearing, SearchDoc
from hearing.paging import decode_cursor, encode_cursor
from hearing.roles import Caller
from hearing.search import index, query
from hearing.state import AppState
from hearing.transaction import Tx

DEFAULT_LIMIT = 20
MAX_OFFSET = 1000


def _links(caller: Caller, doc: SearchDoc, judge_of: dict[int, int]) -> dict:
    hid = doc.hearing_id
    links: dict = {"case": f"/api/cases/{doc.case_id}", "hearing": None, "segment": None,
                   "moment": None}
    if hid is None:
        return links
    links["hearing"] = f"/api/hearings/{hid}"
    if doc.kind == "segment":
        segment_id = doc.ref.split(":", 1)[1]
        links["segment"] = f"/api/hearings/{hid}/transcript/segments/{segment_id}/history"
        if caller.kind == "staff":
            page = "judge" if judge_of.get(hid) == caller.user_id else "secretary"
            links["moment"] = f"/{page}/{hid}#t={doc.clock_ms}"
        else:
            links["moment"] = f"/api/hearings/{hid}/recordings#t={doc.clock_ms}"
    elif doc.kind == "evidence":
        evidence_id = doc.ref.split(":", 1)[0]
        links["segment"] = f"/api/hearings/{hid}/evidence/{evidence_id}"
        seconds = (doc.clock_ms or 0) / 1000
        links["moment"] = f"/api/hearings/{hid}/evidence/{evidence_id}/playback#t={seconds:g}"
    return links


def _search(s: Session, caller: Caller, text: str, case_id: int | None, kind: str | None,
            offset: int, limit: int) -> dict:
    found = query.search(s, caller, text, case_id=case_id, kind=kind, offset=offset,
                         limit=limit)
    hearing_ids = {h.doc.hearing_id for h in found.hits if h.doc.hearing_id is not None}
    judge_of = dict(s.execute(select(Hearing.id, Hearing.judge_id).where(
        Hearing.id.in_(hearing_ids))).all()) if hearing_ids else {}
    results = [{
        "kind": h.doc.kind, "case_id": h.doc.case_id, "case_number": h.case_number,
        "hearing_id": h.doc.hearing_id, "version": h.doc.version, "clock_ms": h.doc.clock_ms,
        "language": h.doc.language,
        "snippet": query.snippet(h.doc.text, h.doc.language, found.groups),
        "links": _links(caller, h.doc, judge_of)} for h in found.hits]
    after = offset + len(results)
    more = found.more and after < MAX_OFFSET
    return {"results": results, "next_cursor": encode_cursor(after) if more else None}


async def search(state: AppState, caller: Caller, text: str, *, case_id: int | None = None,
                 kind: str | None = None, cursor: str | None = None,
                 limit: int = DEFAULT_LIMIT) -> dict:
    """One page of results, best first: {"results": [...], "next_cursor"}."""
    offset = decode_cursor(cursor) or 0
    if offset >= MAX_OFFSET:
        raise bad_request(f"cursor: results are paged up to the first {MAX_OFFSET}; "
                          "narrow the search", field="cursor")

    def read() -> dict:
        # a read-only snapshot on its own connection, beside the database's writer thread:
        # a search over a common word never holds up a hearing's writes (SQLite WAL readers
        # do not block the writer)
        with state.db.sessions() as s:
            return _search(s, caller, text, case_id, kind, offset,
                           min(limit, MAX_OFFSET - offset))
    return await asyncio.get_running_loop().run_in_executor(None, read)


def _reindex(tx: Tx) -> index.Reindexed:
    return index.reindex_all(tx.s)


async def reindex(state: AppState) -> index.Reindexed:
    """Rebuild every search document from the record (the operator's command line)."""
    return await state.transaction(None, _reindex)
