"""The hearing's recordings for the secretary's editor: one playable Ogg Opus per source once
the hearing is closed (offset t in the file is hearing-clock start_ms + t, silent where its
gaps are), and the closed two-second chunks while it is still running; and the media health
of a running hearing, for a console that connects while it runs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hearing.access import load_managed
from hearing.errors import Forbidden, not_found
from hearing.models import Hearing, Recording, RecordingChunk
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.services import redactions
from hearing.services.closures import record_view
from hearing.services.fixity import check_before_serving
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.transcripts import speaker_of, speakers
from media.seat_recorder import source_of_recording


def _entry(hearing_id: int, rid: str, source: str, known: dict[str, dict], start_ms: int,
           end_ms: int, sha256: str, content_type: str, gaps: list[dict] = ()) -> dict:
    return {"id": rid, "source_id": source, "label": speaker_of(source, known)["label"],
            "start_ms": start_ms, "end_ms": end_ms, "sha256": sha256,
            "content_type": content_type,
            "url": f"/api/hearings/{hearing_id}/recordings/{rid}/audio",
            "gaps": [[g["start_ms"], g["end_ms"]] for g in gaps]}


def _list(tx: Tx, hearing_id: int, req: PageRequest) -> tuple[list[dict], str | None]:
    s = tx.s
    h = load_managed(s, hearing_id, tx.me)
    seen = record_view(tx, hearing_id)
    entries, cursor = _page(tx, hearing_id, req)
    entries = _redacted(tx, h, entries)
    # a recording that reaches into a closed part above the caller's level is not listed
    return [e for e in entries if seen.withheld(e["start_ms"], e["end_ms"]) is None], cursor


def _redacted(tx: Tx, h: Hearing, entries: list[dict]) -> list[dict]:
    """A redacted record, below "sealed": each finished recording is its silenced copy, and
    the chunks (never silenced) are not listed."""
    if not redactions.sealed_from(tx.s, tx.me, h):
        return entries
    copies = redactions.served_recordings(tx.s, tx.me, h)
    return [{**e, "sha256": copies.get(e["sha256"], {}).get("sha256", e["sha256"])}
            for e in entries if e["id"].startswith("r")]


def _page(tx: Tx, hearing_id: int, req: PageRequest) -> tuple[list[dict], str | None]:
    s = tx.s
    known = speakers(s, hearing_id)
    finished = s.execute(select(Recording.id).where(Recording.hearing_id == hearing_id)
                         .limit(1)).first() is not None
    if finished:
        return page(s, select(Recording).where(Recording.hearing_id == hearing_id), Recording.id,
                    req, lambda r: _entry(hearing_id, f"r{r.id}", source_of_recording(r.source_id),
                                          known, r.start_ms, r.end_ms, r.sha256,
                                          r.content_type, r.gaps or []))
    # still running: the closed chunks, each playable on its own (a chunk never spans a gap)
    return page(s, select(RecordingChunk).where(RecordingChunk.hearing_id == hearing_id),
                RecordingChunk.id, req,
                lambda ch: _entry(hearing_id, f"c{ch.id}", source_of_recording(ch.source_id),
                                  known, ch.start_ms, ch.end_ms, ch.sha256, "audio/ogg"))


async def list_recordings(state: AppState, caller: Caller, hearing_id: int,
                          req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the per-source recordings with their place on the hearing clock (the
    chunks while the hearing runs), and the next page's cursor."""
    return await state.transaction(caller, _list, hearing_id, req)


def _file(tx: Tx, hearing_id: int, kind: str, row_id: int) -> tuple[Path, str]:
    h = load_managed(tx.s, hearing_id, tx.me)
    row = tx.s.get(Recording if kind == "r" else RecordingChunk, row_id)
    if row is None or row.hearing_id != hearing_id:
        raise not_found("no such recording")
    why = record_view(tx, hearing_id).withheld(row.start_ms, row.end_ms)
    if why is not None:
        raise Forbidden(why, code="closed_part")
    sha256 = row.sha256
    if redactions.sealed_from(tx.s, tx.me, h):
        if kind != "r":
            raise Forbidden("the record is redacted: its chunks are sealed", code="redacted")
        sha256 = redactions.served_recordings(tx.s, tx.me, h).get(sha256, {}).get(
            "sha256", sha256)
    path = tx.state.live.blobs.path_for(sha256) if kind == "r" else Path(row.path)
    if not path.is_file():
        raise not_found("the recording file is missing (run `courtroom fixity`)")
    return path, sha256


async def recording_file(state: AppState, caller: Caller, hearing_id: int,
                         recording_id: str) -> tuple[Path, str]:
    """The file and SHA-256 of one finished recording ("r<id>") or closed chunk ("c<id>") of
    the hearing; refused if its bytes no longer have that hash."""
    kind, digits = recording_id[:1], recording_id[1:]
    if (kind not in ("r", "c") or not (digits.isascii() and digits.isdigit())
            or len(digits) > 10 or not 0 < int(digits) < 2**31):
        raise not_found("no such recording")
    path, sha256 = await state.transaction(caller, _file, hearing_id, kind, int(digits))
    await check_before_serving(state, hearing_id, path, sha256,
                               {"recording_id": recording_id, "what": "recording"})
    return path, sha256


def _managed(tx: Tx, hearing_id: int) -> None:
    load_managed(tx.s, hearing_id, tx.me)


async def health(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The hearing's media health as last measured (what the ``health`` events say), for its
    staff; ``here`` false when this node does not run the hearing's media (closed, not open
    yet, or held by another node)."""
    await state.transaction(caller, _managed, hearing_id)
    found = state.live.health(hearing_id)
    if found is None:
        return {"type": "health", "at_ms": None, "server": {"state": "ok", "stalled_ms": 0},
                "sources": [], "here": False}
    return {**found, "here": True}
