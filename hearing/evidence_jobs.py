"""The background side of evidence, owned by the runtime (``state.evidence``): the upload
manager (interrupted uploads recovered at start, idle ones expired every hour; submitted files
parsed only in a confined child process), the previews (a small copy of the first two minutes
of an item still to be decided, made when it arrives so the judge sees it before deciding),
the playback copies (made one at a time, in turn between hearings, only once the judge has
accepted the item, and within a cost budget), and
the transcription of accepted sound through the server's one speech scheduler, at low
priority behind the live hearings. The transcript is stored as the evidence's own (times from
the start of the file), never as hearing speech. Work cut short by a shutdown is resumed at
the next start.

A node of several (``nats_url`` set) shares this work with the others: an upload may continue
on any node (its state and bytes are on the shared data path, and a lease row in the database,
``UploadLeases``, lets one node at a time write it), and conversions and transcriptions are
durable jobs on the court's work queue (``hearing.work_queue``): queued by the node where the
judge decided, done by whichever node takes them (up to ``evidence_job_slots`` at once, in turn
between hearings among those), acknowledged only once the result is stored. Alone, a node
keeps them in its own queues. Previews are made by the node that received the item (a restart
of a node of several does not remake one it cut short: the judge may decide without)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearing.db import Database
from hearing.models import ConversionState, EvidenceItem, EvidenceUploadLease, Hearing
from hearing.search.index import index_evidence
from hearing.transaction import Tx
from hearing.work_queue import Job, WorkQueue, WorkQueueOptions
from media.blobstore import BlobStore
from media.evidence import (PREVIEW_OPTIONS, Derivative, MediaInfo, QueueFull, TranscodeJob,
                            TranscodeOptions, Transcoder, UploadManager, UploadOptions,
                            iter_audio_16k)
from media.evidence.sandbox import SandboxLimits
from media.evidence.upload import UploadLocks
from media.tasks import Tasks

if TYPE_CHECKING:
    from asr.events import TranscriptEvent
    from hearing.state import AppState

log = logging.getLogger(__name__)

#: Sound is read in blocks of this many seconds, so an hour of audio never sits in memory
#: whole (a word cut at a block edge is the price).
TRANSCRIBE_BLOCK_S = 600.0
EXPIRE_EVERY_S = 3600.0

TranscriptionState = Literal["queued", "running", "done", "failed"]


@dataclass
class Progress:
    state: TranscriptionState
    progress: float = 0.0
    error: str | None = None


def media_info(item: EvidenceItem) -> MediaInfo | None:
    """The facts its sandboxed validation found (the server never parses the file for them)."""
    try:
        return MediaInfo.from_json(item.media) if item.media else None
    except (TypeError, ValueError):
        return None


def has_sound(item: EvidenceItem) -> bool:
    """Worth transcribing: audio or video evidence with a soundtrack."""
    return item.kind in ("audio", "video") and bool((item.media or {}).get("has_audio"))


def evidence_segment(ev: "TranscriptEvent", evidence_id: int) -> dict:
    """A segment of the evidence's own transcript: marked as evidence, times in ms from the
    start of the evidence file."""
    return {"origin": "evidence", "evidence_id": evidence_id, "segment_id": ev.segment_id,
            "start_ms": ev.start_ms, "end_ms": ev.end_ms, "text": ev.text,
            "words": [{"text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                       "probability": w.probability} for w in ev.words],
            "language": ev.language, "model": ev.model}


class UploadLeases(UploadLocks):
    """The uploads' shared lock as rows of ``evidence_upload_leases``: taken when free, lapsed
    or already the holder's (one conditional UPDATE, else an INSERT that a concurrent one
    makes fail), renewed by the holder, deleted when given up."""

    def __init__(self, db: Database, node_id: str) -> None:
        self.db = db
        self.node_id = node_id

    async def acquire(self, upload_id: str, holder: str, ttl_s: float) -> bool:
        def work(s: Session) -> bool:
            now = datetime.now(timezone.utc)
            until = now + timedelta(seconds=ttl_s)
            taken = s.execute(update(EvidenceUploadLease).where(
                EvidenceUploadLease.upload_id == upload_id,
                or_(EvidenceUploadLease.holder == holder, EvidenceUploadLease.expires_at < now))
                .values(holder=holder, node_id=self.node_id, expires_at=until)).rowcount
            if taken:
                return True
            try:
                with s.begin_nested():
                    s.add(EvidenceUploadLease(upload_id=upload_id, node_id=self.node_id,
                                              holder=holder, expires_at=until))
            except IntegrityError:  # held by another node (or it just took it)
                return False
            return True
        return await self.db.run(work)

    async def renew(self, upload_id: str, holder: str, ttl_s: float) -> bool:
        def work(s: Session) -> bool:
            until = datetime.now(timezone.utc) + timedelta(seconds=ttl_s)
            return bool(s.execute(update(EvidenceUploadLease).where(
                EvidenceUploadLease.upload_id == upload_id,
                EvidenceUploadLease.holder == holder).values(expires_at=until)).rowcount)
        return await self.db.run(work)

    async def release(self, upload_id: str, holder: str) -> None:
        await self.db.run(lambda s: s.execute(delete(EvidenceUploadLease).where(
            EvidenceUploadLease.upload_id == upload_id, EvidenceUploadLease.holder == holder)))


class EvidenceJobs:
    """Started and closed with the server (``AppState.start``/``close``)."""

    def __init__(self, state: "AppState") -> None:
        self.state = state
        self.tasks = Tasks("evidence")
        self.uploads: UploadManager | None = None
        self.transcoder: Transcoder | None = None
        self.conversions: dict[str, TranscodeJob] = {}  # by the original's SHA-256
        self.previews: dict[str, TranscodeJob] = {}  # by the original's SHA-256, until stored
        self.preview_options = PREVIEW_OPTIONS
        self.transcription: dict[int, Progress] = {}  # by evidence id, until stored
        self._queue: asyncio.Queue[int] | None = None  # evidence ids, each at most once
        self._resumed_from: dict[str, str] = {}  # upload id -> the address it continued from
        self._closed = False
        #: a node of several: the court's work queue, and the conversion jobs this node holds
        #: (by the original's SHA-256) until their copies are recorded
        self.queue: WorkQueue | None = None
        self._held: dict[str, Job] = {}

    @property
    def blobs(self) -> BlobStore:
        return self.state.live.blobs

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.state.config
        uploads = UploadManager(self.blobs, UploadOptions(
            max_bytes=cfg.evidence_max_bytes, min_free_bytes=cfg.evidence_min_free_bytes,
            sandbox=SandboxLimits(memory_bytes=cfg.evidence_parse_memory_bytes)),
            locks=UploadLeases(self.state.db, self.state.hub.bus.node_id) if cfg.nats_url
            else None)
        # A SIGKILL mid-upload left a part file: cut it back to its last checkpoint (never a
        # blob), so the client resumes where the server last said it was.
        await asyncio.get_running_loop().run_in_executor(None, uploads.recover)
        self.uploads = uploads
        self.transcoder = Transcoder(self.blobs, TranscodeOptions(
            max_pixels=cfg.evidence_convert_max_pixels,
            max_duration_s=cfg.evidence_convert_max_duration_s))
        self.preview_options = replace(PREVIEW_OPTIONS,
                                       max_pixels=cfg.evidence_convert_max_pixels)
        self._queue = asyncio.Queue()
        if cfg.nats_url:
            self.queue = WorkQueue(WorkQueueOptions(url=cfg.nats_url, prefix=cfg.bus_prefix))
            await self.queue.start()
            if cfg.evidence_job_slots > 0:
                self.queue.consume("convert", self._take_conversion, cfg.evidence_job_slots)
                if cfg.transcribe_evidence:
                    self.queue.consume("transcribe", self._take_transcription, 1)
        else:
            self.tasks.start(self._transcribe_queued(), "transcription")
        self.tasks.start(self._expire_uploads(), "expire uploads")
        await self._resume()

    async def close(self) -> None:
        """Stop conversions and transcription (both resume at the next start), then let the
        last bytes of interrupted uploads land."""
        self._closed = True
        if self.transcoder is not None:
            await self.transcoder.close()
        if self.queue is not None:  # what this node held goes back to the others
            await self.queue.close()
        await self.tasks.close()
        if self.uploads is not None:
            await self.uploads.close()

    async def _resume(self) -> None:
        """After a restart: playback copies not yet made, transcripts not yet written, and
        (a node alone) the previews of items still to be decided."""
        def work(s: Session) -> list[EvidenceItem]:
            return list(s.execute(select(EvidenceItem).where(
                EvidenceItem.status == "accepted", EvidenceItem.transcript.is_(None))).scalars())

        def undecided(s: Session) -> list[EvidenceItem]:
            return list(s.execute(select(EvidenceItem).where(
                EvidenceItem.status == "pending", EvidenceItem.transcode_state != "done")
                .order_by(EvidenceItem.id)).scalars())
        await self._convert_waiting()
        for item in await self.state.db.run(work):
            self.queue_transcription(item)
        if self.queue is None:
            for item in await self.state.db.run(undecided):
                self.preview(item)

    async def _expire_uploads(self) -> None:
        assert self.uploads is not None
        while True:
            await asyncio.sleep(EXPIRE_EVERY_S)
            try:
                gone = await self.uploads.expire()
                if gone:
                    log.info("expired %d unfinished evidence uploads", len(gone))
            except Exception:
                log.exception("expiring evidence uploads failed")

    def note_resume(self, upload_id: str, remote: str | None) -> bool:
        """True the first time an upload continues from a new address (a custody fact worth
        a row: the phone switched networks), not on every chunk."""
        if self._resumed_from.get(upload_id) == remote:
            return False
        if len(self._resumed_from) > 10_000:  # finished uploads are never asked again
            self._resumed_from.clear()
        self._resumed_from[upload_id] = str(remote)
        return True

    # -- previews ------------------------------------------------------------------------------
    def preview(self, item: EvidenceItem) -> bool:
        """Queue the preview of an item still to be decided, in its hearing's turn; nothing
        if it has one (or the full copy) already, or if this node of several makes no copies
        (``evidence_job_slots`` 0). A full queue leaves it without: the judge may still
        decide, after a warning."""
        media = item.media or {}
        if (self.transcoder is None or self._closed or item.status != "pending"
                or (self.queue is not None and self.state.config.evidence_job_slots <= 0)
                or item.transcode_state == "done" or "preview" in media
                or "preview_error" in media or item.kind not in ("audio", "video", "image")):
            return False
        try:
            self.previews[item.sha256] = self.transcoder.submit(
                item.sha256, media_info(item), on_progress=self._on_preview,
                group=item.hearing_id, options=self.preview_options)
        except QueueFull:
            log.warning("preview queue full; %s has none", item.sha256)
            return False
        return True

    def preview_of(self, item: EvidenceItem) -> tuple[str, float]:
        """How far its preview is: "none", "queued", "running", "done" or "failed", and
        progress 0..1."""
        media = item.media or {}
        if "preview" in media:
            return "done", 1.0
        if "preview_error" in media:
            return "failed", 0.0
        job = self.previews.get(item.sha256)
        if job is not None and job.state in ("queued", "running"):
            return job.state, round(job.progress, 3)
        return "none", 0.0

    def _on_preview(self, job: TranscodeJob) -> None:
        if self._closed:
            return
        if job.state in ("queued", "running"):
            self.tasks.start(self._publish_preview(job), "preview progress")
        elif job.state in ("done", "failed"):
            self.tasks.start(self._preview_finished(job), "preview finished")

    async def _publish_preview(self, job: TranscodeJob) -> None:
        def work(s: Session) -> list[tuple[int, int, str]]:
            return [_ids(i) for i in s.execute(select(EvidenceItem).where(
                EvidenceItem.sha256 == job.source_sha256,
                EvidenceItem.status == "pending")).scalars()]
        for eid, hid, level in await self.state.db.run(work):
            self.state.hub.publish(hid, {"type": "evidence", "event": "preview",
                                         "evidence_id": eid, "state": job.state,
                                         "progress": round(job.progress, 3), "level": level},
                                   staff_only=True)

    async def _preview_finished(self, job: TranscodeJob) -> None:
        made = {d.role: d for d in job.derivatives}
        copy = made.get("playback") or made.get("display")
        try:
            items = await self.state.transaction(None, _record_preview, job, copy)
        except Exception:
            log.exception("could not record the preview of %s", job.source_sha256)
            items = []
        finally:
            if self.previews.get(job.source_sha256) is job:
                del self.previews[job.source_sha256]
        made_one = job.state == "done" and copy is not None
        for eid, hid, level in items:
            self.state.hub.publish(hid, {
                "type": "evidence", "event": "preview", "evidence_id": eid,
                "state": "done" if made_one else "failed", "progress": 1.0 if made_one else 0.0,
                "error": job.error, "level": level}, staff_only=True)

    # -- playback copies ----------------------------------------------------------------------
    def convert(self, item: EvidenceItem) -> bool:
        """Queue the playback copies of an accepted item, in its hearing's turn, from the facts
        its sandboxed validation found (the server never parses the file for them). When the
        hearing's queue is full the item stays "pending" and is submitted when a conversion
        finishes (or at the next start)."""
        if (self.transcoder is None or self._closed or item.status != "accepted"
                or item.transcode_state == "done"):
            return False
        if self.queue is not None:
            self.tasks.start(self._put("convert", {"sha256": item.sha256},
                                       f"{item.sha256}.{item.id}"), "queue playback copy")
            return True
        return self._submit(item)

    def _submit(self, item: EvidenceItem) -> bool:
        """Into this node's transcoder, in the item's hearing's turn."""
        sha256 = item.sha256
        try:
            self.conversions[sha256] = self.transcoder.submit(
                sha256, media_info(item), on_progress=self._on_conversion, group=item.hearing_id)
        except QueueFull:
            log.warning("playback copy queue full; %s waits", sha256)
            return False
        return True

    async def _put(self, kind: str, data: dict, job_id: str) -> None:
        assert self.queue is not None
        try:
            await self.queue.put(kind, data, job_id)
        except Exception:  # the decision is stored: the next start queues it again
            log.exception("could not queue the %s job %s", kind, job_id)

    async def _take_conversion(self, job: Job) -> None:
        """A conversion job from the court's queue: done already (a repeat) or by another
        delivery on this node, it is acknowledged at once; else it waits its hearing's turn
        in this node's transcoder and is acknowledged once its copies are recorded."""
        sha256 = str(job.data.get("sha256", ""))

        def waiting(s: Session) -> EvidenceItem | None:
            return s.execute(select(EvidenceItem).where(
                EvidenceItem.sha256 == sha256, EvidenceItem.status == "accepted",
                EvidenceItem.transcode_state.in_(("pending", "queued", "running")))
                .order_by(EvidenceItem.id)
                .limit(1)).scalar_one_or_none()
        item = await self.state.db.run(waiting)
        if item is None or sha256 in self._held:
            await job.done()
            return
        self._held[sha256] = job
        if not self._submit(item):
            del self._held[sha256]
            await job.retry(delay_s=30.0)

    def conversion_of(self, item: EvidenceItem) -> tuple[ConversionState, float]:
        """How far its playback copies are (state, progress 0..1)."""
        job = self.conversions.get(item.sha256)
        if job is not None and item.transcode_state != "done" and job.state in (
                "queued", "running"):
            return job.state, round(job.progress, 3)
        return item.transcode_state, 1.0 if item.transcode_state == "done" else 0.0

    def _on_conversion(self, job: TranscodeJob) -> None:
        if self._closed:  # "cancelled" too: the items stay pending for the next start
            return
        if job.state in ("queued", "running"):
            self.tasks.start(self._publish_conversion(job), "playback copy progress")
        elif job.state in ("done", "failed"):
            self.tasks.start(self._conversion_finished(job), "playback copy finished")

    async def _publish_conversion(self, job: TranscodeJob) -> None:
        def work(s: Session) -> list[tuple[int, int, str]]:
            return [_ids(i) for i in s.execute(select(EvidenceItem).where(
                EvidenceItem.sha256 == job.source_sha256,
                EvidenceItem.transcode_state != "done")).scalars()]
        for eid, hid, level in await self.state.db.run(work):
            self.state.hub.publish(hid, {"type": "evidence", "event": "transcode",
                                         "evidence_id": eid, "state": job.state,
                                         "progress": round(job.progress, 3), "level": level},
                                   staff_only=True)

    async def _conversion_finished(self, job: TranscodeJob) -> None:
        if self.conversions.get(job.source_sha256) is job:
            del self.conversions[job.source_sha256]
        made = {d.role: d for d in job.derivatives}
        playback = made.get("playback") or made.get("display")
        thumb = made.get("thumbnail")
        try:
            items = await self.state.transaction(None, _record_copies, job, playback, thumb)
            for eid, hid, level in items:
                self.state.hub.publish(hid, {
                    "type": "evidence", "event": "transcode", "evidence_id": eid,
                    "level": level,
                    "state": job.state, "progress": 1.0 if job.state == "done" else 0.0,
                    "error": job.error,
                    "playback_url": f"/api/hearings/{hid}/evidence/{eid}/playback"
                    if playback else None,
                    "thumbnail_url": f"/api/hearings/{hid}/evidence/{eid}/thumbnail"
                    if thumb else None}, staff_only=True)
        except Exception:
            log.exception("could not record the playback copies of %s", job.source_sha256)
            held = self._held.pop(job.source_sha256, None)
            if held is not None:
                await held.retry(delay_s=30.0)
            return
        held = self._held.pop(job.source_sha256, None)
        if held is not None:
            await held.done()
        if self.queue is None:
            await self._convert_waiting()

    async def _convert_waiting(self) -> None:
        """Submit the accepted originals still waiting for their copies (a full queue, a
        restart)."""
        def work(s: Session) -> list[EvidenceItem]:
            return list(s.execute(select(EvidenceItem).where(
                EvidenceItem.status == "accepted",
                EvidenceItem.transcode_state.in_(("pending", "queued", "running")))
                .order_by(EvidenceItem.id)).scalars())
        for item in await self.state.db.run(work):
            if item.sha256 not in self.conversions:
                self.convert(item)  # a node of several: queued again (a repeat is dropped)

    # -- transcription ------------------------------------------------------------------------
    def queue_transcription(self, item: EvidenceItem) -> None:
        """Accepted evidence with sound is transcribed once: after the judge's decision, and
        at start for what a restart cut short."""
        if not (self.state.config.transcribe_evidence and self._queue is not None
                and item.status == "accepted" and item.transcript is None and has_sound(item)):
            return
        current = self.transcription.get(item.id)
        if current is not None and current.state in ("queued", "running"):
            return
        self.transcription[item.id] = Progress("queued")
        if self.queue is not None:
            self.tasks.start(self._put("transcribe", {"evidence_id": item.id}, str(item.id)),
                             "queue transcription")
        else:
            self._queue.put_nowait(item.id)

    def transcription_of(self, item: EvidenceItem) -> tuple[str, float]:
        """How far its transcript is (state or "none", progress 0..1)."""
        if item.transcript is not None:
            return "done", 1.0
        progress = self.transcription.get(item.id)
        if progress is not None:
            return progress.state, round(progress.progress, 3)
        return "none", 0.0

    async def _transcribe_queued(self) -> None:
        assert self._queue is not None
        while True:
            await self._transcribe_one(await self._queue.get())

    async def _transcribe_one(self, eid: int) -> bool:
        """False if it was cut short (the scheduler stopped): it is done again later. A
        failure is recorded, not retried."""
        try:
            return await self._transcribe(eid)
        except Exception as exc:
            log.exception("transcribing evidence %s failed", eid)
            self.transcription[eid] = Progress("failed", error=str(exc))
            await self._transcription_failed(eid, str(exc))
            return True

    async def _take_transcription(self, job: Job) -> None:
        """A transcription job from the court's queue, done here; acknowledged once the
        transcript (or the failure) is stored, or at once if it already was."""
        async def run() -> None:
            eid = int(job.data.get("evidence_id", 0))
            if await self._transcribe_one(eid):
                await job.done()
            else:
                await job.retry()
        self.tasks.start(run(), "transcription job")

    async def _transcribe(self, eid: int) -> bool:
        def load(s: Session) -> tuple[EvidenceItem, str] | None:
            item = s.get(EvidenceItem, eid)
            if item is None or item.status != "accepted" or item.transcript is not None:
                return None
            return item, s.get(Hearing, item.hearing_id).language
        found = await self.state.db.run(load)
        if found is None:
            self.transcription.pop(eid, None)
            return True
        item, language = found
        progress = self.transcription.setdefault(eid, Progress("queued"))
        progress.state = "running"
        self._publish_transcription(item, progress)
        heard = await self._hear(item, language, progress)
        if heard is None:  # the scheduler stopped: the next start resumes it
            self.transcription.pop(eid, None)
            return False
        segments, model = heard
        item = await self.state.transaction(None, _store_transcript, eid, segments, model,
                                            language)
        progress.state, progress.progress = "done", 1.0
        self._publish_transcription(item, progress, segments=len(segments))
        return True

    async def _hear(self, item: EvidenceItem, language: str,
                    progress: Progress) -> tuple[list[dict], str] | None:
        """The item's sound through the shared scheduler; None if it stopped meanwhile."""
        from asr.scheduler import OfflineCancelled  # Whisper's libraries load on first use
        scheduler = await self.state.live.ensure_scheduler()
        loop = asyncio.get_running_loop()
        total_s = float((item.media or {}).get("duration_s") or 0.0)

        def advanced(done_s: float) -> None:
            progress.progress = min(0.99, done_s / total_s)
            self._publish_transcription(item, progress)

        def report(done_s: float) -> None:  # on the scheduler's offline thread
            if total_s > 0:
                loop.call_soon_threadsafe(advanced, done_s)

        blocks = iter_audio_16k(self.blobs.path_for(item.sha256), TRANSCRIBE_BLOCK_S,
                                duration_s=total_s or None, tmp_dir=self.blobs.tmp)
        try:
            events = await scheduler.transcribe_offline(
                blocks, language, source_id=f"evidence:{item.id}", progress=report)
        except OfflineCancelled:
            return None
        return [evidence_segment(ev, item.id) for ev in events], scheduler.model_label

    def _publish_transcription(self, item: EvidenceItem, progress: Progress,
                               **extra: object) -> None:
        self.state.hub.publish(item.hearing_id, {
            "type": "evidence", "event": "transcription", "evidence_id": item.id,
            "state": progress.state, "progress": round(progress.progress, 3),
            "error": progress.error, "level": item.access_level or "public", **extra},
            staff_only=True)

    async def _transcription_failed(self, eid: int, error: str) -> None:
        try:
            item = await self.state.transaction(None, _record_failure, eid, error)
            if item is not None:
                self._publish_transcription(item, self.transcription[eid])
        except Exception:
            log.exception("could not record a failed transcription of evidence %s", eid)


def _ids(item: EvidenceItem) -> tuple[int, int, str]:
    """An item as its live events name it: id, hearing, and the level that decides who gets
    them (hearing.hub)."""
    return item.id, item.hearing_id, item.access_level or "public"


def _record_copies(tx: Tx, job: TranscodeJob, playback: Derivative | None,
                   thumb: Derivative | None) -> list[tuple[int, int, str]]:
    """Every item of the original gets the copies (or the failure), each with its row."""
    done = []
    # locked: the same job done at once on another node waits here, then finds them done
    for item in tx.s.execute(select(EvidenceItem).where(
            EvidenceItem.sha256 == job.source_sha256,
            EvidenceItem.transcode_state != "done").with_for_update()).scalars():
        h = tx.s.get(Hearing, item.hearing_id)
        if job.state == "done":
            item.transcode_state = "done"
            item.playback_sha256 = playback.sha256 if playback else None
            item.playback_type = playback.mime if playback else None
            item.thumbnail_sha256 = thumb.sha256 if thumb else None
            tx.audit(h, "evidence.derived", {
                "evidence_id": item.id, "source_sha256": job.source_sha256,
                "derivatives": [d.to_json() for d in job.derivatives]}, actor="server")
        else:
            item.transcode_state = "failed"
            item.media = {**(item.media or {}), "transcode_error": job.error}
            tx.audit(h, "evidence.transcode_failed", {
                "evidence_id": item.id, "source_sha256": job.source_sha256,
                "error": job.error}, actor="server")
        done.append(_ids(item))
    return done


def _record_preview(tx: Tx, job: TranscodeJob, copy: Derivative | None
                    ) -> list[tuple[int, int, str]]:
    """Every item of the original without a preview gets this one (or the failure), each with
    its custody row."""
    done = []
    for item in tx.s.execute(select(EvidenceItem).where(
            EvidenceItem.sha256 == job.source_sha256).with_for_update()).scalars():
        media = dict(item.media or {})
        if "preview" in media:
            continue
        h = tx.s.get(Hearing, item.hearing_id)
        if job.state == "done" and copy is not None:
            media.pop("preview_error", None)
            limit = job.options.limit_s
            whole = limit is None or (media.get("duration_s") or 0.0) <= limit
            media["preview"] = {"sha256": copy.sha256, "mime": copy.mime,
                                "until_s": None if whole else limit}
            tx.audit(h, "evidence.preview_made", {
                "evidence_id": item.id, "source_sha256": job.source_sha256,
                "derivative": copy.to_json()}, actor="server")
        else:
            media["preview_error"] = job.error or "no preview could be made"
            tx.audit(h, "evidence.preview_failed", {
                "evidence_id": item.id, "source_sha256": job.source_sha256,
                "error": media["preview_error"]}, actor="server")
        item.media = media
        done.append(_ids(item))
    return done


def _store_transcript(tx: Tx, evidence_id: int, segments: list[dict], model: str,
                      language: str) -> EvidenceItem:
    item = tx.s.get(EvidenceItem, evidence_id, with_for_update=True)
    if item.transcript is not None:  # another node stored it first
        return item
    item.transcript = segments
    index_evidence(tx.s, item)
    tx.audit(tx.s.get(Hearing, item.hearing_id), "evidence.transcribed", {
        "evidence_id": evidence_id, "sha256": item.sha256, "segments": len(segments),
        "words": sum(len(x["words"]) for x in segments), "model": model,
        "language": language}, actor="server")
    return item


def _record_failure(tx: Tx, evidence_id: int, error: str) -> EvidenceItem | None:
    item = tx.s.get(EvidenceItem, evidence_id)
    if item is not None:
        tx.audit(tx.s.get(Hearing, item.hearing_id), "evidence.transcription_failed",
                 {"evidence_id": evidence_id, "error": error[:500]}, actor="server")
    return item
