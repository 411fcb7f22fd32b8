"""The judge's and secretary's log notes on the hearing clock: add one (or a correction that
replaces an earlier one), and list them."""

from __future__ import annotations

from typing import get_args

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import AT, INT, OPT_INT, STR, paged, record
from hearing.models import NoteRole
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import notes

NEW_NOTE = schema("NewNote", {
    "type": "object", "additionalProperties": False, "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": notes.MAX_TEXT},
        "at_ms": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1,
                  "description": "hearing-clock time of the note; default: now"},
        "replaces": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                     "description": "id of the note this one corrects"}}})
NOTE = record("HearingNote", {
    "id": INT, "hearing_id": INT, "at_ms": INT, "role": {"enum": list(get_args(NoteRole))},
    "author_id": INT, "author": STR, "text": STR, "replaces": OPT_INT, "replaced_by": OPT_INT,
    "created_at": AT})
NOTES = schema("HearingNotes", paged(NOTE, "notes"))


@endpoint("POST", "/api/hearings/{hearing_id}/notes",
          summary="Add a log note at a hearing-clock time (or correct an earlier one)",
          body=NEW_NOTE, response=NOTE, status=201,
          responses={201: "note stored", 404: "no such note to replace",
                     409: "the hearing has no clock yet, or the note was already replaced"})
async def add_note(call: Call, hearing_id: int, body: dict) -> dict:
    return await notes.add(call.state, call.me, hearing_id, body)


@endpoint("GET", "/api/hearings/{hearing_id}/notes",
          summary="The hearing's log notes in the order written, corrected ones too (paged)",
          response=NOTES, query=PAGE_QUERY)
async def list_notes(call: Call, hearing_id: int, query: dict) -> dict:
    return await notes.list_notes(call.state, call.me, hearing_id,
                                  PageRequest.from_query(query))
