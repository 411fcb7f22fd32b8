"""The hearing's recordings for the secretary's editor: per-source files on the hearing clock,
played with range requests."""

from __future__ import annotations

import base64

from aiohttp import web

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import INT, STR, paged, record
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import recordings


def digest_header(sha256: str) -> str:
    """RFC 9530: the SHA-256 the bytes were just checked against."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"

RECORDING = record("RecordingFile", {
    "id": STR, "source_id": STR, "label": STR, "start_ms": INT, "end_ms": INT, "sha256": STR,
    "content_type": STR, "url": STR})
RECORDINGS = schema("RecordingFiles", paged(RECORDING, "recordings"))


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
