"""The hearing's recordings for the secretary's editor: per-source files on the hearing clock,
played with range requests, with the gaps where audio is missing; and the media health of a
running hearing."""

from __future__ import annotations

import base64

from aiohttp import web

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import BOOL, INT, OPT_INT, STR, paged, record
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import recordings


def digest_header(sha256: str) -> str:
    """RFC 9530: the SHA-256 the bytes were just checked against."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"

SPAN = {"type": "array", "items": INT, "minItems": 2, "maxItems": 2}
RECORDING = record("RecordingFile", {
    "id": STR, "source_id": STR, "label": STR, "start_ms": INT, "end_ms": INT, "sha256": STR,
    "content_type": STR, "url": STR, "gaps": {"type": "array", "items": SPAN}})
RECORDINGS = schema("RecordingFiles", paged(RECORDING, "recordings"))
GAP = {"type": ["object", "null"]}
SOURCE_HEALTH = {"type": "object", "required": ["source_id", "label", "state", "reasons",
                                                "audio_lost_ms", "asr_lag_ms"],
                 "properties": {"source_id": STR, "label": STR,
                                "state": {"enum": ["ok", "degraded", "lost"]},
                                "reasons": {"type": "array", "items": STR},
                                "audio_lost_ms": INT, "asr_lag_ms": INT, "muted": BOOL,
                                "gap": GAP}}
HEALTH = record("MediaHealth", {
    "type": STR, "at_ms": OPT_INT, "here": BOOL,
    "server": {"type": "object", "required": ["state", "stalled_ms"],
               "properties": {"state": {"enum": ["ok", "degraded"]}, "stalled_ms": INT}},
    "sources": {"type": "array", "items": SOURCE_HEALTH}})


@endpoint("GET", "/api/hearings/{hearing_id}/recordings",
          summary="Per-source recordings with their place on the hearing clock (paged)",
          response=RECORDINGS, query=PAGE_QUERY)
async def list_recordings(call: Call, hearing_id: int, query: dict) -> dict:
    found, next_cursor = await recordings.list_recordings(call.state, call.me, hearing_id,
                                                          PageRequest.from_query(query))
    return {"recordings": found, "next_cursor": next_cursor}


@endpoint("GET", "/api/hearings/{hearing_id}/recordings/{recording_id}/audio",
          summary="The audio of one recording (supports range requests for seeking)",
          response={"type": "string", "format": "binary"}, content_type="audio/ogg",
          responses={404: "no such recording",
                     409: "its bytes no longer match their SHA-256 (fixity failure)"})
async def recording_audio(call: Call, hearing_id: int,
                          recording_id: str) -> web.StreamResponse:
    path, sha256 = await recordings.recording_file(call.state, call.me, hearing_id,
                                                   recording_id)
    return web.FileResponse(path, headers={"Content-Type": "audio/ogg",
                                           "Cache-Control": "private, max-age=3600",
                                           "Repr-Digest": digest_header(sha256)})


@endpoint("GET", "/api/hearings/{hearing_id}/health",
          summary="Media health of the running hearing: audio lost, live text delay, links",
          response=HEALTH)
async def media_health(call: Call, hearing_id: int) -> dict:
    return await recordings.health(call.state, call.me, hearing_id)
