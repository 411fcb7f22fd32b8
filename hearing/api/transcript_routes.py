"""The transcript for the secretary's editor: current segments, corrections as revisions,
and each segment's history."""

from __future__ import annotations

from aiohttp import web

from hearing.errors import Unprocessable, bad_request, conflict, forbidden, not_found
from hearing.api.hearing_routes import load_hearing, load_managed, path_int
from hearing.api.registry import endpoint, json_body, schema
from hearing.models import Hearing
from hearing.api.context import CALLER
from hearing.access import is_assigned
from hearing.roles import Caller
from hearing.api.context import STATE
from hearing.transcripts import TranscriptConflict, speaker_of, speakers
from stenogram import RevisionError, Segment

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


def segment_json(seg: Segment, known: dict[str, dict]) -> dict:
    return {"id": seg.segment_id, "source_id": seg.source_id,
            "speaker": speaker_of(seg.speaker or seg.source_id, known),
            "start_ms": seg.start_ms, "end_ms": seg.end_ms, "text": seg.text,
            "words": [{"text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                       "probability": w.probability} for w in seg.words],
            "language": seg.language, "model": seg.model, "edited": seg.origin != "asr",
            "origin": seg.origin}


def require_editor(caller: Caller, hearing: Hearing) -> None:
    """Corrections are the secretary's (and the presiding judge's), nobody else's."""
    if not is_assigned(caller, hearing):
        raise forbidden("only the secretary or the judge of this hearing may correct the "
                        "transcript")


@endpoint("GET", "/api/hearings/{hearing_id}/transcript",
          summary="Current transcript: segments with speakers, words and timings")
async def get_transcript(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    state = request.app[STATE]

    def work(s):
        load_managed(s, hid, c)
        return speakers(s, hid)
    known = await state.db.run(work)
    t = await state.transcripts.get(hid)
    return web.json_response({"segments": [segment_json(x, known) for x in t.segments()],
                              "head_hash": t.head_hash,
                              "revision_seq": t.revisions[-1].seq if t.revisions else None,
                              "speakers": list(known.values())})


@endpoint("POST", "/api/hearings/{hearing_id}/transcript/revisions",
          summary="Correct the transcript (a new revision; the machine text is kept)",
          body=REVISION, responses={201: "revision stored", 409: "transcript changed meanwhile"})
async def revise(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    change = await json_body(request)
    state = request.app[STATE]

    def check(s):
        h = load_hearing(s, hid, c)
        require_editor(c, h)
        known = speakers(s, hid)
        if change["kind"] == "set_speaker" and change["speaker"] not in known:
            raise bad_request("speaker: not a participant or seat of this hearing",
                              field="speaker")
        return known
    known = await state.db.run(check)
    try:
        rev = await state.transcripts.revise(hid, change, c.actor)
    except RevisionError as exc:
        raise Unprocessable(str(exc), code="cannot_apply") from None
    except TranscriptConflict as exc:
        raise conflict(str(exc)) from None

    def log(s):
        h = s.get(Hearing, hid)
        state.audit(s, h, c.actor, "transcript.revise",
                    {"seq": rev.seq, "kind": rev.kind, "hash": rev.hash})
    await state.db.run(log)
    t = await state.transcripts.get(hid)
    body = {"revision": {k: v for k, v in rev.to_dict().items()},
            "segments": [segment_json(x, known) for x in t.segments()],
            "head_hash": t.head_hash}
    state.hub.publish(hid, {"type": "revision", "seq": rev.seq, "kind": rev.kind,
                            "head_hash": t.head_hash}, staff_only=True)
    return web.json_response(body, status=201)


@endpoint("GET", "/api/hearings/{hearing_id}/transcript/segments/{segment_id}/history",
          summary="Every revision that made or changed a segment, oldest first")
async def history(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    sid = request.match_info["segment_id"]
    state = request.app[STATE]

    def work(s):
        load_managed(s, hid, c)
        return speakers(s, hid)
    await state.db.run(work)
    t = await state.transcripts.get(hid)
    try:
        revs = t.history(sid)
    except (KeyError, RevisionError):
        raise not_found("no such segment") from None
    if not revs:
        raise not_found("no such segment")
    return web.json_response({"revisions": [r.to_dict() for r in revs]})
