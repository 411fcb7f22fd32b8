"""One Whisper model for every stream of the server.

Worker threads keep CPU work off the event loop: the VAD thread turns fed audio into
utterances (cheap, so it never waits behind a decode), and the inference lanes run decode
batches on the model, side by side on its replicas (``SchedulerOptions.lanes``): a final
waits for at most the decode ahead of it in one lane, not for a queue, and on a CPU of two
cores two small decodes take little more wall time than one. Finals go before partials; a
stream's partial is built from its
newest audio when the model is free, so a stale partial never waits in a queue; batches group
streams with similar lengths. Under overload partials thin out first (each stream gets fewer,
the most starved first); finals are delayed, never dropped. Whole files (evidence) are decoded
in the gaps between live batches (``transcribe_offline``).

Batching is where the capacity comes from: the encoder costs the same per second of audio in a
batch or alone, but one decoding step of four sequences costs little more than one step of one.
So a batch of partials takes, besides those that are due, those of streams that already have
most of a step of new audio: their partials then fall due together from then on. A batch of
finals stays a batch of finals (a final never waits for partials decoded with it). A silent
source costs only its VAD: nothing is decoded without an open utterance."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple

import numpy as np

from . import SAMPLE_RATE
from .confidence import with_model_languages
from .decoder import Decoder, DecodeRequest, DecodeResult
from .events import TranscriptEvent
from .model import LoadedModel, ModelOptions, load_model
from .offline import OfflineOptions, transcribe_audio
from .stream import Job, StreamCore, StreamOptions

__all__ = ["OfflineCancelled", "Scheduler", "SchedulerOptions", "Stream", "StreamKey",
           "StreamOptions"]

log = logging.getLogger(__name__)


class StreamKey(NamedTuple):
    """A stream's identity on the one scheduler of the server. Source ids are unique only
    within a hearing (every courtroom has its ``seat:judge``), so the hearing is part of the
    key; ``None`` is a stream outside any hearing (a benchmark, a test)."""

    hearing_id: int | None
    source_id: str

    def __str__(self) -> str:
        if self.hearing_id is None:
            return self.source_id
        return f"hearing {self.hearing_id} {self.source_id}"


@dataclass(frozen=True)
class SchedulerOptions:
    model: ModelOptions = field(default_factory=ModelOptions)
    max_batch: int = 4  # requests decoded together
    #: decode batches that run at once, each on its own model replica with cores // lanes
    #: threads (a batch of a small model uses one core poorly); one stream has at most one
    #: partial and one final in flight. The server's ``asr_lanes``. 0: ``auto_lanes``, two
    #: on a CPU of two or more cores (four people speaking at once: final p95 1.2-1.4 s
    #: against 2.7 s with one lane, bench/asr_capacity.py), one on a GPU or a single core.
    lanes: int = 0
    #: partial batches run in at most lanes - this many lanes at once: a final that comes
    #: then finds a lane free instead of waiting for a partial batch to end
    final_lanes: int = 1
    batch_length_ratio: float = 2.0  # only streams within this length ratio share a batch
    #: a partial joins a batch early once its stream has this share of a step of new audio
    #: (1.0: only partials that are due); streams decoded together stay in step
    early_partial_share: float = 0.5
    run_workers: bool = True  # False: nothing runs until the caller calls step() (tests)
    busy_window_s: float = 10.0  # how far back the model's load is measured
    thin_above: float = 0.7  # past this busy fraction, partials are spaced out ...
    max_step_scale: float = 3.0  # ... up to this many times the stream's step
    #: a final due while another decodes, or with others due, is decoded without the
    #: previous segment's audio (the model is behind on finals: they catch up instead of
    #: queueing). Four people speaking at once on two cores: final p95 1.2-1.4 s instead of
    #: 1.7-2.0 s; a hurried final's WER is 0.170 instead of 0.158 (test half of ru-dev, all
    #: finals hurried), and about a third of them are hurried under that load
    hurry_finals: bool = True

    def __post_init__(self) -> None:
        if self.lanes < 0:
            raise ValueError("lanes must be 0 (auto) or more")
        if self.lanes == 0:
            object.__setattr__(self, "lanes", auto_lanes(self.model))


def auto_lanes(model: ModelOptions) -> int:
    """Lanes that suit the machine: two on a CPU of two or more cores (a decode of a small
    model keeps one core busy poorly, and a final then never waits behind a partial batch),
    one on a GPU (it runs one batch at a time anyway, and a second replica doubles its
    memory) or on one core."""
    if model.device != "cpu":
        return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


class LatencyBuckets:
    """A cumulative histogram as plain numbers (bucket upper bounds in seconds, counts, sum),
    so a server can publish it in whatever format it likes without asr knowing of it."""

    BOUNDS_S = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)

    def __init__(self) -> None:
        self.counts = [0] * (len(self.BOUNDS_S) + 1)  # the last one is +Inf
        self.sum_s = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        i = next((i for i, b in enumerate(self.BOUNDS_S) if seconds <= b), len(self.BOUNDS_S))
        self.counts[i] += 1
        self.sum_s += seconds
        self.count += 1


class Stream:
    """One source's handle: feed audio, read the lag, close to flush its last final."""

    def __init__(self, scheduler: "Scheduler", key: StreamKey, options: StreamOptions,
                 on_event: Callable[[TranscriptEvent], None]):
        self.key = key
        self.source_id = key.source_id
        self.options = options
        self._scheduler = scheduler
        self._on_event = on_event
        self.core = StreamCore(key.source_id, options, scheduler.model_label)
        self.lock = threading.Lock()
        self.closing = False
        self.closed_future: asyncio.Future | None = None
        self._fed_at = 0.0  # monotonic time of the last feed
        self.partials = 0
        self.finals = 0
        #: decode requests run for this stream, by job kind (a silent source has none)
        self.decodes: collections.Counter[str] = collections.Counter()
        #: wall time from hearing the end of an utterance to its final (under ``lock``)
        self.final_latency = LatencyBuckets()
        #: finals taken from the core so far, and the utterances whose final decode is under
        #: way (both under ``lock``): what ``checkpoint`` needs
        self.emitted_finals = 0
        self._final_jobs: list[Job] = []
        self._partial_in_flight = False  # (under ``lock``)

    def feed(self, start_ms: int, samples: np.ndarray) -> None:
        """Queue float32 mono 16 kHz audio starting at hearing time ``start_ms``. Never blocks;
        past ``StreamOptions.max_input_ms`` of unprocessed input the oldest is dropped."""
        if self.closing:
            raise RuntimeError(f"stream {self.key} is closed")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError("samples must be 1-D float32 mono 16 kHz")
        with self.lock:
            self.core.push(int(start_ms), samples)
            self._fed_at = time.monotonic()
        self._scheduler._vad_wake(self)

    async def close(self) -> None:
        """Stop input, flush the open utterance as a final, and wait until it is delivered."""
        if self.closed_future is None:
            self.closed_future = asyncio.get_running_loop().create_future()
            self.closing = True
            self._scheduler._vad_wake(self)
        await asyncio.shield(self.closed_future)

    def checkpoint(self) -> tuple[int | None, int]:
        """(hearing time before which this stream needs no more audio, finals emitted so far).
        Once that many finals have been delivered and kept, the audio before that time can be
        forgotten (a worker of a pool acknowledges it): whatever comes of it is in those
        finals. None before any audio."""
        with self.lock:
            needed = self.core.needed_from_ms()
            for job in self._final_jobs:
                start = job.utterance.segment_start_ms
                needed = start if needed is None else min(needed, start)
            return needed, self.emitted_finals

    def drain(self) -> list[TranscriptEvent]:
        """The core's new events, counted (under ``lock``)."""
        events = self.core.drain_events()
        self.emitted_finals += sum(1 for ev in events if ev.kind == "final")
        return events

    @property
    def lag_ms(self) -> int:
        """Wall clock minus the end of the processed audio (0 when fully caught up)."""
        with self.lock:
            received = self.core.received_to_ms
            processed = self.core.processed_to_ms
            fed_at = self._fed_at
        if received is None or processed is None:
            return 0
        return int(max(0.0, (time.monotonic() - fed_at) * 1000) + received - processed) \
            if received > processed else 0

    @property
    def backlog_ms(self) -> int:
        """Audio received and not yet processed: the work this stream waits for, which (unlike
        the lag) does not grow while a source is silent or gone."""
        with self.lock:
            received, processed = self.core.received_to_ms, self.core.processed_to_ms
        if received is None or processed is None:
            return 0
        return max(0, received - processed)

    def metrics(self) -> dict:
        lag = self.lag_ms
        with self.lock:
            return {"source_id": self.source_id, "lag_ms": lag,
                    "pending_final_ms": self.core.pending_final_ms(),
                    "dropped_input_ms": self.core.dropped_input_ms,
                    "dropped_speech_ms": self.core.dropped_speech_ms,
                    "partials": self.partials, "finals": self.finals}


class Scheduler:
    """Owns the model and the two worker threads; ``open_stream`` for each source."""

    def __init__(self, options: SchedulerOptions | None = None, *,
                 model: LoadedModel | None = None):
        self.options = options or SchedulerOptions()
        self._model = model
        self._decoder: Decoder | None = None
        self._streams: dict[StreamKey, Stream] = {}
        self._streams_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._vad_cond = threading.Condition()
        self._vad_dirty: dict[StreamKey, Stream] = {}
        self._work = threading.Condition()
        self._work_pending = False
        self._pick = threading.Lock()  # one lane at a time chooses its next batch
        self._partial_batches = 0  # partial batches decoding now (under ``_pick``)
        self._final_batches = 0  # final batches decoding now (under ``_pick``)
        self._stats = threading.Lock()  # the counters below, written by every lane
        self._running = False
        self._threads: list[threading.Thread] = []
        self.decode_batches = 0
        self.hurried_finals = 0  # finals decoded in a hurry (``hurry_finals``)
        self.lanes_busy = 0  # batches decoding now
        self.peak_lanes_busy = 0  # the most that ever decoded at once
        self.decode_requests = 0  # over decode_batches: the batch size achieved
        self.batch_streams: collections.Counter[int] = collections.Counter()  # streams: batches
        self.busy_s = 0.0
        self.busy_by_kind: collections.Counter[str] = collections.Counter()  # model seconds
        self._recent_busy: collections.deque[tuple[float, float]] = collections.deque()
        self._offline: collections.deque[_OfflineBatch] = collections.deque()  # after live
        self._offline_pool: ThreadPoolExecutor | None = None  # reads and cuts whole files
        #: what the load is measured with: the wall clock, and the time a decode occupies the
        #: model (a benchmark on a simulated clock replaces both)
        self.clock: Callable[[], float] = time.monotonic
        self.busy_timer: Callable[[], float] = time.perf_counter

    @property
    def model_label(self) -> str:
        return self._model.label if self._model else self.options.model.label

    @property
    def decoder(self) -> Decoder:
        if self._decoder is None:
            raise RuntimeError("Scheduler.start() has not run")
        return self._decoder

    async def start(self) -> None:
        """Load the model (in a thread) and start the workers."""
        self._loop = asyncio.get_running_loop()
        if self._model is None:
            model = replace(self.options.model, replicas=max(self.options.model.replicas,
                                                             self.options.lanes))
            self._model = await self._loop.run_in_executor(None, load_model, model)
        self._decoder = await self._loop.run_in_executor(None, Decoder, self._model)
        self._running = True
        if not self.options.run_workers:
            return
        lanes = [(f"asr-inference-{i}", self._infer_main) for i in range(max(1, self.options.lanes))]
        for name, target in [("asr-vad", self._vad_main), *lanes]:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    async def stop(self) -> None:
        """Flush every open stream, then stop the workers."""
        with self._streams_lock:
            streams = list(self._streams.values())
        closing = asyncio.gather(*(s.close() for s in streams))
        if not self.options.run_workers:  # nobody else will run the closing streams' work
            await asyncio.sleep(0)
            while self._streams:
                if not self.step():
                    await asyncio.sleep(0)
        await closing
        self._running = False
        self._drop_offline()
        with self._vad_cond:
            self._vad_cond.notify_all()
        with self._work:
            self._work.notify_all()
        for t in self._threads:
            await self._loop.run_in_executor(None, t.join)
        self._threads.clear()
        if self._offline_pool is not None:  # its job stops before its next batch
            await self._loop.run_in_executor(None, self._offline_pool.shutdown, True)
            self._offline_pool = None

    def open_stream(self, key: StreamKey | str, options: StreamOptions,
                    on_event: Callable[[TranscriptEvent], None]) -> Stream:
        """A stream for one source; a bare source id is a stream outside any hearing."""
        if not self._running:
            raise RuntimeError("Scheduler.start() has not run")
        if not isinstance(key, StreamKey):
            key = StreamKey(None, key)
        with self._streams_lock:
            if key in self._streams:
                raise ValueError(f"a stream for {key} is already open")
            options = replace(options, confidence=with_model_languages(
                options.confidence, (self._model.options if self._model else self.options.model)
                .review_languages))
            stream = Stream(self, key, options, on_event)
            self._streams[key] = stream
        return stream

    def streams(self) -> list[Stream]:
        with self._streams_lock:
            return list(self._streams.values())

    def metrics(self) -> dict:
        return {"streams": [s.metrics() for s in self.streams()],
                "decode_batches": self.decode_batches, "busy_s": round(self.busy_s, 3),
                "mean_batch": round(self.decode_requests / max(1, self.decode_batches), 2),
                "busy_s_by_kind": {k: round(v, 3) for k, v in self.busy_by_kind.items()},
                "load": round(self.load(), 3), "partial_step_scale": round(self.step_scale(), 2)}

    def queue_depth(self) -> dict[str, int]:
        """Work waiting for the model: streams with a final or a partial due, offline batches."""
        finals = partials = 0
        scale = self.step_scale()
        for s in self.streams():
            with s.lock:
                if s.core.has_final_job():
                    finals += 1
                elif s.core.partial_ready(scale):
                    partials += 1
        return {"final": finals, "partial": partials, "offline": len(self._offline)}

    def load(self) -> float:
        """Fraction of the last ``busy_window_s`` the lanes spent decoding."""
        now = self.clock()
        start = now - self.options.busy_window_s
        with self._stats:
            recent = list(self._recent_busy)
        busy = sum(min(d, end - start) for end, d in recent if end > start)
        lanes = max(1, self.options.lanes) if self.options.run_workers else 1
        return max(0.0, min(1.0, busy / (self.options.busy_window_s * lanes)))

    def step_scale(self) -> float:
        """Partials thin out first under overload: their step grows with the model's load."""
        o = self.options
        load = self.load()
        if load <= o.thin_above:
            return 1.0
        return 1.0 + (o.max_step_scale - 1.0) * (load - o.thin_above) / (1.0 - o.thin_above)

    def step(self) -> list[tuple[str, str, int]]:
        """Run, in the caller's thread, the VAD over fed audio and then one decode batch;
        returns (source_id, kind, end of decoded audio) per job. For ``run_workers=False``."""
        with self._vad_cond:
            dirty, self._vad_dirty = list(self._vad_dirty.values()), {}
        for s in dirty:
            self._vad_step(s)
        jobs = self._next_batch()
        if jobs:
            self._run_batch(jobs)
        else:
            self._run_offline()
        self._settle_closed()
        return [(s.source_id, j.kind, j.audio_end_ms) for s, j in jobs]

    # -- VAD thread ----------------------------------------------------------------------

    def _vad_wake(self, stream: Stream) -> None:
        with self._vad_cond:
            self._vad_dirty[stream.key] = stream
            self._vad_cond.notify()

    def _vad_main(self) -> None:
        while True:
            with self._vad_cond:
                while self._running and not self._vad_dirty:
                    self._vad_cond.wait()
                if not self._running:
                    return
                dirty, self._vad_dirty = list(self._vad_dirty.values()), {}
            wake = False
            for s in dirty:
                try:
                    wake = self._vad_step(s, wake_now=False) or wake
                except Exception:  # one bad stream must not stop the others
                    log.exception("VAD failed for %s", s.key)
            if wake:  # once every fed stream is seen: the streams due now share a batch
                self._wake_inference()

    def _vad_step(self, s: Stream, wake_now: bool = True) -> bool:
        with s.lock:
            frames = s.core.take_input()
        probs = s.core.vad.probabilities(frames)  # only this thread touches the VAD state
        with s.lock:
            s.core.apply_vad(frames, probs)
            if s.closing:
                s.core.close()
            events = s.drain()
            wake = s.core.has_final_job() or s.core.partial_ready() or s.closing
        self._deliver(s, events)
        if wake and wake_now:
            self._wake_inference()
        return wake

    # -- inference thread ----------------------------------------------------------------

    def _wake_inference(self) -> None:
        with self._work:
            self._work_pending = True
            self._work.notify_all()

    def _infer_main(self) -> None:
        while True:
            with self._work:
                while self._running and not self._work_pending:
                    self._work.wait(timeout=0.1)
                    if self._running and self._any_work():
                        break
                if not self._running:
                    return
                self._work_pending = False
            while self._running:
                try:
                    jobs = self._next_batch()
                    if jobs:
                        self._run_batch(jobs)
                    self._settle_closed()  # a closing stream need not wait for the others
                    if not jobs and not self._run_offline():  # offline work fills the gaps
                        break
                except Exception:  # a lane that stopped would leave its streams waiting
                    log.exception("an inference lane's step failed")
                    break

    def _any_work(self) -> bool:
        """Work this lane could take now (not a stream's next job, which waits while its
        current one decodes in another lane)."""
        if self._offline:
            return True
        for s in self.streams():
            with s.lock:
                if s.core.has_final_job():
                    if not s._final_jobs:
                        return True
                elif not s._partial_in_flight and s.core.partial_ready():
                    return True
            if s.closing:
                return True
        return False

    def _next_batch(self) -> list[tuple[Stream, Job]]:
        """Finals first (oldest first, one per stream), then partials among streams of similar
        length: those that do not wait for the step first (an utterance's first words, or the
        hypothesis at a pause, which may save its final's decode), then the most starved.
        Once one partial is due, those nearly due join its batch. A stream whose final (or
        partial) is decoding in another lane gets no other final (partial) meanwhile: its
        finals stay in order and each partial builds on the one before."""
        with self._pick:
            return self._pick_batch()

    def _pick_batch(self) -> list[tuple[Stream, Job]]:
        o = self.options
        streams = self.streams()
        finals: list[tuple[int, Stream]] = []
        partials: list[tuple[bool, bool, int, int, Stream]] = []
        scale = self.step_scale()
        early = scale * o.early_partial_share
        for s in streams:
            with s.lock:
                if s.core.has_final_job() and not s._final_jobs:
                    finals.append((s.core.oldest_final_ms(), s))
                elif s.core.has_final_job() or s._partial_in_flight:
                    continue
                elif s.core.partial_ready(early):
                    partials.append((not s.core.partial_ready(scale),
                                     not s.core.partial_ready(_UNSCALED),
                                     s.core.open_decoded_ms(), s.core.open_length_ms(), s))
        partials.sort(key=lambda t: t[:3])  # due first, unscaled first, most starved first
        jobs: list[tuple[Stream, Job]] = []
        if finals:  # oldest first, one per stream per batch
            # behind on finals (another decodes, or several wait): each is decoded faster
            hurry = o.hurry_finals and (self._final_batches > 0 or len(finals) > 1)
            for _, s in sorted(finals, key=lambda t: t[0])[: o.max_batch]:
                with s.lock:
                    job = s.core.take_final_job(hurry)
                    if job:
                        s._final_jobs.append(job)
                if job:
                    jobs.append((s, job))
            if jobs:
                self._final_batches += 1
                self.hurried_finals += sum(1 for _, j in jobs if j.hurried)
            return jobs
        if not partials:
            return []
        if partials[0][0]:
            return []  # none is due yet
        if self.options.run_workers and \
                self._partial_batches >= max(1, o.lanes - o.final_lanes):
            return []  # the other lanes are kept for finals
        self._add_partials(jobs, [(length, s) for *_, length, s in partials],
                           max(partials[0][3], 1), early)
        if jobs:
            self._partial_batches += 1
        return jobs

    def _add_partials(self, jobs: list[tuple[Stream, Job]], candidates: list[tuple[int, Stream]],
                      length_ms: int, scale: float) -> None:
        """Partial jobs of the candidates (in order) whose open audio is within the length
        ratio of ``length_ms``, up to the batch size."""
        ratio = self.options.batch_length_ratio
        for length, s in candidates:
            if len(jobs) >= self.options.max_batch:
                break
            r = max(length, 1) / max(length_ms, 1)
            if jobs and not 1 / ratio <= r <= ratio:
                continue
            with s.lock:
                job = s.core.take_partial_job(scale)
                s._partial_in_flight = job is not None
            if job:
                jobs.append((s, job))

    def _run_batch(self, jobs: list[tuple[Stream, Job]]) -> None:
        with self._stats:
            self.lanes_busy += 1
            self.peak_lanes_busy = max(self.peak_lanes_busy, self.lanes_busy)
        t0, started = self.busy_timer(), self.clock()
        try:
            results = self.decoder.decode([j.request for _, j in jobs])
        except Exception:
            log.exception("decode failed for %s", [str(s.key) for s, _ in jobs])
            results = [None] * len(jobs)
        took = self.busy_timer() - t0
        now = max(self.clock(), started + took)  # (a simulated clock has not moved on yet)
        with self._stats:
            self.lanes_busy -= 1
            self.busy_s += took
            for _, job in jobs:
                self.busy_by_kind[job.kind] += took / len(jobs)
            self.decode_requests += len(jobs)
            self.batch_streams[len({s.key for s, _ in jobs})] += 1
            self._recent_busy.append((now, took))
            while self._recent_busy and \
                    self._recent_busy[0][0] < now - self.options.busy_window_s:
                self._recent_busy.popleft()
            self.decode_batches += 1
        try:
            for (s, job), result in zip(jobs, results):
                try:
                    with s.lock:
                        s.decodes[job.kind] += 1
                        try:
                            if result is None:
                                s.core.fail(job)
                            else:
                                s.core.complete(job, result)
                        except Exception:  # the stream goes on with its next utterance
                            log.exception("%s: a %s decode's result could not be used",
                                          s.key, job.kind)
                        events = s.drain()
                    self._deliver(s, events)
                finally:  # in flight until delivered (a closing stream waits for it), and
                    with s.lock:  # never left in flight: the stream would wait for good
                        s._final_jobs = [j for j in s._final_jobs if j is not job]
                        if job.kind == "partial":
                            s._partial_in_flight = False
        finally:
            if jobs:
                with self._pick:
                    if jobs[0][1].kind == "partial":
                        self._partial_batches -= 1
                    else:
                        self._final_batches -= 1
        if len(jobs) and self.options.lanes > 1:
            self._wake_inference()  # what this batch held back (a stream's next job) may run

    def _settle_closed(self) -> None:
        for s in self.streams():
            if not s.closing or s.closed_future is None:
                continue
            with s.lock:  # (and nothing of it decoding or undelivered in another lane)
                done = s.core.idle() and s.core.closed and not s._final_jobs and \
                    not s._partial_in_flight
            if done:
                with self._streams_lock:
                    self._streams.pop(s.key, None)
                self._loop.call_soon_threadsafe(_resolve, s.closed_future)

    def _deliver(self, s: Stream, events: list[TranscriptEvent]) -> None:
        if not events:
            return
        now = time.monotonic()
        for ev in events:
            if ev.kind == "final":
                s.finals += 1
                with s.lock:
                    received, fed_at = s.core.received_to_ms, s._fed_at
                    if received is not None:
                        s.final_latency.observe(
                            max(0.0, (now - fed_at) + (received - ev.end_ms) / 1000))
            else:
                s.partials += 1
        self._loop.call_soon_threadsafe(_call_handlers, s._on_event, events)


    # -- offline work: whole files, at low priority ---------------------------------------

    async def transcribe_offline(self, blocks: Iterable[np.ndarray], language: str, *,
                                 source_id: str, options: OfflineOptions | None = None,
                                 progress: Callable[[float], None] | None = None,
                                 ) -> list[TranscriptEvent]:
        """Transcribe a whole file (evidence, a recording transcribed again) on the shared
        model without holding up live hearings. ``blocks`` of float32 mono 16 kHz audio, one
        after another and read lazily, are cut at pauses by ``asr.offline`` on the offline
        thread (one job at a time); each decode batch runs on the inference thread only when
        no live final or partial is waiting, and does not count towards the load that thins
        out partials. Times are ms from the start of the first block; ``progress(done_s)`` is
        called from the offline thread. Cancelling the caller stops the job before its next
        batch; a stopping scheduler ends it with OfflineCancelled."""
        if not self._running:
            raise RuntimeError("Scheduler.start() has not run")
        if self._offline_pool is None:
            self._offline_pool = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="asr-offline")
        job = _OfflineJob(self, source_id)
        try:
            return await self._loop.run_in_executor(self._offline_pool, job.run, blocks,
                                                    language, options, progress)
        finally:
            job.cancel()  # a finished job has nothing left to stop

    def _decode_offline(self, job: "_OfflineJob",
                        requests: list[DecodeRequest]) -> list[DecodeResult]:
        """In the offline thread: queue the requests behind live work and wait for them.
        While live streams are open they go one at a time, so a live final waits for at most
        one offline chunk."""
        step = 1 if self.streams() else max(1, len(requests))
        results: list[DecodeResult] = []
        for i in range(0, len(requests), step):
            batch = _OfflineBatch(job, requests[i:i + step])
            with self._work:
                if job.cancelled or not self._running:
                    raise OfflineCancelled(f"offline transcription of {job.source_id} stopped")
                self._offline.append(batch)
                self._work_pending = True
                self._work.notify()
            batch.done.wait()
            if batch.error is not None:
                raise batch.error
            results.extend(batch.results)
        return results

    def _run_offline(self) -> bool:
        """Decode the oldest waiting offline batch; False when none waits."""
        with self._work:
            if not self._offline:
                return False
            batch = self._offline.popleft()
        try:
            batch.results = self.decoder.decode(batch.requests)
        except Exception as exc:  # that job fails; live streams go on
            batch.error = exc
        batch.done.set()
        return True

    def _drop_offline(self, job: "_OfflineJob | None" = None) -> None:
        """End the waiting batches of one offline job (of all: None) with OfflineCancelled."""
        with self._work:
            kept: collections.deque[_OfflineBatch] = collections.deque()
            for batch in self._offline:
                if job is None or batch.job is job:
                    batch.error = OfflineCancelled("offline transcription stopped")
                    batch.done.set()
                else:
                    kept.append(batch)
            self._offline = kept


_UNSCALED = float("inf")  # a step scale only partials that never wait for the step pass


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


def _call_handlers(handler: Callable[[TranscriptEvent], None],
                   events: list[TranscriptEvent]) -> None:
    for ev in events:
        try:
            handler(ev)
        except Exception:  # a subscriber's bug must not stop transcription
            log.exception("transcript event handler failed")


class OfflineCancelled(Exception):
    """An offline transcription was stopped: its caller gave up or the scheduler stopped."""


class _OfflineJob:
    """One whole-file transcription. ``asr.offline.transcribe_audio`` drives it as its
    decoder (``model`` and ``decode``), so a file is cut and filtered exactly as by
    ``courtroom transcribe``, while each batch waits its turn on the shared model."""

    def __init__(self, scheduler: Scheduler, source_id: str) -> None:
        self.scheduler = scheduler
        self.source_id = source_id
        self.cancelled = False

    @property
    def model(self) -> LoadedModel:
        assert self.scheduler._model is not None
        return self.scheduler._model

    def decode(self, requests: list[DecodeRequest]) -> list[DecodeResult]:
        return self.scheduler._decode_offline(self, requests)

    def cancel(self) -> None:
        self.cancelled = True
        self.scheduler._drop_offline(self)

    def run(self, blocks: Iterable[np.ndarray], language: str, options: OfflineOptions | None,
            progress: Callable[[float], None] | None) -> list[TranscriptEvent]:
        out: list[TranscriptEvent] = []
        start = 0  # samples before this block
        for block in blocks:
            if self.cancelled:
                raise OfflineCancelled(f"offline transcription of {self.source_id} stopped")
            base_s = start / SAMPLE_RATE
            report = None if progress is None else (
                lambda done_s, _total_s, base_s=base_s: progress(base_s + done_s))
            events = transcribe_audio(block, language, decoder=self, options=options,
                                      source_id=self.source_id,
                                      start_ms=start * 1000 // SAMPLE_RATE, progress=report)
            first = len(out)  # one numbering across blocks
            out.extend(replace(ev, segment_id=f"{self.source_id}#{first + n}")
                       for n, ev in enumerate(events, 1))
            start += len(block)
        return out


@dataclass
class _OfflineBatch:
    job: _OfflineJob
    requests: list[DecodeRequest]
    done: threading.Event = field(default_factory=threading.Event)
    results: list[DecodeResult] = field(default_factory=list)
    error: BaseException | None = None
