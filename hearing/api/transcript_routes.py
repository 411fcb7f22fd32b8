"""The transcript for the secretary's editor: current segments, corrections as revisions,
and each segment's history."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import BOOL, INT, OPT_INT, OPT_STR, STR, paged, record
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import transcripts
from stenogram.revisions import EDIT_KINDS, MACHINE_KINDS

REASON = {"type": "string", "maxLength": 1000}
SEGMENT_ID = {"type": "string", "minLength": 1, "maxLength": 100}
REVISION = schema("TranscriptChange", {
    "oneOf": [
        {"type": "object", "additionalProperties": False,
         "required": ["kind", "segment_id", "text"],
         "properties": {"kind": {"const": "edit_text"}, "segment_id": SEGMENT_ID,
                        "text": {"type": "string", "minLength": 1, "maxLength": 20_000},
                        "reason": REASON}},
        {"type": "object", "additionalProperties": False,
         "required": ["kind", "segment_id", "speaker"],
         "properties": {"kind": {"const": "set_speaker"}, "segment_id": SEGMENT_ID,
                        "speaker": {"type": "string", "minLength": 1, "maxLength": 100},
                        "reason": REASON}},
        {"type": "object", "additionalProperties": False,
         "required": ["kind", "segment_id", "at_word"],
         "properties": {"kind": {"const": "split"}, "segment_id": SEGMENT_ID,
                        "at_word": {"type": "integer", "minimum": 1, "maximum": 100_000},
                        "reason": REASON}},
        {"type": "object", "additionalProperties": False, "required": ["kind", "segment_ids"],
         "properties": {"kind": {"const": "merge"},
                        "segment_ids": {"type": "array", "items": SEGMENT_ID, "minItems": 2,
                                        "maxItems": 50},
                        "reason": REASON}},
        {"type": "object", "additionalProperties": False,
         "required": ["kind", "segment_id", "to_seq"],
         "properties": {"kind": {"const": "restore"}, "segment_id": SEGMENT_ID,
                        "to_seq": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
                        "reason": REASON}},
    ]})

SPEAKER = record("Speaker", {"key": OPT_STR, "label": STR, "role": OPT_STR,
                             "participant_id": OPT_INT, "seat": OPT_STR,
                             "language": {**OPT_STR, "description": "the language this source "
                                          "is transcribed in, if not the hearing's"},
                             "interpretation": {**OPT_STR, "description": "an interpreter's: "
                                                "the language they interpret into"}})
WORD = record("TranscriptWord", {"text": STR, "start_ms": INT, "end_ms": INT,
                                 "probability": {"type": ["number", "null"]}})
SEGMENT = record("TranscriptSegment", {
    "id": STR, "source_id": STR, "speaker": SPEAKER, "start_ms": INT, "end_ms": INT,
    "text": STR, "words": {"type": "array", "items": WORD}, "language": OPT_STR,
    "model": OPT_STR, "edited": BOOL, "origin": STR,
    "uncertain": {"enum": ["", "low_confidence", "no_speech", "language", "unintelligible"],
                  "description": "why the recogniser is unsure of this segment; empty if it is not"},
    "interpretation": {"type": "string", "description": "an interpreter's speech: the "
                       "language it interprets into; empty for the floor"}})
STORED_REVISION = record("TranscriptRevision", {
    "seq": INT, "kind": STR, "author": STR, "at": STR, "reason": STR,
    "payload": {"type": "object"}, "prev_hash": STR, "hash": STR})
SEGMENTS = {"type": "array", "items": SEGMENT}
GAP = record("AudioGap", {"source_id": STR, "start_ms": INT, "end_ms": OPT_INT,
                          "reason": {"enum": ["muted", "disconnected", "lost"]}})
TRANSCRIPT = record("Transcript", {"segments": SEGMENTS, "head_hash": STR,
                                   "revision_seq": OPT_INT,
                                   "speakers": {"type": "array", "items": SPEAKER},
                                   "gaps": {"type": "array", "items": GAP}})
REVISED = record("TranscriptRevised", {"revision": STORED_REVISION, "segments": SEGMENTS,
                                       "head_hash": STR})
HISTORY = schema("TranscriptHistory", paged(STORED_REVISION, "revisions"))
HISTORY_QUERY = {"kind": {"enum": sorted(MACHINE_KINDS | EDIT_KINDS),
                          "description": "only revisions of this kind"}, **PAGE_QUERY}


@endpoint("GET", "/api/hearings/{hearing_id}/transcript",
          summary="Current transcript: segments with speakers, words and timings",
          response=TRANSCRIPT)
async def get_transcript(call: Call, hearing_id: int) -> dict:
    return await transcripts.current(call.state, call.me, hearing_id)


@endpoint("POST", "/api/hearings/{hearing_id}/transcript/revisions",
          summary="Correct the transcript (a new revision; the machine text is kept)",
          body=REVISION, response=REVISED, status=201,
          responses={201: "revision stored", 409: "transcript changed meanwhile",
                     422: "the change does not apply to the current transcript"})
async def revise(call: Call, hearing_id: int, body: dict) -> dict:
    return await transcripts.revise(call.state, call.me, hearing_id, body)


@endpoint("GET", "/api/hearings/{hearing_id}/transcript/segments/{segment_id}/history",
          summary="Every revision that made or changed a segment, oldest first, paged",
          response=HISTORY, query=HISTORY_QUERY, responses={404: "no such segment"})
async def history(call: Call, hearing_id: int, segment_id: str, query: dict) -> dict:
    f = {k: query[k] for k in ("kind",) if k in query}
    return await transcripts.history(call.state, call.me, hearing_id, segment_id, f,
                                     PageRequest.from_query(query))
