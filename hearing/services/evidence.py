"""Evidence before the court: the resumable upload a phone sends it by, the receipt, the
judge's decision, the list, the chain of custody and the stored files.

A submitted file is parsed only in a confined child process (``media.evidence.sandbox``); its
playback copies are made only once the judge accepts it, so nobody can make the court spend
hours of processing on a file it has not admitted. Before that, a preview (a small copy of its
first two minutes) is made when it arrives, so the judge sees what it is before deciding.

The bytes are handled by ``media.evidence`` (streamed to disk, hashed on the way, validated,
stored under their hash); the playback copies and the transcript are made in the background by
``hearing.evidence_jobs``. Every step is an audit row in the hearing's hash chain (who, when,
from which connection, the submitted name and the media facts, as data), written in the same
transaction as the step itself where the step is a database change.

Custody actions: ``evidence.upload_started``, ``evidence.upload_resumed`` (from another
address), ``evidence.upload_refused``, ``evidence.upload_cancelled``, ``evidence.received``,
``evidence.decision``, ``evidence.accessed`` (the original was downloaded); from the
background ``evidence.preview_made``, ``evidence.preview_failed``, ``evidence.derived``,
``evidence.transcode_failed``, ``evidence.transcribed`` and ``evidence.transcription_failed``.

An item belongs to its hearing's case too: accepted, it is before the case's other hearings;
left pending when its hearing ended, the case's judge decides it on the case, and that
``evidence.decision`` row is in the case's chain (see "evidence on the case" below).

Live events (``type: "evidence"``): ``received`` and ``decision`` go to staff and to the
submitter; ``preview``, ``transcode`` and ``transcription`` progress go to staff only."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearing import audit
from hearing.access import (load_case, load_case_evidence, load_evidence, load_hearing,
                            load_presided, require_case_judge, require_own_upload,
                            require_submitter)
from hearing.audit import iso_utc
from hearing.closures import evidence_visible
from hearing.errors import (Busy, Conflict, DomainError, Invalid, NotFound, OutOfSpace,
                            TooLarge, Unavailable, Unprocessable, bad_request, conflict,
                            forbidden, not_found)
from hearing.models import AuditEvent, EvidenceItem, EvidenceStatus, Hearing
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.services.fixity import check_before_serving
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import audit_json
from media.evidence import (EvidenceError, EvidenceRejected, HashMismatch, Receipt,
                            UploadManager, UploadStatus)

Decision = Literal["accept", "reject"]
DECIDED: dict[Decision, EvidenceStatus] = {"accept": "accepted", "reject": "rejected"}
#: The stored files of an item: the original as received, and the copies made from it.
Copy = Literal["original", "preview", "playback", "thumbnail"]

#: The kind of refusal each status of the upload library stands for.
_REFUSALS: dict[int, type[DomainError]] = {
    404: NotFound, 409: Conflict, 413: TooLarge, 422: Unprocessable, 423: Busy,
    503: Unavailable, 507: OutOfSpace}

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
_COPY_EXT = {"video/mp4": ".mp4", "audio/webm": ".webm", "audio/mp4": ".m4a",
             "image/jpeg": ".jpg"}


def _preview(item: EvidenceItem) -> dict:
    """Its preview's blob, type and the seconds it covers (``until_s`` None: all of it)."""
    return (item.media or {}).get("preview") or {}


def clean_text(value: Any, limit: int) -> str:
    """Client-given text kept as data: no control characters, no lone surrogates (which
    neither a UTF-8 file nor PostgreSQL can store), at most ``limit`` characters."""
    text = "" if value is None else str(value)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))
    return text[:limit]


@dataclass(frozen=True)
class Connection:
    """Where a request came from, as the edge saw it; kept in the custody log as data."""
    remote: str | None
    user_agent: str | None = None
    forwarded_for: str | None = None

    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"remote": self.remote,
                                 "user_agent": clean_text(self.user_agent, 300)}
        if self.forwarded_for:
            facts["forwarded_for"] = clean_text(self.forwarded_for, 300)
        return facts


@dataclass(frozen=True)
class StoredFile:
    """A file to hand out: where it is, what it is, and the name to save it under (the
    submitter's for the original, ``fallback`` where that name cannot be used)."""
    path: Path
    sha256: str
    content_type: str
    name: str | None
    fallback: str
    inline: bool


@contextmanager
def _refusals() -> Iterator[None]:
    """The upload library's refusals as domain errors; message, code and details (the offset
    to resume from) are kept."""
    try:
        yield
    except EvidenceError as e:
        raise _REFUSALS.get(e.http_status, Invalid)(e.message, code=e.code, **e.details) \
            from None


def _intake(state: AppState) -> UploadManager:
    if state.evidence.uploads is None:
        raise conflict("evidence intake is starting; try again in a moment")
    return state.evidence.uploads


def _upload_json(st: UploadStatus, hearing_id: int) -> dict:
    body = st.to_json()
    body.pop("meta", None)
    body["url"] = f"/api/hearings/{hearing_id}/evidence/uploads/{st.id}"
    return body


def _check_submitter(tx: Tx, hearing_id: int) -> None:
    require_submitter(tx.s, tx.me, load_hearing(tx.s, hearing_id, tx.me))


def _audit(tx: Tx, hearing_id: int, action: str, data: dict) -> None:
    tx.audit(tx.s.get(Hearing, hearing_id), action, data)


async def _own_upload(state: AppState, caller: Caller, hearing_id: int,
                      upload_id: str) -> UploadStatus:
    """The caller may still submit, and the upload is theirs, for this hearing."""
    await state.transaction(caller, _check_submitter, hearing_id)
    with _refusals():
        st = await _intake(state).status(upload_id)
    require_own_upload(caller, hearing_id, st.meta.get("hearing_id"), st.meta.get("actor"))
    return st


# -- the upload -------------------------------------------------------------------------------

async def start_upload(state: AppState, caller: Caller, hearing_id: int, *, filename: str,
                       size: int, sha256: str | None, content_type: str | None,
                       connection: Connection) -> dict:
    """Begin a resumable upload; its bytes follow with ``append``."""
    await state.transaction(caller, _check_submitter, hearing_id)
    uploads = _intake(state)
    name = clean_text(filename, 500)
    declared_type = clean_text(content_type, 200) or None
    started_by = {"hearing_id": hearing_id, "actor": caller.actor, "kind": caller.kind,
                  "role": caller.role, "name": caller.name, "user_id": caller.user_id,
                  "participant_id": caller.participant_id, **connection.facts()}
    with _refusals():
        st = await uploads.create(filename=name, size=size, sha256=sha256,
                                  content_type=declared_type, meta=started_by)
    try:
        await state.transaction(caller, _audit, hearing_id, "evidence.upload_started", {
            "upload_id": st.id, "filename": name, "size": st.size,
            "declared_sha256": (sha256 or "").lower() or None,
            "content_type": declared_type, "connection": connection.facts()})
    except Exception:
        with suppress(EvidenceError):  # no upload without its custody row
            await uploads.cancel(st.id)
        raise
    return _upload_json(st, hearing_id)


async def upload_status(state: AppState, caller: Caller, hearing_id: int,
                        upload_id: str) -> dict:
    """Where to resume: ``offset`` is how many bytes the server holds durably."""
    return _upload_json(await _own_upload(state, caller, hearing_id, upload_id), hearing_id)


async def append(state: AppState, caller: Caller, hearing_id: int, upload_id: str,
                 offset: int, body: AsyncIterable[bytes], connection: Connection) -> int:
    """Store ``body`` at ``offset`` (which must be where the stored bytes end); returns how
    many bytes are stored now. A body that breaks off keeps what arrived and its error goes
    on to the caller, who asks ``upload_status`` where to resume."""
    st = await _own_upload(state, caller, hearing_id, upload_id)
    if (offset > 0 and st.meta.get("remote") != connection.remote
            and state.evidence.note_resume(st.id, connection.remote)):
        await state.transaction(caller, _audit, hearing_id, "evidence.upload_resumed", {
            "upload_id": st.id, "offset": offset, "connection": connection.facts()})
    with _refusals():
        return (await _intake(state).append(st.id, offset, body)).offset


async def complete_upload(state: AppState, caller: Caller, hearing_id: int, upload_id: str,
                          connection: Connection) -> dict:
    """Check the size and the declared hash, validate, store; the receipt. Asking again (a
    lost answer) gives the same receipt; a refused file is discarded and its refusal logged."""
    st = await _own_upload(state, caller, hearing_id, upload_id)
    with _refusals():
        try:
            receipt = await _intake(state).complete(st.id)
        except (HashMismatch, EvidenceRejected) as e:
            await state.transaction(caller, _audit, hearing_id, "evidence.upload_refused", {
                "upload_id": st.id, "filename": st.filename, "error": e.code,
                "message": e.message, **{k: v for k, v in e.details.items()
                                         if k in ("sha256", "received", "declared", "size",
                                                  "kind")}})
            raise
    try:
        item, created = await state.transaction(caller, _receive, receipt, connection.facts())
    except IntegrityError:  # two completes of one upload raced: the other one won
        item, created = await state.db.run(lambda s: _received(s, receipt.upload_id)), False
    if created:
        publish_item(state, item, "received")
        state.evidence.preview(item)
    return receipt_json(item, receipt)


def _received(s: Session, upload_id: str) -> EvidenceItem | None:
    return s.execute(select(EvidenceItem).where(
        EvidenceItem.upload_id == upload_id)).scalar_one_or_none()


def _receive(tx: Tx, receipt: Receipt, completed_from: dict) -> tuple[EvidenceItem, bool]:
    """The item and its ``evidence.received`` row; the item made the first time, if any."""
    item = _received(tx.s, receipt.upload_id)
    if item is not None:
        return item, False
    meta = receipt.meta
    hearing_id = int(meta["hearing_id"])
    media = receipt.media.to_json() if receipt.media else {}
    shared = tx.s.execute(select(EvidenceItem).where(
        EvidenceItem.sha256 == receipt.sha256,
        EvidenceItem.transcode_state == "done").limit(1)).scalar_one_or_none()
    hearing = tx.s.get(Hearing, hearing_id)
    item = EvidenceItem(
        hearing_id=hearing_id, case_id=hearing.case_id, upload_id=receipt.upload_id,
        sha256=receipt.sha256, size=receipt.size, filename=clean_text(receipt.filename, 500),
        content_type=clean_text(receipt.content_type, 200),
        kind=media.get("kind") or "unknown", media=media, submitted_by=str(meta.get("actor")),
        received_at=datetime.fromisoformat(receipt.received_at), status="pending", reason="",
        transcode_state="pending")
    if shared is not None:  # the same bytes already have their copies
        item.playback_sha256 = shared.playback_sha256
        item.playback_type = shared.playback_type
        item.thumbnail_sha256 = shared.thumbnail_sha256
        item.transcode_state = "done"
    tx.s.add(item)
    tx.s.flush()
    tx.audit(tx.s.get(Hearing, hearing_id), "evidence.received", {
        "evidence_id": item.id, "upload_id": receipt.upload_id, "sha256": receipt.sha256,
        "size": receipt.size, "filename": item.filename, "content_type": item.content_type,
        "kind": item.kind, "started_at": receipt.started_at,
        "received_at": receipt.received_at, "already_stored": receipt.already_stored,
        "submitter": {k: meta.get(k) for k in ("role", "name", "user_id", "participant_id")},
        "connection": {k: meta[k] for k in ("remote", "user_agent", "forwarded_for")
                       if k in meta},
        "completed_from": completed_from,
        "media": {k: media.get(k) for k in ("kind", "label", "container", "duration_s",
                                             "has_audio", "has_video", "width", "height",
                                             "tags")}})
    return item, True


async def cancel_upload(state: AppState, caller: Caller, hearing_id: int,
                        upload_id: str) -> None:
    """Give up an unfinished upload (a finished one only loses its repeatable receipt)."""
    st = await _own_upload(state, caller, hearing_id, upload_id)
    with _refusals():
        await _intake(state).cancel(st.id)
    await state.transaction(caller, _audit, hearing_id, "evidence.upload_cancelled",
                            {"upload_id": st.id, "offset": st.offset, "completed": st.completed})


# -- the court's side -------------------------------------------------------------------------

class EvidenceFilters(TypedDict, total=False):
    status: EvidenceStatus
    kind: str


def _list(tx: Tx, hearing_id: int, f: EvidenceFilters,
          req: PageRequest) -> tuple[list[EvidenceItem], str | None]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    q = select(EvidenceItem).where(
        (EvidenceItem.hearing_id == h.id)
        | ((EvidenceItem.case_id == h.case_id) & (EvidenceItem.status == "accepted")))
    if tx.me.kind != "staff":  # may_see_evidence, as a condition the page is cut by
        seen = EvidenceItem.submitted_by == tx.me.actor
        if tx.me.kind == "party":
            seen |= EvidenceItem.status == "accepted"
        q = q.where(seen)
    q = q.where(evidence_visible(tx.me))  # each item's own access level
    if "status" in f:
        q = q.where(EvidenceItem.status == f["status"])
    if "kind" in f:
        q = q.where(EvidenceItem.kind == f["kind"])
    return page(tx.s, q, EvidenceItem.id, req, lambda item: item)


async def list_evidence(state: AppState, caller: Caller, hearing_id: int, f: EvidenceFilters,
                        req: PageRequest) -> dict:
    """Staff see every item of the hearing and what the court accepted in the case's other
    hearings (``carried_from`` names that hearing); a participant sees what they submitted; a
    party's account also the case's accepted evidence."""
    found, cursor = await state.transaction(caller, _list, hearing_id, f, req)
    return {"evidence": [item_json(state, i, via=hearing_id) for i in found],
            "next_cursor": cursor}


def _load(tx: Tx, hearing_id: int, evidence_id: int) -> EvidenceItem:
    return load_evidence(tx.s, hearing_id, evidence_id, tx.me)


async def get_evidence(state: AppState, caller: Caller, hearing_id: int,
                       evidence_id: int) -> dict:
    """One item with its media facts and transcript."""
    item = await state.transaction(caller, _load, hearing_id, evidence_id)
    return item_json(state, item, full=True, via=hearing_id)


def _decide(tx: Tx, hearing_id: int, evidence_id: int, status: EvidenceStatus,
            reason: str) -> tuple[EvidenceItem, bool]:
    h = load_presided(tx.s, hearing_id, tx.me)
    item = tx.s.get(EvidenceItem, evidence_id)
    if item is None or item.hearing_id != hearing_id:
        raise not_found("no such evidence in this hearing")
    if item.status == status and item.reason == reason:
        return item, False  # the same decision again (a retried request)
    if h.state == "closed":
        if item.status == "pending":
            raise conflict("the hearing is closed; the case's judge decides this evidence on "
                           "the case", case_id=h.case_id)
        raise conflict("the hearing is closed; its evidence decisions are final")
    if item.status != "pending" and item.reason == reason:
        raise conflict("a decision is changed only with a new reason", current=item.status)
    previous = {"status": item.status, "reason": item.reason or None}
    item.status, item.reason = status, reason
    item.decided_by, item.decided_at = tx.me.user_id, datetime.now(timezone.utc)
    tx.audit(h, "evidence.decision", {"evidence_id": item.id, "sha256": item.sha256,
                                      "decision": status, "reason": reason,
                                      "previous": previous})
    return item, True


async def decide(state: AppState, caller: Caller, hearing_id: int, evidence_id: int,
                 decision: Decision, reason: str) -> dict:
    """The presiding judge accepts or rejects, always with a reason; a decision is changed
    only with a new reason, and not once the hearing is closed. Accepted evidence then gets
    its playback copies and its sound is transcribed."""
    item, changed = await _record_decision(state, caller, _decide, hearing_id, evidence_id,
                                           decision, reason)
    if changed:
        publish_item(state, item, "decision")
    return item_json(state, item, full=True)


async def _record_decision(state: AppState, caller: Caller, decide_in: Callable[..., Any],
                           scope_id: int, evidence_id: int, decision: Decision,
                           reason: str) -> tuple[EvidenceItem, bool]:
    """Record a decision with its reason through ``decide_in`` (on the hearing or on the
    case); evidence whose decision changed gets its playback copies and transcript queued."""
    reason = clean_text(reason, 4000).strip()
    if not reason:
        raise bad_request("reason: say why", field="reason")
    item, changed = await state.transaction(caller, decide_in, scope_id, evidence_id,
                                            DECIDED[decision], reason)
    if changed:
        state.evidence.convert(item)
        state.evidence.queue_transcription(item)
    return item, changed


class CustodyFilters(TypedDict, total=False):
    action: str


def _custody_of(tx: Tx, item: EvidenceItem, f: CustodyFilters, req: PageRequest) -> dict:
    """Rows of its hearing's chain and of its case's (decisions taken after the hearing), in
    the order they were written."""
    q = select(AuditEvent).where(
        AuditEvent.hearing_id.in_((item.hearing_id, audit.case_chain(item.case_id))),
        AuditEvent.action.like("evidence.%"),
        (AuditEvent.data["evidence_id"].as_integer() == item.id)
        | (AuditEvent.data["upload_id"].as_string() == item.upload_id))
    if "action" in f:
        q = q.where(AuditEvent.action == f["action"])
    events, cursor = page(tx.s, q, AuditEvent.id, req, audit_json)
    return {"evidence_id": item.id, "sha256": item.sha256, "events": events,
            "next_cursor": cursor}


def _custody(tx: Tx, hearing_id: int, evidence_id: int, f: CustodyFilters,
             req: PageRequest) -> dict:
    return _custody_of(tx, load_evidence(tx.s, hearing_id, evidence_id, tx.me), f, req)


async def custody(state: AppState, caller: Caller, hearing_id: int, evidence_id: int,
                  f: CustodyFilters, req: PageRequest) -> dict:
    """The chain of custody: every audit row about this item, from its upload on."""
    return await state.transaction(caller, _custody, hearing_id, evidence_id, f, req)


def _open(tx: Tx, hearing_id: int, evidence_id: int, which: Copy,
          connection: dict) -> StoredFile:
    return _stored(tx, load_evidence(tx.s, hearing_id, evidence_id, tx.me), which, connection)


def _stored(tx: Tx, item: EvidenceItem, which: Copy, connection: dict) -> StoredFile:
    fallback = f"evidence-{item.id}"
    name: str | None
    if which == "original":
        sha, name, inline = item.sha256, item.filename, False
        ctype = _MIME.get(((item.media or {}).get("container"), item.kind),
                          "application/octet-stream")
    elif which in ("playback", "preview"):
        if which == "playback":
            sha, ctype = item.playback_sha256, item.playback_type
        else:
            sha, ctype = _preview(item).get("sha256"), _preview(item).get("mime")
        ctype, inline = ctype or "application/octet-stream", True
        name = f"{fallback}-{which}{_COPY_EXT.get(ctype, '')}"
    else:
        sha, ctype, inline = item.thumbnail_sha256, "image/jpeg", True
        name = f"{fallback}-thumbnail.jpg"
    if not sha:
        raise not_found(f"no {which} copy yet (transcode_state: {item.transcode_state})")
    path = tx.state.evidence.blobs.path_for(sha)
    if not path.is_file():
        raise not_found(f"the {which} file is missing from the store; run courtroom fixity")
    if which == "original":
        tx.audit(tx.s.get(Hearing, item.hearing_id), "evidence.accessed", {
            "evidence_id": item.id, "sha256": sha, "what": "original",
            "connection": connection})
    return StoredFile(path, sha, ctype, name, fallback, inline)


async def open_file(state: AppState, caller: Caller, hearing_id: int, evidence_id: int,
                    which: Copy, connection: Connection) -> StoredFile:
    """A stored file of an item; handing out the original is a custody fact of its own.
    Refused if its bytes no longer match their SHA-256."""
    f = await state.transaction(caller, _open, hearing_id, evidence_id, which,
                                connection.facts())
    await check_before_serving(state, hearing_id, f.path, f.sha256,
                               {"evidence_id": evidence_id, "what": which})
    return f


# -- evidence on the case ----------------------------------------------------------------------
# An item belongs to its case as well as to the hearing it was submitted in. What the court
# accepted is before every other hearing of the case; what was still undecided when its
# hearing ended stays pending on the case until the case's judge decides it there. Such a late
# decision is a row of the case's chain (hearing.audit.case_chain): the hearing's record, and
# the stenogram versions already signed for it, stay as they were; a version of that hearing
# made after the decision lists the item with the hearing's other accepted evidence.

class CaseEvidenceFilters(TypedDict, total=False):
    status: EvidenceStatus
    hearing_id: int


def _case_list(tx: Tx, case_id: int, f: CaseEvidenceFilters,
               req: PageRequest) -> tuple[list[EvidenceItem], str | None]:
    case = load_case(tx.s, case_id, tx.me)
    q = select(EvidenceItem).where(EvidenceItem.case_id == case.id)
    if "status" in f:
        q = q.where(EvidenceItem.status == f["status"])
    if "hearing_id" in f:
        q = q.where(EvidenceItem.hearing_id == f["hearing_id"])
    if tx.me.kind != "staff":
        q = q.where((EvidenceItem.status == "accepted")
                    | (EvidenceItem.submitted_by == tx.me.actor))
    q = q.where(evidence_visible(tx.me))  # each item's own access level
    return page(tx.s, q, EvidenceItem.id, req, lambda item: item)


async def list_case_evidence(state: AppState, caller: Caller, case_id: int,
                             f: CaseEvidenceFilters, req: PageRequest) -> dict:
    """The case's evidence from all its hearings: all of it for the court's staff; for a
    party's account what the court accepted and what it submitted itself."""
    found, cursor = await state.transaction(caller, _case_list, case_id, f, req)
    return {"evidence": [item_json(state, i, on_case=True) for i in found],
            "next_cursor": cursor}


def _case_item(tx: Tx, case_id: int, evidence_id: int) -> EvidenceItem:
    return load_case_evidence(tx.s, case_id, evidence_id, tx.me)[1]


async def get_case_evidence(state: AppState, caller: Caller, case_id: int,
                            evidence_id: int) -> dict:
    item = await state.transaction(caller, _case_item, case_id, evidence_id)
    return item_json(state, item, full=True, on_case=True)


def _decided_on_case(tx: Tx, item: EvidenceItem) -> bool:
    rows = tx.s.execute(select(AuditEvent.data).where(
        AuditEvent.hearing_id == audit.case_chain(item.case_id),
        AuditEvent.action == "evidence.decision")).scalars()
    return any((d or {}).get("evidence_id") == item.id for d in rows)


def _decide_on_case(tx: Tx, case_id: int, evidence_id: int, status: EvidenceStatus,
                    reason: str) -> tuple[EvidenceItem, bool]:
    case, item = load_case_evidence(tx.s, case_id, evidence_id, tx.me)
    require_case_judge(tx.me, case)
    if item.status == status and item.reason == reason:
        return item, False  # the same decision again (a retried request)
    h = tx.s.get(Hearing, item.hearing_id)
    if h.state not in ("closed", "cancelled"):
        raise conflict(f"its hearing is {h.state}: the presiding judge decides it there",
                       hearing_id=h.id)
    if item.status != "pending" and not _decided_on_case(tx, item):
        raise conflict("it was decided in its hearing, and that decision is final",
                       current=item.status)
    if item.status != "pending" and item.reason == reason:
        raise conflict("a decision is changed only with a new reason", current=item.status)
    previous = {"status": item.status, "reason": item.reason or None}
    item.status, item.reason = status, reason
    item.decided_by, item.decided_at = tx.me.user_id, datetime.now(timezone.utc)
    audit.append(tx.s, audit.case_chain(case.id), tx.me.actor, "evidence.decision", {
        "evidence_id": item.id, "hearing_id": h.id, "sha256": item.sha256, "decision": status,
        "reason": reason, "previous": previous})
    return item, True


async def decide_on_case(state: AppState, caller: Caller, case_id: int, evidence_id: int,
                         decision: Decision, reason: str) -> dict:
    """The case's judge decides evidence left pending when its hearing ended (and changes such
    a decision only with a new reason). Accepted, it gets its playback copies and transcript
    exactly as evidence accepted during a hearing does."""
    item, _ = await _record_decision(state, caller, _decide_on_case, case_id, evidence_id,
                                     decision, reason)
    return item_json(state, item, full=True, on_case=True)


def _case_custody(tx: Tx, case_id: int, evidence_id: int, f: CustodyFilters,
                  req: PageRequest) -> dict:
    item = load_case_evidence(tx.s, case_id, evidence_id, tx.me)[1]
    if tx.me.kind != "staff":
        raise forbidden("the chain of custody is the court's")
    return _custody_of(tx, item, f, req)


async def case_custody(state: AppState, caller: Caller, case_id: int, evidence_id: int,
                       f: CustodyFilters, req: PageRequest) -> dict:
    return await state.transaction(caller, _case_custody, case_id, evidence_id, f, req)


def _open_on_case(tx: Tx, case_id: int, evidence_id: int, which: Copy,
                  connection: dict) -> tuple[StoredFile, int]:
    item = load_case_evidence(tx.s, case_id, evidence_id, tx.me)[1]
    return _stored(tx, item, which, connection), item.hearing_id


async def open_case_file(state: AppState, caller: Caller, case_id: int, evidence_id: int,
                         which: Copy, connection: Connection) -> StoredFile:
    """A stored file of the case's evidence (as ``open_file``)."""
    f, hearing_id = await state.transaction(caller, _open_on_case, case_id, evidence_id, which,
                                            connection.facts())
    await check_before_serving(state, hearing_id, f.path, f.sha256,
                               {"evidence_id": evidence_id, "what": which})
    return f


# -- what the API and the live events show ----------------------------------------------------

def receipt_json(item: EvidenceItem, receipt: Receipt) -> dict[str, Any]:
    """What the submitter keeps: the hash, the size and the time the court received it."""
    return {"evidence_id": item.id, "hearing_id": item.hearing_id, "upload_id": item.upload_id,
            "sha256": item.sha256, "size": item.size, "received_at": iso_utc(item.received_at),
            "kind": item.kind, "filename": item.filename, "content_type": item.content_type,
            "submitted_by": item.submitted_by, "status": item.status,
            "started_at": receipt.started_at, "already_stored": receipt.already_stored,
            "media": item.media}


def item_json(state: AppState, item: EvidenceItem, full: bool = False, *,
              via: int | None = None, on_case: bool = False) -> dict[str, Any]:
    """``via``: the hearing whose list shows it (evidence carried from another hearing of the
    case is served there too); ``on_case``: shown on the case, with the case's links."""
    if on_case:
        base = f"/api/cases/{item.case_id}/evidence/{item.id}"
    else:
        base = f"/api/hearings/{via or item.hearing_id}/evidence/{item.id}"
    conversion, conversion_progress = state.evidence.conversion_of(item)
    transcription, transcription_progress = state.evidence.transcription_of(item)
    preview, preview_progress = state.evidence.preview_of(item)
    out = {"id": item.id, "hearing_id": item.hearing_id, "case_id": item.case_id,
           "carried_from": item.hearing_id if via not in (None, item.hearing_id) else None,
           "sha256": item.sha256,
           "size": item.size, "filename": item.filename, "content_type": item.content_type,
           "kind": item.kind, "submitted_by": item.submitted_by,
           "received_at": iso_utc(item.received_at), "status": item.status,
           "reason": item.reason,
           "decided_at": iso_utc(item.decided_at) if item.decided_at else None,
           "original_url": f"{base}/original",
           "playback_url": f"{base}/playback" if item.playback_sha256 else None,
           "playback_type": item.playback_type,
           "thumbnail_url": f"{base}/thumbnail" if item.thumbnail_sha256 else None,
           "preview_url": f"{base}/preview" if preview == "done" else None,
           "preview_type": _preview(item).get("mime"),
           "preview_until_s": _preview(item).get("until_s"),
           "preview_state": preview, "preview_progress": preview_progress,
           "transcode_state": conversion, "transcode_progress": conversion_progress,
           "transcode_error": (item.media or {}).get("transcode_error")
           if conversion == "failed" else None,
           "transcription_state": transcription,
           "transcription_progress": transcription_progress,
           "duration_s": (item.media or {}).get("duration_s"),
           "access_level": item.access_level or "public"}
    if full:
        out["media"] = item.media
        out["playback_sha256"] = item.playback_sha256
        out["thumbnail_sha256"] = item.thumbnail_sha256
        out["transcript"] = item.transcript
    return out


def publish_item(state: AppState, item: EvidenceItem, event: Literal["received", "decision"],
                 ) -> None:
    """To the court's staff, and to the participant who submitted the item: those of them
    who hold the item's level (hearing.hub)."""
    message = {"type": "evidence", "event": event, "evidence": item_json(state, item),
               "level": item.access_level or "public"}
    state.hub.publish(item.hearing_id, message, actor=item.submitted_by)
