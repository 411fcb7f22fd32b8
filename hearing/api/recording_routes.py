"""The hearing's recordings for the secretary's editor: per-source files on the hearing clock,
played with range requests."""

from __future__ import annotations

from aiohttp import web

from hearing.api.context import Call
from hearing.api.registry import array_of, endpoint, schema
from hearing.api.schemas import INT, STR, record
from hearing.services import recordings

RECORDING = record("RecordingFile", {
    "id": STR, "source_id": STR, "label": STR, "start_ms": INT, "end_ms": INT, "sha256": STR,
    "content_type": STR, "url": STR})
RECORDINGS = schema("RecordingFiles", array_of(RECORDING, "recordings"))


@endpoint("GET", "/api/hearings/{hearing_id}/recordings",
          summary="Per-source recordings with their place on the hearing clock",
          response=RECORDINGS)
async def list_recordings(call: Call, hearing_id: int) -> dict:
    return {"recordings": await recordings.list_recordings(call.state, call.me, hearing_id)}


@endpoint("GET", "/api/hearings/{hearing_id}/recordings/{recording_id}/audio",
          summary="The audio of one recording (supports range requests for seeking)",
          response={"type": "string", "format": "binary"}, content_type="audio/ogg",
          responses={404: "no such recording"})
async def recording_audio(call: Call, hearing_id: int,
                          recording_id: str) -> web.StreamResponse:
    path = await recordings.recording_file(call.state, call.me, hearing_id, recording_id)
    return web.FileResponse(path, headers={"Content-Type": "audio/ogg",
                                           "Cache-Control": "private, max-age=3600"})
