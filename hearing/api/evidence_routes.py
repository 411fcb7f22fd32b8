"""Evidence: tus-like resumable upload (create, offset, append, complete, cancel), the list,
the judge's decision, the custody record and the stored files.

A phone on a bad network creates an upload, PATCHes bytes at ``Upload-Offset``, asks HEAD for
the offset after a dropped connection, sends the rest and completes; the bytes stream to disk
(never whole in memory) and are hashed on the way. See hearing/evidence.py for who may do
what and for the custody log."""

from __future__ import annotations

import asyncio

from aiohttp import ClientPayloadError, web
from sqlalchemy import select

from hearing.errors import bad_request, conflict, forbidden, not_found
from hearing.api.hearing_routes import path_int
from hearing.api.registry import endpoint, json_body, schema
from hearing.views import audit_json
from hearing.api.context import STATE
from hearing.evidence import (DECISIONS, clean_text, connection_facts, has_sound,
                              load_hearing_for_evidence, may_see_item, now_utc, receipt_json,
                              require_submitter, require_upload_owner, upload_meta)
from hearing.models import AuditEvent, EvidenceItem
from hearing.api.context import CALLER
from hearing.access import require_presiding
from hearing.roles import Caller
from media.evidence import UploadStatus
from media.evidence.aiohttp_routes import content_disposition
from media.evidence.errors import EvidenceError, EvidenceRejected, HashMismatch

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
    "properties": {"decision": {"enum": list(DECISIONS)},
                   "reason": {"type": "string", "minLength": 1, "maxLength": 4000}}})

#: What a stored original is, from the container its bytes were recognised as (the type the
#: client declared is kept as data and never served).
_MIME = {("mov", "video"): "video/mp4", ("mov", "audio"): "audio/mp4",
         ("mov", "image"): "image/heif", ("matroska", "video"): "video/webm",
         ("matroska", "audio"): "audio/webm", ("ogg", "video"): "video/ogg",
         ("ogg", "audio"): "audio/ogg", ("wav", "audio"): "audio/wav",
         ("flac", "audio"): "audio/flac", ("mp3", "audio"): "audio/mpeg",
         ("aac", "audio"): "audio/aac", ("amr", "audio"): "audio/amr",
         ("avi", "video"): "video/x-msvideo", ("mpegts", "video"): "video/mp2t",
         ("asf", "video"): "video/x-ms-asf", ("asf", "audio"): "audio/x-ms-wma",
         ("caf", "audio"): "audio/x-caf", ("jpeg_pipe", "image"): "image/jpeg",
         ("png_pipe", "image"): "image/png", ("webp_pipe", "image"): "image/webp"}


def evidence_error(e: EvidenceError) -> web.Response:
    """The library's error as the API's error shape, with the offset to resume from."""
    headers = {"Upload-Offset": str(e.details["offset"])} if "offset" in e.details else {}
    return web.json_response(e.to_json(), status=e.http_status, headers=headers)


def _service(request: web.Request):  # noqa: ANN202
    svc = request.app[STATE].evidence
    if svc.uploads is None:
        raise conflict("evidence intake is starting; try again in a moment")
    return svc


def _upload_json(st: UploadStatus, hid: int) -> dict:
    d = st.to_json()
    d.pop("meta", None)
    d["url"] = f"/api/hearings/{hid}/evidence/uploads/{st.id}"
    return d


async def _submitter(request: web.Request) -> tuple[Caller, int]:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def check(s):
        require_submitter(s, c, load_hearing_for_evidence(s, hid, c))
    await request.app[STATE].evidence.state.db.run(check)
    return c, hid


async def _own_upload(request: web.Request) -> tuple[Caller, int, UploadStatus]:
    """The caller may still submit, and the upload is theirs, for this hearing."""
    c, hid = await _submitter(request)
    st = await _service(request).uploads.status(request.match_info["upload"])
    require_upload_owner(c, st, hid)
    return c, hid, st


@endpoint("POST", "/api/hearings/{hearing_id}/evidence/uploads",
          summary="Start uploading a piece of evidence (resumable)", auth="any",
          body=UPLOAD_CREATE, tag="evidence",
          responses={201: "upload created; PATCH bytes to its url", 409: "hearing closed",
                     413: "larger than allowed", 507: "server short of disk space"})
async def create_upload(request: web.Request) -> web.Response:
    data = await json_body(request)
    c, hid = await _submitter(request)
    svc = _service(request)
    filename = clean_text(data.get("filename"), 500)
    content_type = clean_text(data.get("content_type"), 200) or None
    try:
        st = await svc.uploads.create(filename=filename, size=data["size"],
                                      sha256=data.get("sha256"), content_type=content_type,
                                      meta=upload_meta(c, request, hid))
    except EvidenceError as e:
        return evidence_error(e)
    await svc.audit(hid, c.actor, "evidence.upload_started", {
        "upload_id": st.id, "filename": filename, "size": st.size,
        "declared_sha256": (data.get("sha256") or "").lower() or None,
        "content_type": content_type, "connection": connection_facts(request)})
    body = _upload_json(st, hid)
    return web.json_response(body, status=201, headers={"Location": body["url"],
                                                        "Upload-Offset": str(st.offset)})


async def _status(request: web.Request) -> web.Response:
    try:
        _, hid, st = await _own_upload(request)
    except EvidenceError as e:
        return evidence_error(e)
    headers = {"Upload-Offset": str(st.offset), "Cache-Control": "no-store"}
    if st.size is not None:
        headers["Upload-Length"] = str(st.size)
    return web.json_response(_upload_json(st, hid), headers=headers)


@endpoint("HEAD", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="Where to resume: header Upload-Offset", auth="any", tag="evidence",
          responses={404: "no such upload"})
async def upload_offset(request: web.Request) -> web.Response:
    return await _status(request)


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="An unfinished upload's state (offset, size)", auth="any", tag="evidence",
          responses={404: "no such upload"})
async def upload_status(request: web.Request) -> web.Response:
    return await _status(request)


@endpoint("PATCH", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="Append the next bytes at header Upload-Offset (body: raw bytes)",
          auth="any", tag="evidence",
          responses={204: "stored; header Upload-Offset says how much", 404: "no such upload",
                     409: "wrong offset (resume at Upload-Offset)", 413: "too large",
                     423: "busy on another connection"})
async def append_upload(request: web.Request) -> web.Response:
    try:
        c, hid, st = await _own_upload(request)
    except EvidenceError as e:
        return evidence_error(e)
    try:
        offset = int(request.headers.get("Upload-Offset", ""))
    except ValueError:
        raise bad_request("Upload-Offset header required (the byte this body starts at)",
                          offset=st.offset) from None
    svc = _service(request)
    remote = request.remote
    if offset > 0 and st.meta.get("remote") != remote and svc.note_resume(st.id, remote):
        await svc.audit(hid, c.actor, "evidence.upload_resumed", {
            "upload_id": st.id, "offset": offset, "connection": connection_facts(request)})
    try:
        st = await svc.uploads.append(st.id, offset, request.content.iter_chunked(BODY_READ))
    except EvidenceError as e:
        return evidence_error(e)
    except (ClientPayloadError, ConnectionError, asyncio.IncompleteReadError):
        st = await svc.uploads.status(st.id)  # what arrived is kept: resume from here
        return web.json_response({"error": "body_broke_off", "offset": st.offset,
                                  "message": "the connection broke; resume at Upload-Offset"},
                                 status=400, headers={"Upload-Offset": str(st.offset)})
    return web.Response(status=204, headers={"Upload-Offset": str(st.offset)})


@endpoint("POST", "/api/hearings/{hearing_id}/evidence/uploads/{upload}/complete",
          summary="Finish an upload: check, validate, store; returns the receipt",
          auth="any", tag="evidence",
          responses={404: "no such upload", 409: "not all bytes have arrived",
                     422: "hash mismatch or not acceptable media (discarded)"})
async def complete_upload(request: web.Request) -> web.Response:
    try:
        c, hid, st = await _own_upload(request)
    except EvidenceError as e:
        return evidence_error(e)
    svc = _service(request)
    try:
        receipt = await svc.uploads.complete(st.id)
    except (HashMismatch, EvidenceRejected) as e:
        await svc.audit(hid, c.actor, "evidence.upload_refused", {
            "upload_id": st.id, "filename": st.filename, "error": e.code,
            "message": e.message, **{k: v for k, v in e.details.items()
                                     if k in ("sha256", "received", "declared", "size",
                                              "kind")}})
        return evidence_error(e)
    except EvidenceError as e:
        return evidence_error(e)
    item, _ = await svc.record_receipt(c, request, receipt)
    return web.json_response(receipt_json(item, receipt))


@endpoint("DELETE", "/api/hearings/{hearing_id}/evidence/uploads/{upload}",
          summary="Give up an unfinished upload", auth="any", tag="evidence",
          responses={204: "removed", 404: "no such upload"})
async def cancel_upload(request: web.Request) -> web.Response:
    try:
        c, hid, st = await _own_upload(request)
        svc = _service(request)
        await svc.uploads.cancel(st.id)
    except EvidenceError as e:
        return evidence_error(e)
    await svc.audit(hid, c.actor, "evidence.upload_cancelled",
                    {"upload_id": st.id, "offset": st.offset, "completed": st.completed})
    return web.Response(status=204)


@endpoint("GET", "/api/hearings/{hearing_id}/evidence",
          summary="Evidence of a hearing (staff: all; a participant: their own)", auth="any",
          tag="evidence")
async def list_evidence(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    svc = request.app[STATE].evidence

    def work(s):
        load_hearing_for_evidence(s, hid, c)
        q = select(EvidenceItem).where(EvidenceItem.hearing_id == hid).order_by(EvidenceItem.id)
        if c.kind != "staff":
            q = q.where(EvidenceItem.submitted_by == c.actor)
        return list(s.execute(q).scalars())

    items = await svc.state.db.run(work)
    return web.json_response({"evidence": [svc.item_json(i) for i in items]})


async def _item(request: web.Request) -> tuple[Caller, EvidenceItem]:
    c: Caller = request[CALLER]
    hid, eid = path_int(request, "hearing_id"), path_int(request, "evidence_id")

    def work(s):
        load_hearing_for_evidence(s, hid, c)
        item = s.get(EvidenceItem, eid)
        if item is None or item.hearing_id != hid:
            raise not_found("no such evidence in this hearing")
        if not may_see_item(c, item):
            raise forbidden("only the court and the submitter may see this evidence")
        return item
    return c, await request.app[STATE].evidence.state.db.run(work)


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}",
          summary="One piece of evidence, with its media facts and transcript", auth="any",
          tag="evidence", responses={404: "no such evidence"})
async def get_evidence(request: web.Request) -> web.Response:
    _, item = await _item(request)
    return web.json_response(request.app[STATE].evidence.item_json(item, full=True))


@endpoint("POST", "/api/hearings/{hearing_id}/evidence/{evidence_id}/decision",
          summary="Accept or reject evidence, with a reason (presiding judge)", body=DECISION,
          tag="evidence", responses={404: "no such evidence",
                                     409: "hearing closed, or a change without a new reason"})
async def decide(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid, eid = path_int(request, "hearing_id"), path_int(request, "evidence_id")
    data = await json_body(request)
    reason = clean_text(data["reason"], 4000).strip()
    if not reason:
        raise bad_request("reason: say why", field="reason")
    status = DECISIONS[data["decision"]]
    svc = request.app[STATE].evidence
    state = svc.state

    def work(s):
        h = load_hearing_for_evidence(s, hid, c)
        require_presiding(c, h)
        item = s.get(EvidenceItem, eid)
        if item is None or item.hearing_id != hid:
            raise not_found("no such evidence in this hearing")
        if item.status == status and item.reason == reason:
            return item, False  # the same decision again (a retried request)
        if h.state == "closed":
            raise conflict("the hearing is closed; its evidence decisions are final")
        if item.status != "pending" and item.reason == reason:
            raise conflict("a decision is changed only with a new reason", current=item.status)
        previous = {"status": item.status, "reason": item.reason or None}
        item.status, item.reason = status, reason
        item.decided_by, item.decided_at = c.user_id, now_utc()
        state.audit(s, h, c.actor, "evidence.decision", {
            "evidence_id": item.id, "sha256": item.sha256, "decision": status,
            "reason": reason, "previous": previous})
        return item, True

    item, changed = await state.db.run(work)
    if changed:
        if item.status == "accepted" and item.transcript is None and has_sound(item):
            svc.queue_transcription(item.id)
        svc.publish_item(item, "decision")
    return web.json_response(svc.item_json(item, full=True))


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}/custody",
          summary="Chain of custody: every audit row about this evidence", tag="evidence",
          responses={404: "no such evidence"})
async def custody(request: web.Request) -> web.Response:
    c, item = await _item(request)

    def work(s):
        h = load_hearing_for_evidence(s, item.hearing_id, c)
        rows = s.execute(select(AuditEvent).where(
            AuditEvent.hearing_id == h.id, AuditEvent.action.like("evidence.%"))
            .order_by(AuditEvent.seq)).scalars()
        return [audit_json(r) for r in rows
                if (r.data or {}).get("evidence_id") == item.id
                or (r.data or {}).get("upload_id") == item.upload_id]
    events = await request.app[STATE].evidence.state.db.run(work)
    return web.json_response({"evidence_id": item.id, "sha256": item.sha256,
                              "events": events})


async def _serve(request: web.Request, which: str) -> web.StreamResponse:
    c, item = await _item(request)
    svc = request.app[STATE].evidence
    fallback = f"evidence-{item.id}"
    if which == "original":
        sha = item.sha256
        media = item.media or {}
        ctype = _MIME.get((media.get("container"), item.kind), "application/octet-stream")
        disposition = content_disposition(item.filename, fallback)
        await svc.audit(item.hearing_id, c.actor, "evidence.accessed", {
            "evidence_id": item.id, "sha256": sha, "what": "original",
            "connection": connection_facts(request)})
    elif which == "playback":
        sha, ctype = item.playback_sha256, item.playback_type or "application/octet-stream"
        ext = {"video/mp4": ".mp4", "audio/webm": ".webm", "audio/mp4": ".m4a",
               "image/jpeg": ".jpg"}.get(ctype, "")
        disposition = content_disposition(f"{fallback}-playback{ext}", fallback, inline=True)
    else:
        sha, ctype = item.thumbnail_sha256, "image/jpeg"
        disposition = content_disposition(f"{fallback}-thumbnail.jpg", fallback, inline=True)
    if not sha:
        raise not_found(f"no {which} copy yet (transcode_state: {item.transcode_state})")
    path = svc.blobs.path_for(sha)
    if not path.is_file():
        raise not_found(f"the {which} file is missing from the store; run courtroom fixity")
    return web.FileResponse(path, headers={"Content-Type": ctype,
                                           "Content-Disposition": disposition,
                                           "ETag": f'"{sha}"'})


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}/original",
          summary="The original file, byte for byte as received (download)", auth="any",
          tag="evidence", responses={404: "no such evidence"})
async def original_file(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "original")


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}/playback",
          summary="The web-playable copy (MP4/WebM; a JPEG for photos)", auth="any",
          tag="evidence", responses={404: "no such evidence or no copy yet"})
async def playback_file(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "playback")


@endpoint("GET", "/api/hearings/{hearing_id}/evidence/{evidence_id}/thumbnail",
          summary="A small JPEG picture of the evidence", auth="any", tag="evidence",
          responses={404: "no such evidence or no thumbnail"})
async def thumbnail_file(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "thumbnail")
