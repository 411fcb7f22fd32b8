"""The hearing's recordings for the secretary's editor: one playable Ogg Opus per source once
the hearing is closed (offset t in the file is hearing-clock start_ms + t), and the closed
two-second chunks while it is still running."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from hearing.errors import not_found
from hearing.api.hearing_routes import load_managed, path_int
from hearing.api.registry import endpoint
from hearing.models import Recording, RecordingChunk
from hearing.api.context import CALLER
from hearing.roles import Caller
from hearing.api.context import STATE
from hearing.transcripts import speaker_of, speakers
from media.seat_recorder import source_of_recording


@endpoint("GET", "/api/hearings/{hearing_id}/recordings",
          summary="Per-source recordings with their place on the hearing clock")
async def list_recordings(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        load_managed(s, hid, c)
        known = speakers(s, hid)
        finals = s.execute(select(Recording).where(Recording.hearing_id == hid)
                           .order_by(Recording.id)).scalars().all()
        out = []
        for r in finals:
            source = source_of_recording(r.source_id)
            out.append({"id": f"r{r.id}", "source_id": source,
                        "label": speaker_of(source, known)["label"], "start_ms": r.start_ms,
                        "end_ms": r.end_ms, "sha256": r.sha256, "content_type": r.content_type,
                        "url": f"/api/hearings/{hid}/recordings/r{r.id}/audio"})
        if not finals:  # still running: the closed chunks, each playable on its own
            for ch in s.execute(select(RecordingChunk).where(RecordingChunk.hearing_id == hid)
                                .order_by(RecordingChunk.id)).scalars():
                source = source_of_recording(ch.source_id)
                out.append({"id": f"c{ch.id}", "source_id": source,
                            "label": speaker_of(source, known)["label"],
                            "start_ms": ch.start_ms, "end_ms": ch.end_ms, "sha256": ch.sha256,
                            "content_type": "audio/ogg",
                            "url": f"/api/hearings/{hid}/recordings/c{ch.id}/audio"})
        return out
    return web.json_response({"recordings": await request.app[STATE].db.run(work)})


@endpoint("GET", "/api/hearings/{hearing_id}/recordings/{recording_id}/audio",
          summary="The audio of one recording (supports range requests for seeking)",
          responses={404: "no such recording"})
async def recording_audio(request: web.Request) -> web.StreamResponse:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    rid = request.match_info["recording_id"]
    state = request.app[STATE]
    if len(rid) < 2 or rid[0] not in "rc" or not rid[1:].isdigit():
        raise not_found("no such recording")

    def work(s):
        load_managed(s, hid, c)
        model = Recording if rid[0] == "r" else RecordingChunk
        row = s.get(model, int(rid[1:]))
        if row is None or row.hearing_id != hid:
            raise not_found("no such recording")
        return (state.live.blobs.path_for(row.sha256) if rid[0] == "r" else Path(row.path))
    path = await state.db.run(work)
    if not path.is_file():
        raise not_found("the recording file is missing (run `courtroom fixity`)")
    return web.FileResponse(path, headers={"Content-Type": "audio/ogg",
                                           "Cache-Control": "private, max-age=3600"})
