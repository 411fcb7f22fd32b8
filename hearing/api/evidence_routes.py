"""Evidence over HTTP: the resumable upload protocol, the list, the judge's decision, the
custody record and the stored files.

The upload protocol (tus-like), for a phone on a bad network:
  POST   .../evidence/uploads                 JSON {filename, size, sha256?, content_type?}
                                              -> 201 the upload, headers Location, Upload-Offset
  HEAD   .../evidence/uploads/{upload}        -> header Upload-Offset: where to resume
                                              (GET: the upload as JSON)
  PATCH  .../evidence/uploads/{upload}        header Upload-Offset, body = the next bytes
                                              -> 204, header Upload-Offset
  POST   .../evidence/uploads/{upload}/complete -> the receipt
  DELETE .../evidence/uploads/{upload}        -> 204
The body of a PATCH streams to disk (never whole in memory) and is hashed on the way; a
connection that drops keeps what arrived. A refusal that knows where to resume carries the
Upload-Offset header too. On a court of several servers each request may reach any of them:
the upload's state is shared, and a PATCH meeting another server's write is refused with 409
and the offset. Who may do what, and the custody log: hearing.services.evidence."""

from __future__ import annotations

import asyncio
import functools
import re
import unicodedata
from typing import Any, Awaitable, Callable, get_args
from urllib.parse import quote

from aiohttp import ClientPayloadError, web

from hearing.api.context import Call
from hearing.api.errors import error_response
from hearing.api.registry import Auth, Handler, endpoint, schema
from hearing.api.schemas import (AT, AUDIT_EVENT, BOOL, INT, OPT_INT, OPT_STR, STR, TIME,
                                 paged, record)
from hearing.errors import DomainError, bad_request
from hearing.models import EvidenceStatus
from hearing.services import evidence
from hearing.paging import NEXT_CURSOR, PAGE_QUERY, PageRequest
from hearing.services.evidence import Connection, Decision

BODY_READ = 1 << 18

UPLOAD_CREATE = schema("EvidenceUploadCreate", {
    "type": "object", "additionalProperties": False, "required": ["filename", "size"],
    "properties": {
        "filename": {"type": "string", "maxLength": 1000},
        "size": {"type": "integer", "minimum": 0, "maximum": 1 << 50},
        "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
        "content_type": {"type": "string", "maxLength": 200}}})
DECISION = schema("EvidenceDecision", {
    "type": "object", "additionalProperties": False, "required": ["decision", "reason"],
    "properties": {"decision": {"enum": list(get_args(Decision))},
                   "reason": {"type": "string", "minLength": 1, "maxLength": 4000}}})

STATUS = {"enum": list(get_args(EvidenceStatus))}
OBJECT = {"type": "object"}
UPLOAD = record("EvidenceUpload", {
    "id": STR, "offset": INT, "size": OPT_INT, "filename": OPT_STR, "created_at": STR,
    "updated_at": STR, "completed": BOOL, "url": STR})
RECEIPT = record("EvidenceReceipt", {
    "evidence_id": INT, "hearing_id": INT, "upload_id": STR, "sha256": STR, "size": INT,
    "received_at": AT, "started_at": STR, "kind": STR, "filename": STR,
    "content_type": STR, "submitted_by": STR, "status": STATUS, "already_stored": BOOL,
    "media": OBJECT})
WORD = {"type": "object", "required": ["text", "start_ms", "end_ms", "probability"],
        "properties": {"text": STR, "start_ms": INT, "end_ms": INT,
                       "probability": {"type": "number"}}}
SEGMENT = record("EvidenceSegment", {
    "origin": {"const": "evidence"}, "evidence_id": INT, "segment_id": STR, "start_ms": INT,
    "end_ms": INT, "text": STR, "words": {"type": "array", "items": WORD}, "language": STR,
    "model": STR})
_ITEM = {
    "id": INT, "hearing_id": INT, "case_id": INT, "carried_from": OPT_INT, "sha256": STR,
    "size": INT, "filename": STR,
    "content_type": STR, "kind": STR, "submitted_by": STR, "received_at": AT,
    "status": STATUS, "reason": STR, "decided_at": TIME, "original_url": STR,
    "playback_url": OPT_STR, "playback_type": OPT_STR, "thumbnail_url": OPT_STR,
    "preview_url": OPT_STR, "preview_type": OPT_STR,
    "preview_until_s": {"type": ["number", "null"]},
    "preview_state": {"enum": ["none", "queued", "running", "done", "failed"]},
    "preview_progress": {"type": "number"},
    "transcode_state": {"enum": ["pending", "queued", "running", "done", "failed"]},
    "transcode_progress": {"type": "number"}, "transcode_error": OPT_STR,
    "transcription_state": {"enum": ["none", "queued", "running", "done", "failed"]},
    "transcription_progress": {"type": "number"}, "duration_s": {"type": ["number", "null"]},
    "access_level": {"enum": ["public", "restricted", "sealed"]}}
ITEM = record("Evidence", _ITEM)
ITEM_FULL = record("EvidenceWithTranscript", {
    **_ITEM, "media": OBJECT, "playback_sha256": OPT_STR, "thumbnail_sha256": OPT_STR,
    "transcript": {"type": ["array", "null"], "items": SEGMENT}})
CUSTODY = record("EvidenceCustody", {
    "evidence_id": INT, "sha256": STR, "events": {"type": "array", "items": AUDIT_EVENT},
    "next_cursor": NEXT_CURSOR})
FILE = {"type": "string", "format": "binary"}
CASE_PAGE = record("CaseEvidencePage", {"evidence": {"type": "array", "items": ITEM},
                                        "next_cursor": NEXT_CURSOR})
CASE_QUERY = {"status": STATUS,
              "hearing_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                             "description": "only what was submitted in this hearing"},
              **PAGE_QUERY}
LIST_QUERY = {"status": STATUS, "kind": {"enum": ["audio", "video", "image", "unknown"]},
              **PAGE_QUERY}
CUSTODY_QUERY = {"action": {"type": "string", "pattern": "^evidence\\.[a-z_]{1,40}$",
                            "description": "only rows of this action, e.g. evidence.accessed"},
                 **PAGE_QUERY}


def _connection(call: Call) -> Connection:
    headers = call.request.headers
    return Connection(call.request.remote, headers.get("User-Agent"),
                      headers.get("X-Forwarded-For"))


def _filters(query: dict, *names: str) -> dict:
    """The filters among ``names`` that the query gave; the rest of it is paging."""
    return {k: query[k] for k in names if k in query}


def resumable(fn: Handler) -> Handler:
    """A refusal that says where the stored bytes end answers with that offset as the
    Upload-Offset header too, so a client resumes from the header alone."""
    @functools.wraps(fn)
    async def handler(*args: Any, **kwargs: Any) -> web.StreamResponse:
        try:
            return await fn(*args, **kwargs)
        except DomainError as e:
            if "offset" not in e.extra:
                raise
            answer = error_response(e)
            answer.headers["Upload-Offset"] = str(e.extra["offset"])
            return answer
    return handler


@endpoint("POST", "/api/hearings/{hearing_id}/evidence/uploads",
          summary="Start uploading a piece of evidence (resumable)", auth="any",
          body=UPLOAD_CREATE, response=UPLOAD, status=201, tag="evidence",
          responses={201: "upload created; PATCH bytes to its url", 409: "hearing closed",
                     413: "larger than allowed", 507: "server short of disk space"})
async def create_upload(call: Call, hearing_id: int, body: dict) -> web.Response:
    upload = await evidence.start_upload(
        call.state, call.me, hearing_id, filename=body["filename"], size=body["size"],
        sha256=body.get("sha256"), content_type=body.get("content_type"),
        connection=_connection(call))
    return web.json_response(upload, status=201, headers={
        "Location": upload["url"], "Upload-Offset": str(upload["offset"])})


def _where(upload: dict) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload["offset"])}
    if upload["size"] is not None:
        headers["Upload-Length"] = str(upload["size"])
    return headers


@endpoint("HEAD", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="Where to resume: headers Upload-Offset (and Upload-Length)", auth="any",
          tag="evidence", responses={404: "no such upload"})
async def upload_offset(call: Call, hearing_id: int, upload: str) -> web.Response:
    found = await evidence.upload_status(call.state, call.me, hearing_id, upload)
    return web.Response(headers=_where(found))


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="An unfinished upload's state (offset, size)", auth="any", response=UPLOAD,
          tag="evidence", responses={404: "no such upload"})
async def upload_status(call: Call, hearing_id: int, upload: str) -> web.Response:
    found = await evidence.upload_status(call.state, call.me, hearing_id, upload)
    return web.json_response(found, headers=_where(found))


@endpoint("PATCH", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="Append the next bytes at header Upload-Offset (body: raw bytes)",
          auth="any", status=204, tag="evidence",
          responses={204: "stored; header Upload-Offset says how much", 404: "no such upload",
                     409: "wrong offset, or being written through another server (resume "
                          "at Upload-Offset)", 413: "too large",
                     423: "busy on another connection"})
@resumable
async def append_upload(call: Call, hearing_id: int, upload: str) -> web.Response:
    try:
        at = int(call.request.headers.get("Upload-Offset", ""))
    except ValueError:
        found = await evidence.upload_status(call.state, call.me, hearing_id, upload)
        raise bad_request("Upload-Offset header required (the byte this body starts at)",
                          offset=found["offset"]) from None
    try:
        stored = await evidence.append(call.state, call.me, hearing_id, upload, at,
                                       call.request.content.iter_chunked(BODY_READ),
                                       _connection(call))
    except (ClientPayloadError, ConnectionError, asyncio.IncompleteReadError):
        found = await evidence.upload_status(call.state, call.me, hearing_id, upload)
        return web.json_response({"error": "body_broke_off", "offset": found["offset"],
                                  "message": "the connection broke; resume at Upload-Offset"},
                                 status=400, headers={"Upload-Offset": str(found["offset"])})
    return web.Response(status=204, headers={"Upload-Offset": str(stored)})


@endpoint("POST", "/api/hearings/{hearing_id}/evidence/uploads/{upload}/complete",
          summary="Finish an upload: check, validate, store; returns the receipt",
          auth="any", response=RECEIPT, tag="evidence",
          responses={404: "no such upload", 409: "not all bytes have arrived",
                     422: "hash mismatch or not acceptable media (discarded)"})
@resumable
async def complete_upload(call: Call, hearing_id: int, upload: str) -> dict:
    return await evidence.complete_upload(call.state, call.me, hearing_id, upload,
                                          _connection(call))


@endpoint("DELETE", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="Give up an unfinished upload", auth="any", status=204, tag="evidence",
          responses={204: "removed", 404: "no such upload"})
async def cancel_upload(call: Call, hearing_id: int, upload: str) -> web.Response:
    await evidence.cancel_upload(call.state, call.me, hearing_id, upload)
    return web.Response(status=204)


@endpoint("GET", "/api/hearings/{hearing_id}/evidence",
          summary="Evidence of a hearing, with what the court accepted in the case's other "
                  "hearings (staff: all; a participant: their own; a party's account: its "
                  "own and the accepted), paged", auth="any",
          response=paged(ITEM, "evidence"), tag="evidence", query=LIST_QUERY)
async def list_evidence(call: Call, hearing_id: int, query: dict) -> dict:
    return await evidence.list_evidence(call.state, call.me, hearing_id,
                                        _filters(query, "status", "kind"),
                                        PageRequest.from_query(query))


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}",
          summary="One piece of evidence, with its media facts and transcript", auth="any",
          response=ITEM_FULL, tag="evidence", responses={404: "no such evidence"})
async def get_evidence(call: Call, hearing_id: int, evidence_id: int) -> dict:
    return await evidence.get_evidence(call.state, call.me, hearing_id, evidence_id)


@endpoint("POST", "/api/hearings/{hearing_id}/evidence/{evidence_id}/decision",
          summary="Accept or reject evidence, with a reason (presiding judge)", body=DECISION,
          response=ITEM_FULL, tag="evidence",
          responses={404: "no such evidence",
                     409: "hearing closed (pending evidence is decided on the case), or "
                          "a change without a new reason"})
async def decide(call: Call, hearing_id: int, evidence_id: int, body: dict) -> dict:
    return await evidence.decide(call.state, call.me, hearing_id, evidence_id,
                                 body["decision"], body["reason"])


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}/custody",
          summary="Chain of custody: every audit row about this evidence, oldest first, "
                  "paged", response=CUSTODY, tag="evidence", query=CUSTODY_QUERY,
          responses={404: "no such evidence"})
async def custody(call: Call, hearing_id: int, evidence_id: int, query: dict) -> dict:
    return await evidence.custody(call.state, call.me, hearing_id, evidence_id,
                                  _filters(query, "action"),
                                  PageRequest.from_query(query))


def content_disposition(filename: str | None, fallback: str, inline: bool = False) -> str:
    """Header to serve a stored file under the name its submitter gave it: folders and control
    characters removed, an ASCII fallback plus the UTF-8 name (RFC 6266/5987), so a name like
    ``../../x.html`` or one in Kazakh is only ever a label."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")[:200]
    name = name or fallback
    if name.isascii():
        ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "_", name).strip(" .") or fallback
    else:  # keep the extension, if it is a plain one, on the ASCII fallback
        ext = name.rsplit(".", 1)[-1] if "." in name else ""
        ascii_name = fallback + (f".{ext}" if ext.isascii() and ext.isalnum()
                                 and "." not in fallback else "")
    kind = "inline" if inline else "attachment"
    return f'{kind}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}'


HEARING_ITEM = "/api/hearings/{hearing_id}/evidence/{evidence_id}"
CASE_ITEM = "/api/cases/{case_id}/evidence/{evidence_id}"
FILE_TYPES: dict[evidence.Copy, str] = {"original": "application/octet-stream",
                                        "preview": "application/octet-stream",
                                        "playback": "application/octet-stream",
                                        "thumbnail": "image/jpeg"}
FILE_MISSING: dict[evidence.Copy, str] = {"original": "no such evidence",
                                          "preview": "no such evidence or no preview yet",
                                          "playback": "no such evidence or no copy yet",
                                          "thumbnail": "no such evidence or no thumbnail"}
FileOpener = Callable[..., Awaitable[evidence.StoredFile]]


def stored_file_endpoint(item_path: str, which: evidence.Copy, summary: str,
                         auth: Auth) -> Callable[[Handler], Handler]:
    """Declare the download of one stored copy of an item: its content type and refusals are
    the same whether the item is reached through its hearing or through its case."""
    return endpoint("GET", f"{item_path}/{which}", summary=summary, auth=auth,
                    content_type=FILE_TYPES[which], response=FILE, tag="evidence",
                    responses={404: FILE_MISSING[which],
                               409: "its bytes no longer match their SHA-256"})


async def serve_stored_file(call: Call, open_file: FileOpener, scope_id: int, evidence_id: int,
                            which: evidence.Copy) -> web.FileResponse:
    """Answer with one stored copy, opened by ``open_file`` (through the hearing or the case
    ``scope_id`` names), under the name its submitter gave it."""
    f = await open_file(call.state, call.me, scope_id, evidence_id, which, _connection(call))
    return web.FileResponse(f.path, headers={
        "Content-Type": f.content_type, "ETag": f'"{f.sha256}"',
        "Content-Disposition": content_disposition(f.name, f.fallback, inline=f.inline)})


@stored_file_endpoint(HEARING_ITEM, "original",
                      "The original file, byte for byte as received (download)", auth="any")
async def original_file(call: Call, hearing_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_file, hearing_id, evidence_id,
                                   "original")


@stored_file_endpoint(HEARING_ITEM, "preview",
                      "A small copy of the first two minutes, made before the decision",
                      auth="any")
async def preview_file(call: Call, hearing_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_file, hearing_id, evidence_id,
                                   "preview")


@stored_file_endpoint(HEARING_ITEM, "playback",
                      "The web-playable copy (MP4/WebM; a JPEG for photos)", auth="any")
async def playback_file(call: Call, hearing_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_file, hearing_id, evidence_id,
                                   "playback")


@stored_file_endpoint(HEARING_ITEM, "thumbnail",
                      "A small JPEG picture of the evidence", auth="any")
async def thumbnail_file(call: Call, hearing_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_file, hearing_id, evidence_id,
                                   "thumbnail")


# -- the case's evidence ----------------------------------------------------------------------

@endpoint("GET", "/api/cases/{case_id}/evidence",
          summary="Evidence of all the case's hearings (staff: all; a party's account: the "
                  "accepted and its own), paged", auth="account", response=CASE_PAGE,
          tag="evidence", query=CASE_QUERY)
async def list_case_evidence(call: Call, case_id: int, query: dict) -> dict:
    return await evidence.list_case_evidence(call.state, call.me, case_id,
                                             _filters(query, "status", "hearing_id"),
                                             PageRequest.from_query(query))


@endpoint("GET", "/api/cases/{case_id}/evidence/{evidence_id}",
          summary="One piece of the case's evidence, with its media facts and transcript",
          auth="account", response=ITEM_FULL, tag="evidence",
          responses={404: "no such evidence"})
async def get_case_evidence(call: Call, case_id: int, evidence_id: int) -> dict:
    return await evidence.get_case_evidence(call.state, call.me, case_id, evidence_id)


@endpoint("POST", "/api/cases/{case_id}/evidence/{evidence_id}/decision",
          summary="Decide evidence left pending when its hearing ended (the case's judge)",
          body=DECISION, response=ITEM_FULL, tag="evidence",
          responses={404: "no such evidence",
                     409: "its hearing is not over, it was decided there, or a change "
                          "without a new reason"})
async def decide_on_case(call: Call, case_id: int, evidence_id: int, body: dict) -> dict:
    return await evidence.decide_on_case(call.state, call.me, case_id, evidence_id,
                                         body["decision"], body["reason"])


@endpoint("GET", "/api/cases/{case_id}/evidence/{evidence_id}/custody",
          summary="Chain of custody, its hearing's rows and its case's, oldest first, paged",
          response=CUSTODY, tag="evidence", query=CUSTODY_QUERY,
          responses={404: "no such evidence"})
async def case_custody(call: Call, case_id: int, evidence_id: int, query: dict) -> dict:
    return await evidence.case_custody(call.state, call.me, case_id, evidence_id,
                                       _filters(query, "action"),
                                       PageRequest.from_query(query))


@stored_file_endpoint(CASE_ITEM, "original",
                      "The original file of the case's evidence (download)", auth="account")
async def case_original_file(call: Call, case_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_case_file, case_id, evidence_id,
                                   "original")


@stored_file_endpoint(CASE_ITEM, "preview",
                      "The preview of the case's evidence", auth="account")
async def case_preview_file(call: Call, case_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_case_file, case_id, evidence_id,
                                   "preview")


@stored_file_endpoint(CASE_ITEM, "playback",
                      "The web-playable copy of the case's evidence", auth="account")
async def case_playback_file(call: Call, case_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_case_file, case_id, evidence_id,
                                   "playback")


@stored_file_endpoint(CASE_ITEM, "thumbnail",
                      "A small JPEG picture of the case's evidence", auth="account")
async def case_thumbnail_file(call: Call, case_id: int, evidence_id: int) -> web.FileResponse:
    return await serve_stored_file(call, evidence.open_case_file, case_id, evidence_id,
                                   "thumbnail")
