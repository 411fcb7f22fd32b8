"""Re-transcription of a closed hearing's recordings by a second, better model (owned by the
runtime: ``state.retranscription``).

Each source's final recording is decoded once more, whole, by the configured CTranslate2
Whisper directory (``retranscribe_model_dir``: large-v3 on a court's GPU server), and every
machine segment whose words differ from what that model heard over the same time span gets a
``proposal`` revision by the model. Proposals change no text: the secretary accepts or rejects
each one (``hearing.services.retranscription``).

The job is durable through the hearing's audit chain: ``retranscription.queued`` starts it,
``retranscription.source`` (the recording's hash and the model) is written in the same
transaction as that recording's proposals, and ``retranscription.done`` (or ``.failed``) ends
it, in a transaction that first checks no recording is left (one stored meanwhile is done in
the same job). A start-up resumes every job queued and not ended; a recording is never heard
twice by the same model, so a restart redoes at most the one it cut short.

On a court of several nodes (``nats_url``) a job is a message on the court's work queue
(``hearing.work_queue``, kind ``retranscribe``, one per ``retranscription.queued`` row, so every
node resuming it at start-up queues it once): one node at a time runs it, a node that stops
hands it back, and a recording's proposals are stored only while the model has not heard it,
so two nodes that both ran a job (one past ``ack_wait_s``) still store them once."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from asr import SAMPLE_RATE
from hearing.models import AudioSource, AuditEvent, Hearing, Recording
from hearing.transaction import Tx
from hearing.transcripts import Draft
from hearing.work_queue import Job, WorkQueue, WorkQueueOptions
from media.seat_recorder import source_of_recording
from media.tasks import Tasks
from stenogram import Revision, RevisionError, Transcript
from stenogram.segments import Word

if TYPE_CHECKING:
    from asr.model import LoadedModel, ModelOptions
    from hearing.state import AppState

log = logging.getLogger(__name__)

#: Recordings are read in blocks of this many seconds (a word cut at a block edge is the price
#: of never holding an hour of audio in memory).
BLOCK_S = 600.0
ENDING = ("retranscription.done", "retranscription.failed")
#: The work-queue kind of a job on a court of several nodes.
KIND = "retranscribe"


@dataclass(frozen=True)
class RetranscribeOptions:
    """The second model. ``model_dir`` None: re-transcription is off."""

    model_dir: str | None = None  # any CTranslate2 Whisper directory
    device: str = "cpu"  # "cuda" on a GPU server
    compute_type: str = "int8"  # "float16" on a GPU
    beam_size: int = 5
    on_close: bool = True  # start by itself once a hearing's recordings are stored
    #: languages the model writes too badly to trust (None: the model's own, see ModelOptions)
    weak_languages: tuple[str, ...] | None = None


@dataclass
class JobProgress:
    state: str = "queued"  # "queued", "running", "done", "failed"
    progress: float = 0.0  # of the recordings left when the job started here, 0..1
    source_id: str | None = None  # the one being heard
    error: str | None = None


class Stopped(Exception):
    """The server is closing: the job resumes at the next start."""


def _words_key(text: str) -> list[str]:
    return [w for w in re.sub(r"[^\w\s]+", " ", text.lower()).split() if w]


def proposals_for(t: Transcript, source_id: str,
                  heard: list[Word]) -> list[tuple[str, str, list[Word]]]:
    """(segment id, text, words) for each unedited machine segment of the source whose words
    differ from the words the second model heard over its time span (a word belongs to the
    segment its middle falls in). Case and punctuation alone are no difference, and a text
    once proposed for a segment (open, accepted or rejected) is not proposed again."""
    open_for = {r.payload["segment_id"] for r in t.proposals()}
    made = {(r.payload["segment_id"], r.payload["text"]) for r in t.revisions
            if r.kind == "proposal"}
    out = []
    for seg in t.segments():
        if seg.source_id != source_id or seg.origin != "asr" or seg.segment_id in open_for:
            continue
        words = [w for w in heard
                 if seg.start_ms <= (w.start_ms + w.end_ms) // 2 < max(seg.end_ms,
                                                                       seg.start_ms + 1)]
        text = " ".join(w.text for w in words).strip()
        if (text and _words_key(text) != _words_key(seg.text)
                and (seg.segment_id, text) not in made):
            out.append((seg.segment_id, text, words))
    return out


def job_rows(s: Session, hearing_id: int) -> list[AuditEvent]:
    """The audit rows of the hearing's latest re-transcription job, oldest first."""
    rows = _rows(s, hearing_id)
    starts = [i for i, r in enumerate(rows) if r.action == "retranscription.queued"]
    return rows[starts[-1]:] if starts else []


def _rows(s: Session, hearing_id: int) -> list[AuditEvent]:
    return list(s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hearing_id, AuditEvent.action.like("retranscription.%"))
        .order_by(AuditEvent.seq)).scalars())


def _unfinished(s: Session) -> list[int]:
    last: dict[int, str] = {}
    for hid, action in s.execute(select(AuditEvent.hearing_id, AuditEvent.action).where(
            AuditEvent.action.in_(("retranscription.queued", *ENDING)))
            .order_by(AuditEvent.id)):
        last[hid] = action
    return [hid for hid, action in last.items() if action == "retranscription.queued"]


def _open_job(s: Session, hid: int) -> int | None:
    """The audit row id of the hearing's job still to run, if one is."""
    rows = job_rows(s, hid)
    return rows[0].id if rows and rows[-1].action not in ENDING else None


def waiting(s: Session, hid: int, model: str) -> list[Recording]:
    """The hearing's recordings the model has not heard yet."""
    heard = {(r.data.get("recording_sha256"), r.data.get("model")) for r in _rows(s, hid)
             if r.action == "retranscription.source"}
    return [r for r in s.execute(select(Recording).where(Recording.hearing_id == hid)
                                 .order_by(Recording.id)).scalars()
            if (r.sha256, model) not in heard]


def _language(s: Session, hid: int) -> Callable[[Recording], str]:
    """Each recording's language: its source's, else the hearing's."""
    hearing = s.get(Hearing, hid).language
    langs = {a.key: a.language for a in s.execute(select(AudioSource).where(
        AudioSource.hearing_id == hid)).scalars()}
    return lambda r: langs.get(source_of_recording(r.source_id)) or hearing


class Retranscriptions:
    """Started and closed with the server; one job at a time (the model is large)."""

    def __init__(self, state: "AppState", options: RetranscribeOptions) -> None:
        self.state = state
        self.options = options
        self.tasks = Tasks("retranscription")
        self.progress: dict[int, JobProgress] = {}  # by hearing, while this node runs its job
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.queue: WorkQueue | None = None  # the court's work queue, on several nodes

    @property
    def enabled(self) -> bool:
        return self.options.model_dir is not None

    def model_options(self) -> "ModelOptions":
        from asr.model import ModelOptions  # Whisper's libraries load on first use
        o = self.options
        return ModelOptions(model_dir=o.model_dir, device=o.device, compute_type=o.compute_type,
                            weak_languages=o.weak_languages)

    @property
    def model_label(self) -> str:
        return self.model_options().label

    async def start(self) -> None:
        if not self.enabled:
            return
        self._loop = asyncio.get_running_loop()
        cfg = self.state.config
        if cfg.nats_url:
            self.queue = WorkQueue(WorkQueueOptions(url=cfg.nats_url, prefix=cfg.bus_prefix))
            await self.queue.start()
            self.queue.consume(KIND, self._take, 1)
        else:
            self.tasks.start(self._work(), "retranscription")
        for hid in await self.state.db.run(_unfinished):
            self.submit(hid)

    async def close(self) -> None:
        self._closing = True
        if self.queue is not None:  # a job held here goes back to the other nodes
            await self.queue.close()
        await self.tasks.close()

    def busy(self, hearing_id: int) -> bool:
        p = self.progress.get(hearing_id)
        return p is not None and p.state in ("queued", "running")

    def submit(self, hearing_id: int) -> None:
        """Run the hearing's queued job here (its ``retranscription.queued`` row is written)."""
        if self.busy(hearing_id):
            return
        self.progress[hearing_id] = JobProgress()
        if self.queue is not None:
            self.tasks.start(self._put(hearing_id), f"queue re-transcription {hearing_id}")
        else:
            self._queue.put_nowait(hearing_id)
        self._publish(hearing_id)

    async def _put(self, hid: int) -> None:
        """Onto the court's queue, under the id of its ``queued`` row: queued by several nodes
        (each resuming it at start-up), it is stored once."""
        assert self.queue is not None
        row = await self.state.db.run(lambda s: _open_job(s, hid))
        if row is None:
            self.progress.pop(hid, None)
            return
        try:
            await self.queue.put(KIND, {"hearing_id": hid}, f"{hid}-{row}")
        except Exception:  # the row stays: the next start-up queues it again
            log.exception("could not queue re-transcribing hearing %s", hid)

    async def _take(self, job: Job) -> None:
        """A job from the court's queue: run here unless it has ended meanwhile; answered
        once its end is stored, handed back if this node stops first."""
        hid = int(job.data.get("hearing_id", 0))

        async def run() -> None:
            if await self.state.db.run(lambda s: _open_job(s, hid)) is None:
                await job.done()
                return
            self.progress[hid] = JobProgress()
            if await self._attempt(hid):
                await job.done()
            else:
                await job.retry()
        self.tasks.start(run(), f"re-transcription job {hid}")

    async def recording_stored(self, hearing_id: int) -> None:
        """A closed hearing's recording is in the blob store: queue a job for it, unless one
        is under way (which takes it too)."""
        if not (self.enabled and self.options.on_close) or self.busy(hearing_id):
            return
        if await self.state.transaction(None, _queue_on_close, hearing_id, self.model_label):
            self.submit(hearing_id)

    async def _work(self) -> None:
        while True:
            if not await self._attempt(await self._queue.get()):
                return

    async def _attempt(self, hid: int) -> bool:
        """Run the hearing's job to its end (done, or failed and said so): False if the server
        is closing first."""
        try:
            await self._run(hid)
        except Stopped:
            return False
        except Exception as exc:
            log.exception("re-transcribing hearing %s failed", hid)
            p = self.progress.setdefault(hid, JobProgress())
            p.state, p.error = "failed", str(exc)
            await self.state.transaction(None, _end, hid, "retranscription.failed",
                                         {"error": str(exc)[:500]})
            self._publish(hid)
        return True

    async def _run(self, hid: int) -> None:
        from asr.model import load_model
        p = self.progress.setdefault(hid, JobProgress())
        p.state = "running"
        self._publish(hid)
        model = await asyncio.to_thread(load_model, self.model_options())
        total, heard_n = 0, 0
        while True:
            todo, language = await self.state.db.run(
                lambda s: (waiting(s, hid, model.label), _language(s, hid)))
            if not todo and await self.state.transaction(None, _finish, hid, model.label,
                                                         total):
                break
            for i, rec in enumerate(todo):
                p.source_id = source_of_recording(rec.source_id)
                share = 1.0 / (heard_n + len(todo) - i)
                heard = await asyncio.to_thread(self._hear, hid, rec, language(rec), model,
                                                heard_n * share, share)
                total += await self.state.transcripts.change(
                    hid, lambda draft: self.state.transaction(None, _store, hid, rec, heard,
                                                              model.label, draft))
                heard_n += 1
        p.state, p.progress, p.source_id = "done", 1.0, None
        self._publish(hid)

    def _hear(self, hid: int, rec: Recording, language: str, model: "LoadedModel",
              before: float, share: float) -> list[Word]:
        """The recording as the second model hears it (blocking: a worker thread). Progress
        goes from ``before`` to ``before + share``."""
        from asr.offline import OfflineOptions, transcribe_audio
        from media.evidence import iter_audio_16k
        p = self.progress[hid]
        loop = self._loop
        assert loop is not None
        duration_s = max(0.001, (rec.end_ms - rec.start_ms) / 1000)
        words: list[Word] = []
        offset_s = 0.0

        def report(done_s: float, _total_s: float) -> None:
            if self._closing:
                raise Stopped()
            p.progress = before + share * min(0.99, (offset_s + done_s) / duration_s)
            loop.call_soon_threadsafe(self._publish, hid)

        blobs = self.state.live.blobs
        for block in iter_audio_16k(blobs.path_for(rec.sha256), BLOCK_S,
                                    duration_s=duration_s, tmp_dir=blobs.tmp):
            events = transcribe_audio(
                block, language, model=model,
                options=OfflineOptions(beam_size=self.options.beam_size),
                source_id=source_of_recording(rec.source_id),
                start_ms=rec.start_ms + int(offset_s * 1000), progress=report)
            words += [Word(w.text, w.start_ms, w.end_ms, w.probability)
                      for ev in events for w in ev.words]
            offset_s += len(block) / SAMPLE_RATE
        return words

    def _publish(self, hid: int) -> None:
        p = self.progress.get(hid)
        if p is not None:
            self.state.hub.publish(hid, {"type": "retranscription", "state": p.state,
                                         "progress": round(p.progress, 3),
                                         "source_id": p.source_id, "error": p.error},
                                   staff_only=True)


def _queue_on_close(tx: Tx, hid: int, model: str) -> bool:
    """Queue a job for a closed hearing with recordings the model has not heard, unless one is
    under way."""
    h = tx.s.get(Hearing, hid)
    if h is None or h.state != "closed" or not waiting(tx.s, hid, model):
        return False
    rows = job_rows(tx.s, hid)
    if rows and rows[-1].action not in ENDING:
        return False
    tx.audit(h, "retranscription.queued", {"model": model, "on": "close"}, actor="server")
    return True


def _store(tx: Tx, hid: int, rec: Recording, heard: list[Word], model: str,
           draft: Draft) -> int:
    """One recording's proposals and the row saying the model has heard it, together; nothing
    if it was heard meanwhile (by another node running the same job)."""
    if rec.sha256 not in {r.sha256 for r in waiting(tx.s, hid, model)}:
        return 0
    source = source_of_recording(rec.source_id)
    t = draft.open(tx.s)
    made: list[Revision] = []
    for segment_id, text, words in proposals_for(t, source, heard):
        try:
            made.append(draft.apply(tx.s, lambda t, a=(segment_id, text, words): t.propose(
                a[0], a[1], a[2], model=model)))
        except RevisionError:
            continue
    tx.audit(tx.s.get(Hearing, hid), "retranscription.source",
             {"source_id": source, "recording_sha256": rec.sha256, "model": model,
              "proposals": len(made)}, actor="server")
    return len(made)


def _finish(tx: Tx, hid: int, model: str, proposals: int) -> bool:
    """End the job, unless a recording was stored meanwhile (then False: hear it first)."""
    if waiting(tx.s, hid, model):
        return False
    _end(tx, hid, "retranscription.done", {"proposals": proposals})
    return True


def _end(tx: Tx, hid: int, action: str, data: dict) -> None:
    tx.audit(tx.s.get(Hearing, hid), action, data, actor="server")
