"""Log notes: the hearing's judge and secretary note what happens at a moment of the hearing
clock (FTR-style annotations). A note is never speech and never changes: a correction is a
new note that replaces an earlier one, which stays in the history. Each note is written with
its audit row in one transaction and announced to the staff consoles."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ColumnElement, exists, false, select

from hearing.access import is_assigned, load_hearing, load_managed
from hearing.audit import iso_utc
from hearing.closures import allowed_levels, level_at, spans_of, strictest
from hearing.errors import bad_request, conflict, forbidden, not_found
from hearing.models import ClosedSpan, Hearing, HearingNote, NoteRole
from hearing.notes import note_sha256
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.state import AppState
from hearing.transaction import Tx

#: The longest note, in characters (after the edge has cleaned it).
MAX_TEXT = 2000


def note_json(n: HearingNote, replaced_by: int | None = None) -> dict:
    return {"id": n.id, "hearing_id": n.hearing_id, "at_ms": n.at_ms, "role": n.role,
            "author_id": n.author_id, "author": n.author_name, "text": n.text,
            "replaces": n.replaces, "replaced_by": replaced_by,
            "created_at": iso_utc(n.created_at)}


def _author_role(caller: Caller, h: Hearing) -> NoteRole:
    """Notes are the presiding judge's and the secretary's, written on the server's check."""
    if not is_assigned(caller, h):
        raise forbidden("only the judge or the secretary of this hearing may write notes")
    return "judge" if caller.user_id == h.judge_id else "secretary"


def clock_end(tx: Tx, h: Hearing) -> int:
    """The latest moment a note or a closed span may name: now on the hearing clock, or its
    close."""
    if h.opened_at is None or h.state == "cancelled":
        raise conflict("the hearing has not taken place: its clock has not started",
                       code="no_clock")
    now = tx.state.clock_ms(h)
    assert now is not None
    if h.closed_at is not None and h.state == "closed":
        opened = h.opened_at.replace(tzinfo=h.opened_at.tzinfo or timezone.utc)
        closed = h.closed_at.replace(tzinfo=h.closed_at.tzinfo or timezone.utc)
        now = min(now, int((closed - opened).total_seconds() * 1000))
    return now


def _replaced(tx: Tx, h: Hearing, note_id: int) -> HearingNote:
    old = tx.s.get(HearingNote, note_id)
    if old is None or old.hearing_id != h.id:
        raise not_found("no such note in this hearing")
    if old.author_id != tx.me.user_id:
        raise forbidden("only the author of a note may correct it")
    later = tx.s.execute(select(HearingNote.id).where(HearingNote.replaces == note_id)).first()
    if later is not None:
        raise conflict(f"note {note_id} was already replaced by note {later[0]}",
                       replaced_by=later[0])
    return old


def _add(tx: Tx, hearing_id: int, body: dict) -> tuple[dict, str]:
    """The note, and its level (the hearing's, or a closed part's over its moment): who may
    be told of it live."""
    h = load_hearing(tx.s, hearing_id, tx.me)
    role = _author_role(tx.me, h)
    text = body["text"].strip()
    if not text:
        raise bad_request("text: a note needs some text", field="text")
    if len(text) > MAX_TEXT:
        raise bad_request(f"text: at most {MAX_TEXT} characters", field="text")
    end = clock_end(tx, h)
    at_ms = body.get("at_ms", end)
    if at_ms > end:
        raise bad_request("at_ms: a note cannot be later than the hearing clock now",
                          field="at_ms")
    replaces = body.get("replaces")
    if replaces is not None:
        _replaced(tx, h, replaces)
    n = HearingNote(hearing_id=h.id, at_ms=at_ms, author_id=tx.me.user_id,
                    author_name=tx.me.name, role=role, text=text, replaces=replaces,
                    created_at=datetime.now(timezone.utc))
    tx.s.add(n)
    tx.s.flush()
    tx.audit(h, "note.add", {"note_id": n.id, "at_ms": n.at_ms, "role": role,
                             "replaces": replaces, "sha256": note_sha256(n)})
    return note_json(n), strictest(h.access_level or "public",
                                   level_at(spans_of(tx.s, h.id), n.at_ms))


async def add(state: AppState, caller: Caller, hearing_id: int, body: dict) -> dict:
    """A note at ``at_ms`` (default: now on the hearing clock), or the correction of an
    earlier one (``replaces``); announced to the staff consoles once stored."""
    note, level = await state.transaction(caller, _add, hearing_id, body)
    state.hub.publish(hearing_id, {"type": "note", "note": note, "level": level},
                      staff_only=True)
    return note


def _visible(caller: Caller, h: Hearing) -> ColumnElement[bool]:
    """The notes the caller may read: none of a hearing above the caller's level, none inside
    a closed part above it (hearing.closures.level_at, as a condition)."""
    allowed = allowed_levels(caller, h)
    if (h.access_level or "public") not in allowed:
        return false()
    return ~exists().where(ClosedSpan.hearing_id == h.id,
                           ClosedSpan.level.not_in(sorted(allowed)),
                           ClosedSpan.start_ms <= HearingNote.at_ms,
                           ClosedSpan.end_ms.is_(None) | (ClosedSpan.end_ms > HearingNote.at_ms))


def _list(tx: Tx, hearing_id: int, req: PageRequest) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    replaced_by = dict(tx.s.execute(select(HearingNote.replaces, HearingNote.id).where(
        HearingNote.hearing_id == hearing_id, HearingNote.replaces.is_not(None))).all())
    notes, cursor = page(tx.s, select(HearingNote).where(HearingNote.hearing_id == hearing_id,
                                                         _visible(tx.me, h)),
                         HearingNote.id, req, lambda n: note_json(n, replaced_by.get(n.id)))
    return {"notes": notes, "next_cursor": cursor}


async def list_notes(state: AppState, caller: Caller, hearing_id: int,
                     req: PageRequest) -> dict:
    """Every note in the order written, corrected ones too (with the note that replaced
    them): the hearing's staff and the court administrator, less the notes inside closed
    parts above the caller's level."""
    return await state.transaction(caller, _list, hearing_id, req)
