"""Evidence in a hearing: who may submit it, the custody log, the database rows, and the
background work after intake (playback copies, transcription of accepted sound).

The bytes are handled by ``media.evidence`` (resumable uploads hashed while streaming,
validation, content-addressed blobs, transcoding); this module adds the court's side: every
step is an audit row in the hearing's hash chain (who, when, from which connection, the
submitted name and the media facts, as data), and the judge's decisions.

Custody actions in the audit log: ``evidence.upload_started``, ``evidence.upload_refused``,
``evidence.upload_cancelled``, ``evidence.received``, ``evidence.derived``,
``evidence.transcode_failed``, ``evidence.decision``, ``evidence.transcribed``,
``evidence.transcription_failed``, ``evidence.accessed`` (the original was downloaded).

WebSocket events (``type: "evidence"``): ``received`` and ``decision`` go to staff and to the
submitter; ``transcode`` and ``transcription`` progress go to staff only."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearing.errors import conflict, forbidden, not_found
from hearing.audit import iso_utc
from hearing.models import EvidenceItem, Hearing, Participant, Recording, RecordingChunk
from hearing.access import is_assigned
from hearing.roles import Caller
from hearing.state import AppState
from media.blobstore import BlobStore, sha256_file
from media.evidence import (Finding, FixityReport, Receipt, TranscodeJob, TranscodeOptions,
                            Transcoder, UploadManager, UploadOptions, UploadStatus, check_fixity,
                            iter_audio_16k)
from media.evidence.errors import QueueFull

log = logging.getLogger(__name__)

#: Participant roles that may put evidence before the court (not observers, not interpreters).
SUBMITTER_ROLES = frozenset({"plaintiff", "defendant", "prosecutor", "defence_lawyer",
                             "representative", "witness", "expert"})
#: Presences in which a participant may submit: in the lobby before the hearing, or admitted.
SUBMIT_PRESENCE = frozenset({"lobby", "admitted"})
DECISIONS = {"accept": "accepted", "reject": "rejected"}
#: Sound is transcribed in blocks of this many seconds, so an hour of audio never sits in
#: memory whole (a word cut at a block edge is the price).
TRANSCRIBE_BLOCK_S = 600.0
EXPIRE_EVERY_S = 3600.0


def clean_text(value: Any, limit: int) -> str:
    """Client-given text kept as data: no control characters, no lone surrogates (which
    neither a UTF-8 file nor PostgreSQL can store), at most ``limit`` characters."""
    text = "" if value is None else str(value)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs"))
    return text[:limit]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# -- who may do what ---------------------------------------------------------------------------

def load_hearing_for_evidence(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    """The hearing, if the caller belongs to it at all (its staff, or its own participant)."""
    h = s.get(Hearing, hearing_id)
    if h is None:
        raise not_found("no such hearing")
    if caller.kind == "participant":
        if caller.hearing_id != h.id:
            raise forbidden("you are not part of this hearing")
    elif not (caller.role == "admin" or is_assigned(caller, h)):
        raise forbidden("you are not part of this hearing")
    return h


def require_submitter(s: Session, caller: Caller, h: Hearing) -> None:
    """Staff of the hearing always; participants by role, while in the lobby or admitted;
    nobody once the hearing is closed."""
    if caller.kind == "participant":
        if caller.role not in SUBMITTER_ROLES:
            raise forbidden(f"a participant in the role {caller.role} cannot submit evidence")
        p = s.get(Participant, caller.participant_id)
        if p is None or p.hearing_id != h.id:
            raise forbidden("you are not part of this hearing")
        if p.presence == "ejected":
            raise forbidden("you were removed from the hearing")
        if p.presence not in SUBMIT_PRESENCE:
            raise forbidden("join the hearing before submitting evidence")
    if h.state == "closed":
        raise conflict("the hearing is closed; evidence can no longer be submitted")


def has_sound(item: EvidenceItem) -> bool:
    """Worth transcribing: audio or video evidence with a soundtrack."""
    return item.kind in ("audio", "video") and bool((item.media or {}).get("has_audio"))


def may_see_item(caller: Caller, item: EvidenceItem) -> bool:
    """Staff of the hearing see everything; a participant sees what they submitted."""
    return caller.kind == "staff" or item.submitted_by == caller.actor


def connection_facts(request: web.Request) -> dict[str, Any]:
    """From which connection: the peer address and what the client said about itself."""
    facts: dict[str, Any] = {"remote": request.remote,
                             "user_agent": clean_text(request.headers.get("User-Agent"), 300)}
    fwd = request.headers.get("X-Forwarded-For")
    if fwd:
        facts["forwarded_for"] = clean_text(fwd, 300)
    return facts


def upload_meta(caller: Caller, request: web.Request, hearing_id: int) -> dict[str, Any]:
    """What the upload remembers about who started it (persisted beside the part file)."""
    return {"hearing_id": hearing_id, "actor": caller.actor, "kind": caller.kind,
            "role": caller.role, "name": caller.name, "user_id": caller.user_id,
            "participant_id": caller.participant_id, **connection_facts(request)}


def require_upload_owner(caller: Caller, upload: UploadStatus, hearing_id: int) -> None:
    """Only the person who started an upload may continue, finish or cancel it."""
    meta = upload.meta or {}
    if meta.get("hearing_id") != hearing_id or meta.get("actor") != caller.actor:
        raise forbidden("this upload was started by someone else")


# -- JSON shapes ------------------------------------------------------------------------------

def receipt_json(item: EvidenceItem, receipt: Receipt | None = None) -> dict[str, Any]:
    """What the submitter keeps: the hash, the size and the time the court received it."""
    body = {"evidence_id": item.id, "hearing_id": item.hearing_id, "upload_id": item.upload_id,
            "sha256": item.sha256, "size": item.size, "received_at": iso_utc(item.received_at),
            "kind": item.kind, "filename": item.filename, "content_type": item.content_type,
            "submitted_by": item.submitted_by, "status": item.status}
    if receipt is not None:
        body["started_at"] = receipt.started_at
        body["already_stored"] = receipt.already_stored
    body["media"] = item.media
    return body


# -- the service ------------------------------------------------------------------------------

class TranscriptionStopped(Exception):
    """The server is shutting down; the item stays untranscribed and is resumed later."""


@dataclass
class Progress:
    state: str  # queued | running | done | failed
    progress: float = 0.0
    error: str | None = None


@dataclass
class EvidenceService:
    """Owns the UploadManager and the Transcoder of one server, and the transcription queue.
    Created by ``setup_evidence``; started and closed with the aiohttp app."""

    state: AppState
    uploads: UploadManager | None = None
    transcoder: Transcoder | None = None
    transcription: dict[int, Progress] = field(default_factory=dict)
    _tq: asyncio.Queue | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _asr_pool: ThreadPoolExecutor | None = None
    _decoder: Any = None
    _decoder_lock: asyncio.Lock | None = None
    jobs: dict[str, TranscodeJob] = field(default_factory=dict)  # by original's SHA-256
    _closing: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _resumed_from: dict[str, str] = field(default_factory=dict)  # upload id -> address

    def note_resume(self, upload_id: str, remote: str | None) -> bool:
        """True the first time an upload continues from a new address (a custody fact worth
        a row: the phone switched networks), not on every chunk."""
        if self._resumed_from.get(upload_id) == remote:
            return False
        if len(self._resumed_from) > 10_000:  # finished uploads are never asked again
            self._resumed_from.clear()
        self._resumed_from[upload_id] = str(remote)
        return True

    @property
    def blobs(self) -> BlobStore:
        return self.state.live.blobs

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.state.config
        loop = asyncio.get_running_loop()
        self.uploads = UploadManager(self.blobs, UploadOptions(
            max_bytes=cfg.evidence_max_bytes, min_free_bytes=cfg.evidence_min_free_bytes))
        # A SIGKILL mid-upload left a part file: cut it back to its last checkpoint (never a
        # blob), so the client resumes where the server last said it was.
        await loop.run_in_executor(None, self.uploads.recover)
        self.transcoder = Transcoder(self.blobs, TranscodeOptions())
        self._tq = asyncio.Queue()  # evidence ids, each at most once: bounded by the table
        self._decoder_lock = asyncio.Lock()
        self._asr_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-asr")
        self._spawn(self._transcription_worker())
        self._spawn(self._expire_loop())
        await self._resume()

    async def close(self) -> None:
        self._closing = True  # jobs that end from here on are resumed at the next start
        self._stop.set()
        if self.transcoder is not None:
            await self.transcoder.close()
        while self._tasks:
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._asr_pool is not None:  # a running transcription stops at its next batch
            await asyncio.get_running_loop().run_in_executor(None, self._asr_pool.shutdown, True)

    def _spawn(self, coro) -> asyncio.Task | None:  # noqa: ANN001
        if self._closing:
            coro.close()
            return None
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _resume(self) -> None:
        """After a restart: playback copies not yet made, transcripts not yet written."""
        def work(s):
            todo = s.execute(select(EvidenceItem.sha256).where(
                EvidenceItem.transcode_state.in_(("pending", "queued", "running")))).scalars()
            untranscribed = s.execute(select(EvidenceItem).where(
                EvidenceItem.status == "accepted", EvidenceItem.transcript.is_(None))).scalars()
            return sorted(set(todo)), [i.id for i in untranscribed if has_sound(i)]
        shas, ids = await self.state.db.run(work)
        for sha in shas:
            self.submit_transcode(sha)
        for eid in ids:
            self.queue_transcription(eid)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRE_EVERY_S)
            try:
                gone = await self.uploads.expire()
                if gone:
                    log.info("expired %d unfinished evidence uploads", len(gone))
            except Exception:
                log.exception("expiring evidence uploads failed")

    # -- intake -------------------------------------------------------------------------------
    async def record_receipt(self, caller: Caller, request: web.Request,
                             receipt: Receipt) -> tuple[EvidenceItem, bool]:
        """The custody record and the database row of a committed upload. Idempotent: a
        repeated ``complete`` returns the row made the first time. Returns (item, created)."""
        state = self.state
        meta = receipt.meta or {}
        hid = int(meta["hearing_id"])
        media = receipt.media.to_json() if receipt.media else {}
        received = datetime.fromisoformat(receipt.received_at)

        def existing(s):
            return s.execute(select(EvidenceItem).where(
                EvidenceItem.upload_id == receipt.upload_id)).scalar_one_or_none()

        def work(s):
            item = existing(s)
            if item is not None:
                return item, False
            h = s.get(Hearing, hid)
            shared = s.execute(select(EvidenceItem).where(
                EvidenceItem.sha256 == receipt.sha256,
                EvidenceItem.transcode_state == "done").limit(1)).scalar_one_or_none()
            item = EvidenceItem(
                hearing_id=hid, upload_id=receipt.upload_id, sha256=receipt.sha256,
                size=receipt.size, filename=clean_text(receipt.filename, 500),
                content_type=clean_text(receipt.content_type, 200),
                kind=media.get("kind") or "unknown", media=media,
                submitted_by=str(meta.get("actor")), received_at=received, status="pending",
                reason="", transcode_state="pending")
            if shared is not None:  # the same bytes already have their copies
                item.playback_sha256 = shared.playback_sha256
                item.playback_type = shared.playback_type
                item.thumbnail_sha256 = shared.thumbnail_sha256
                item.transcode_state = "done"
            s.add(item)
            s.flush()
            state.audit(s, h, str(meta.get("actor")), "evidence.received", {
                "evidence_id": item.id, "upload_id": receipt.upload_id,
                "sha256": receipt.sha256, "size": receipt.size,
                "filename": item.filename, "content_type": item.content_type,
                "kind": item.kind, "started_at": receipt.started_at,
                "received_at": receipt.received_at, "already_stored": receipt.already_stored,
                "submitter": {k: meta.get(k) for k in ("role", "name", "user_id",
                                                        "participant_id")},
                "connection": {k: meta[k] for k in ("remote", "user_agent", "forwarded_for")
                               if k in meta},
                "completed_from": connection_facts(request),
                "media": {k: media.get(k) for k in ("kind", "label", "container", "duration_s",
                                                     "has_audio", "has_video", "width",
                                                     "height", "tags")}})
            return item, True

        try:
            item, created = await state.db.run(work)
        except IntegrityError:  # two completes of one upload raced: the other one won
            item, created = await state.db.run(existing), False
        if created:
            if item.transcode_state != "done":
                self.submit_transcode(item.sha256)
            self.publish_item(item, "received")
        return item, created

    async def audit(self, hearing_id: int, actor: str, action: str, data: dict) -> None:
        def work(s):
            self.state.audit(s, s.get(Hearing, hearing_id), actor, action, data)
        await self.state.db.run(work)

    # -- events ---------------------------------------------------------------------------------
    def publish_item(self, item: EvidenceItem, event: str) -> None:
        """To staff, and to the participant who submitted the item."""
        message = {"type": "evidence", "event": event, "evidence": self.item_json(item)}
        self.state.hub.publish(item.hearing_id, message, only=lambda client: (
            client.staff or getattr(client.caller, "actor", None) == item.submitted_by))

    def item_json(self, item: EvidenceItem, full: bool = False) -> dict[str, Any]:
        base = f"/api/hearings/{item.hearing_id}/evidence/{item.id}"
        job = self.jobs.get(item.sha256)
        if job is not None and item.transcode_state != "done" and job.state in (
                "queued", "running"):
            tstate, tprogress = job.state, round(job.progress, 3)
        else:
            tstate = item.transcode_state
            tprogress = 1.0 if tstate == "done" else 0.0
        tr = self.transcription.get(item.id)
        if item.transcript is not None:
            sstate, sprogress = "done", 1.0
        elif tr is not None:
            sstate, sprogress = tr.state, round(tr.progress, 3)
        else:
            sstate, sprogress = "none", 0.0
        out = {"id": item.id, "hearing_id": item.hearing_id, "sha256": item.sha256,
               "size": item.size, "filename": item.filename, "content_type": item.content_type,
               "kind": item.kind, "submitted_by": item.submitted_by,
               "received_at": iso_utc(item.received_at), "status": item.status,
               "reason": item.reason, "decided_at": iso_utc(item.decided_at)
               if item.decided_at else None,
               "original_url": f"{base}/original",
               "playback_url": f"{base}/playback" if item.playback_sha256 else None,
               "playback_type": item.playback_type,
               "thumbnail_url": f"{base}/thumbnail" if item.thumbnail_sha256 else None,
               "transcode_state": tstate, "transcode_progress": tprogress,
               "transcription_state": sstate, "transcription_progress": sprogress,
               "duration_s": (item.media or {}).get("duration_s")}
        if full:
            out["media"] = item.media
            out["playback_sha256"] = item.playback_sha256
            out["thumbnail_sha256"] = item.thumbnail_sha256
            out["transcript"] = item.transcript
        return out

    # -- playback copies ----------------------------------------------------------------------
    def submit_transcode(self, sha256: str) -> TranscodeJob | None:
        """Queue the copies of an original; when the queue is full the rows stay "pending" and
        are submitted again when a job finishes (or at the next start)."""
        if self.transcoder is None:
            return None
        try:
            job = self.transcoder.submit(sha256, on_progress=self._on_transcode)
        except QueueFull:
            log.warning("transcode queue full; %s waits", sha256)
            return None
        self.jobs[sha256] = job
        return job

    def _on_transcode(self, job: TranscodeJob) -> None:
        if job.state in ("queued", "running"):
            self._spawn(self._publish_transcode(job))
        elif job.state in ("done", "failed"):
            self._spawn(self._transcode_finished(job))
        # "cancelled" is a shutdown: the rows stay pending and are resumed at the next start

    async def _items_of(self, sha256: str) -> list[tuple[int, int]]:
        def work(s):
            return [(i.id, i.hearing_id) for i in s.execute(select(EvidenceItem).where(
                EvidenceItem.sha256 == sha256, EvidenceItem.transcode_state != "done")).scalars()]
        return await self.state.db.run(work)

    async def _publish_transcode(self, job: TranscodeJob) -> None:
        for eid, hid in await self._items_of(job.source_sha256):
            self.state.hub.publish(hid, {"type": "evidence", "event": "transcode",
                                         "evidence_id": eid, "state": job.state,
                                         "progress": round(job.progress, 3)}, staff_only=True)

    async def _transcode_finished(self, job: TranscodeJob) -> None:
        state = self.state
        if self.jobs.get(job.source_sha256) is job:
            del self.jobs[job.source_sha256]
        derivs = {d.role: d for d in job.derivatives}
        playback = derivs.get("playback") or derivs.get("display")
        thumb = derivs.get("thumbnail")

        def work(s):
            done = []
            for item in s.execute(select(EvidenceItem).where(
                    EvidenceItem.sha256 == job.source_sha256,
                    EvidenceItem.transcode_state != "done")).scalars():
                h = s.get(Hearing, item.hearing_id)
                if job.state == "done":
                    item.transcode_state = "done"
                    item.playback_sha256 = playback.sha256 if playback else None
                    item.playback_type = playback.mime if playback else None
                    item.thumbnail_sha256 = thumb.sha256 if thumb else None
                    state.audit(s, h, "server", "evidence.derived", {
                        "evidence_id": item.id, "source_sha256": job.source_sha256,
                        "derivatives": [d.to_json() for d in job.derivatives]})
                else:
                    item.transcode_state = "failed"
                    state.audit(s, h, "server", "evidence.transcode_failed", {
                        "evidence_id": item.id, "source_sha256": job.source_sha256,
                        "error": job.error})
                done.append((item.id, item.hearing_id))
            return done

        try:
            for eid, hid in await state.db.run(work):
                state.hub.publish(hid, {
                    "type": "evidence", "event": "transcode", "evidence_id": eid,
                    "state": job.state, "progress": 1.0 if job.state == "done" else 0.0,
                    "error": job.error,
                    "playback_url": f"/api/hearings/{hid}/evidence/{eid}/playback"
                    if playback else None,
                    "thumbnail_url": f"/api/hearings/{hid}/evidence/{eid}/thumbnail"
                    if thumb else None}, staff_only=True)
        except Exception:
            log.exception("could not record the playback copies of %s", job.source_sha256)
        await self._pump_transcodes()

    async def _pump_transcodes(self) -> None:
        """Submit originals that found the queue full earlier."""
        if self.transcoder is None:
            return
        def work(s):
            return sorted(set(s.execute(select(EvidenceItem.sha256).where(
                EvidenceItem.transcode_state == "pending")).scalars()))
        for sha in await self.state.db.run(work):
            if sha not in self.jobs and self.submit_transcode(sha) is None:
                break

    # -- transcription ------------------------------------------------------------------------
    def queue_transcription(self, evidence_id: int) -> None:
        """After the judge accepts an item with sound (and at start for those not done)."""
        if not self.state.config.transcribe_evidence or self._tq is None:
            return
        current = self.transcription.get(evidence_id)
        if current is not None and current.state in ("queued", "running"):
            return
        self.transcription[evidence_id] = Progress("queued")
        self._tq.put_nowait(evidence_id)

    async def _transcription_worker(self) -> None:
        while True:
            eid = await self._tq.get()
            try:
                await self._transcribe(eid)
            except (asyncio.CancelledError, TranscriptionStopped):
                raise
            except Exception as exc:
                log.exception("transcribing evidence %s failed", eid)
                self.transcription[eid] = Progress("failed", error=str(exc))
                await self._transcription_failed(eid, str(exc))

    async def _get_decoder(self):  # noqa: ANN202
        """A Decoder of its own (Decoder objects are not thread-safe) over the model the live
        transcriber loads: ``load_model`` shares the weights when the options are the same."""
        async with self._decoder_lock:
            if self._decoder is None:
                from asr.decoder import Decoder
                from asr.model import ModelOptions, load_model
                cfg = self.state.config
                options = ModelOptions(model_dir=getattr(cfg, "asr_model_dir", "") or None,
                                       device=getattr(cfg, "asr_device", "cpu"),
                                       compute_type=getattr(cfg, "asr_compute_type", "int8"))
                loop = asyncio.get_running_loop()
                self._decoder = await loop.run_in_executor(
                    self._asr_pool, lambda: Decoder(load_model(options)))
            return self._decoder

    async def _transcribe(self, eid: int) -> None:
        state = self.state

        def load(s):
            item = s.get(EvidenceItem, eid)
            if item is None or item.status != "accepted" or item.transcript is not None:
                return None
            h = s.get(Hearing, item.hearing_id)
            return item, h.language
        found = await state.db.run(load)
        if found is None:
            self.transcription.pop(eid, None)
            return
        item, language = found
        progress = self.transcription.setdefault(eid, Progress("queued"))
        progress.state = "running"
        self._publish_transcription(item, progress)
        segments: list[dict] = []
        model_label = None
        if (item.media or {}).get("has_audio"):
            decoder = await self._get_decoder()
            model_label = decoder.model.label
            loop = asyncio.get_running_loop()
            total_s = float((item.media or {}).get("duration_s") or 0.0)

            def report(done_s: float, _total: float, base_s: float) -> None:
                if self._stop.is_set():  # server shutdown: resumed at the next start
                    raise TranscriptionStopped()
                if total_s > 0:
                    progress.progress = min(0.99, (base_s + done_s) / total_s)
                    loop.call_soon_threadsafe(self._publish_transcription, item, progress)

            path = self.blobs.path_for(item.sha256)
            segments = await loop.run_in_executor(
                self._asr_pool, transcribe_evidence_file, path, language, decoder, eid, report)

        def store(s):
            row = s.get(EvidenceItem, eid)
            row.transcript = segments
            state.audit(s, s.get(Hearing, row.hearing_id), "server", "evidence.transcribed", {
                "evidence_id": eid, "sha256": row.sha256, "segments": len(segments),
                "words": sum(len(x["words"]) for x in segments), "model": model_label,
                "language": language})
            return row
        item = await state.db.run(store)
        progress.state, progress.progress = "done", 1.0
        self._publish_transcription(item, progress, segments=len(segments))

    def _publish_transcription(self, item: EvidenceItem, progress: Progress,
                               **extra: Any) -> None:
        self.state.hub.publish(item.hearing_id, {
            "type": "evidence", "event": "transcription", "evidence_id": item.id,
            "state": progress.state, "progress": round(progress.progress, 3),
            "error": progress.error, **extra}, staff_only=True)

    async def _transcription_failed(self, eid: int, error: str) -> None:
        def work(s):
            row = s.get(EvidenceItem, eid)
            if row is None:
                return None
            self.state.audit(s, s.get(Hearing, row.hearing_id), "server",
                             "evidence.transcription_failed",
                             {"evidence_id": eid, "error": error[:500]})
            return row
        try:
            row = await self.state.db.run(work)
            if row is not None:
                self._publish_transcription(row, self.transcription[eid])
        except Exception:
            log.exception("could not record a failed transcription of evidence %s", eid)


def transcribe_evidence_file(path: Path, language: str, decoder: Any, evidence_id: int,
                             report: Any = None) -> list[dict]:
    """Blocking. Segments of the evidence's sound, marked as evidence (not hearing speech);
    times are milliseconds from the start of the evidence file."""
    from asr.offline import transcribe_audio
    out: list[dict] = []
    offset_s = 0.0
    for block in iter_audio_16k(path, TRANSCRIBE_BLOCK_S):
        base = offset_s

        def progress(done_s: float, total_s: float, _base: float = base) -> None:
            if report is not None:
                report(done_s, total_s, _base)

        events = transcribe_audio(block, language, decoder=decoder,
                                  source_id=f"evidence:{evidence_id}",
                                  start_ms=int(round(base * 1000)), progress=progress)
        for ev in events:
            out.append({"origin": "evidence", "evidence_id": evidence_id,
                        "segment_id": f"evidence:{evidence_id}#{len(out) + 1}",
                        "start_ms": ev.start_ms, "end_ms": ev.end_ms, "text": ev.text,
                        "words": [{"text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                                   "probability": w.probability} for w in ev.words],
                        "language": ev.language, "model": ev.model})
        offset_s += len(block) / 16_000
    return out


# -- fixity: what the database says must exist ----------------------------------------------

def referenced_blobs(s: Session) -> dict[str, int | None]:
    """Every blob the database names, with its size where the database knows it: evidence
    originals and their copies, and finished recordings."""
    expected: dict[str, int | None] = {}
    for sha, size, play, thumb in s.execute(select(
            EvidenceItem.sha256, EvidenceItem.size, EvidenceItem.playback_sha256,
            EvidenceItem.thumbnail_sha256)):
        expected[sha] = size
        for d in (play, thumb):
            if d:
                expected.setdefault(d, None)
    for sha, size in s.execute(select(Recording.sha256, Recording.size)):
        expected[sha] = size or expected.get(sha)
    return expected


def recording_chunk_files(s: Session) -> list[tuple[str, str, int | None]]:
    """(path, sha256, size or None) of every recording chunk the database lists; chunks are
    files in the recording folders, not blobs."""
    return [(p, sha, size or None) for p, sha, size in s.execute(select(
        RecordingChunk.path, RecordingChunk.sha256, RecordingChunk.size)
        .order_by(RecordingChunk.id))]


def _locate(path: str, data_dir: Path) -> Path:
    """A chunk path as the server wrote it (possibly relative to where it ran)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    parts = p.parts
    if "recordings" in parts:  # <data_dir>/recordings/<hearing>/<source>/<chunk>
        return Path(data_dir, *parts[parts.index("recordings"):])
    return Path(data_dir, p)


def check_chunk_files(chunks: list[tuple[str, str, int | None]], data_dir: Path,
                      ) -> tuple[int, int, list[Finding]]:
    """Blocking. Re-hash every recording chunk file: (checked, bytes, findings)."""
    findings: list[Finding] = []
    checked = total = 0
    for path, sha, size in chunks:
        where = _locate(path, data_dir)
        if not where.is_file():
            findings.append(Finding(sha, "missing", "recording chunk listed in the database "
                                    "but not on disk", str(where)))
            continue
        try:
            digest = sha256_file(where)
            n = where.stat().st_size
        except OSError as e:
            findings.append(Finding(sha, "unreadable", str(e), str(where)))
            continue
        checked += 1
        total += n
        if digest != sha:
            findings.append(Finding(sha, "changed", f"content now hashes to {digest}",
                                    str(where)))
        elif size is not None and size != n:
            findings.append(Finding(sha, "size", f"{n} bytes, expected {size}", str(where)))
    return checked, total, findings


def fixity_audit(store: BlobStore, expected: dict[str, int | None] | None,
                 chunks: list[tuple[str, str, int | None]], data_dir: Path,
                 ) -> tuple[FixityReport, int]:
    """Blocking. Every blob re-hashed against its name and the database, plus the recording
    chunks at their paths; missing files are reported, nothing is repaired. Returns the
    report (blobs and chunks together) and how many chunk files were re-hashed."""
    t0 = time.perf_counter()
    report = check_fixity(store, expected=expected)
    checked, total, findings = check_chunk_files(chunks, data_dir)
    report.checked += checked
    report.bytes += total
    report.findings.extend(findings)
    report.seconds = time.perf_counter() - t0
    return report, checked


# -- wiring ---------------------------------------------------------------------------------
