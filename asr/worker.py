"""Whisper as a pool of worker processes fed over NATS JetStream (``courtroom asr-worker``).

Names below are those of the default prefix "courtroom": a court's ``bus_prefix`` replaces
"courtroom" in subjects and "COURTROOM" in stream and bucket names (``PoolNames``).

The node that owns a live hearing publishes each source's audio to the JetStream stream
``COURTROOM_AUDIO``, subject ``courtroom.audio.<hearing>.<source>`` (PCM16 with its hearing
time and a sequence number), and the stream's settings (language, vocabulary, prompt) as its
*open* message: an entry of the key-value bucket ``COURTROOM_ASR_STREAMS``. Its last audio
message is followed by a *close* message on the same subject.

Each worker runs one ``Scheduler`` (one model) and batches across every stream it holds. A
stream is held by exactly one worker at a time through a lease: a key of the bucket
``COURTROOM_ASR_LEASES``, created only if absent and renewed by revision; the bucket's
age limit is the lease's time to live, so a killed worker's claim lapses by itself and
another worker creates it anew. The leases live in NATS rather than PostgreSQL because a
worker needs nothing else: a GPU machine is given a NATS address and no database account.

The holder reads the subject from its first message and acknowledges audio by purging it
from the stream, but only up to where every word heard in it is in a final already stored
by JetStream (or the audio is known to hold none: ``Stream.checkpoint``). A worker killed
mid-utterance therefore leaves that utterance's audio in the stream; the next holder re-reads
it and the words come out late, not lost. The next holder also starts after the end of the
last final published for the stream, so audio whose final went out just before the kill is
not transcribed twice.

Finals go to the JetStream stream ``COURTROOM_ASR_FINALS``, subject
``courtroom.asr.<hearing>.finals.<source>`` (deduplicated by message id; the owner reads them
with a durable consumer and stores each once), partials to the core subject
``courtroom.asr.<hearing>.partials`` (droppable, like on one server). A stream's close is
answered by a *closed* message after its last final.

Nothing here imports ``hearing``: the owner's side (``hearing/asr_workers.py``) uses the
names and the message format defined here."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from .confidence import conditions_prompt
from .events import TranscriptEvent, Word
from .scheduler import Scheduler, SchedulerOptions, Stream, StreamKey
from .stream import StreamOptions

log = logging.getLogger(__name__)

#: Message headers: what a message is, its hearing time, the publisher's sequence.
KIND, START_MS, END_MS, SEQ, MSG_ID = ("Courtroom-Kind", "Courtroom-Start-Ms",
                                       "Courtroom-End-Ms", "Courtroom-Seq", "Nats-Msg-Id")
SAMPLES_PER_MS = 16


@dataclass(frozen=True)
class PoolLimits:
    """What the pool's JetStream streams keep. Acknowledged audio is purged at once, so the
    audio stream holds only what no worker has transcribed yet; its limits bound a pool that
    has no worker at all (32 KB a second per source: 8 GiB is about 70 source-hours)."""

    audio_max_age_s: float = 3600.0
    audio_max_bytes: int = 8 << 30
    #: finals are kept a day: the owner reads them with a durable consumer, and a worker
    #: taking over a stream reads the last one
    finals_max_age_s: float = 24 * 3600.0
    finals_max_bytes: int = 1 << 30
    #: a lease lapses this long after its holder's last renewal (renewed every third of it)
    lease_ttl_s: float = 5.0
    #: an open message lapses this long after the owner last repeated it (every third of
    #: it): the holder of a stream whose owner died without closing it closes it itself
    spec_ttl_s: float = 60.0


def hearing_token(hearing_id: int, opened_ms: int) -> str:
    """A hearing's name in subjects: its id and the instant it opened (ms since the epoch),
    so a database restored or recreated with the same ids never meets old audio or finals."""
    return f"{int(hearing_id)}-{int(opened_ms)}"


def stream_token(hearing: str, source_id: str) -> str:
    """A stream's name in subjects and keys: characters other than letters, digits, '-' and
    '_' in the source id are written as '=XX' (a seat id has a colon)."""
    src = re.sub(r"[^A-Za-z0-9_-]", lambda m: "".join(f"={b:02X}" for b in
                                                        m.group().encode()), source_id)
    return f"{hearing}.{src}"


@dataclass(frozen=True)
class PoolNames:
    """The pool's subjects, streams and buckets under a court's ``bus_prefix`` (letters,
    digits, '-' and '_'): subjects begin with "<prefix>.", streams and buckets are
    "<PREFIX>_..." (upper case, '-' as '_': the rule of hearing.bus.stream_name)."""

    prefix: str = "courtroom"

    def _name(self, name: str) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_{name}"

    @property
    def audio_stream(self) -> str:
        return self._name("AUDIO")

    @property
    def finals_stream(self) -> str:
        return self._name("ASR_FINALS")

    @property
    def specs_bucket(self) -> str:
        return self._name("ASR_STREAMS")

    @property
    def leases_bucket(self) -> str:
        return self._name("ASR_LEASES")

    def audio_subject(self, token: str) -> str:
        return f"{self.prefix}.audio.{token}"

    def finals_subject(self, token: str) -> str:
        hearing, src = token.split(".", 1)
        return f"{self.prefix}.asr.{hearing}.finals.{src}"

    def hearing_finals(self, hearing: str) -> str:
        return f"{self.prefix}.asr.{hearing}.finals.*"

    def partials_subject(self, hearing: str) -> str:
        return f"{self.prefix}.asr.{hearing}.partials"


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768


def event_to_json(event: TranscriptEvent) -> bytes:
    return json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()


def event_from_json(data: bytes) -> TranscriptEvent:
    d = json.loads(data)
    d["words"] = [Word(**w) for w in d.get("words", [])]
    return TranscriptEvent(**d)


async def ensure_pool(js, limits: PoolLimits, names: PoolNames):  # noqa: ANN001 - JetStream
    """Create the pool's streams and buckets where missing (owners and workers both call it;
    existing ones are left as they are). Returns the (streams, leases) buckets."""
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType
    from nats.js.errors import BucketNotFoundError, NotFoundError
    for name, subjects, age, size in (
            (names.audio_stream, [f"{names.prefix}.audio.>"], limits.audio_max_age_s,
             limits.audio_max_bytes),
            (names.finals_stream, [f"{names.prefix}.asr.*.finals.*"], limits.finals_max_age_s,
             limits.finals_max_bytes)):
        try:
            await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(name=name, subjects=subjects, retention=RetentionPolicy.LIMITS,
                                storage=StorageType.FILE, max_age=age, max_bytes=size,
                                discard=DiscardPolicy.OLD, duplicate_window=120.0)
    buckets = []
    for bucket, ttl in ((names.specs_bucket, limits.spec_ttl_s),
                        (names.leases_bucket, limits.lease_ttl_s)):
        try:
            buckets.append(await js.key_value(bucket))
        except (BucketNotFoundError, NotFoundError):
            buckets.append(await js.create_key_value(bucket=bucket, history=1, ttl=ttl))
    return buckets[0], buckets[1]


@dataclass
class WorkerOptions:
    nats_url: str = "nats://127.0.0.1:4222"
    #: the court's ``bus_prefix`` (the nodes' own): names the pool's subjects and streams
    prefix: str = "courtroom"
    #: this worker's name in leases; empty means a random one per start
    worker_id: str = ""
    #: streams held at once (more wait for another worker or a free place)
    max_streams: int = 16
    scheduler: SchedulerOptions = field(default_factory=SchedulerOptions)
    limits: PoolLimits = field(default_factory=PoolLimits)
    #: audio read ahead of the decoder per stream; past it reading waits (a worker taking
    #: over a long backlog must not overflow the stream's input bound)
    read_ahead_ms: int = 10_000
    #: how often free streams are looked for, and audio without words acknowledged (audio
    #: under a final is acknowledged as soon as the final is stored)
    tick_s: float = 0.25
    ack_interval_s: float = 1.0


@dataclass(eq=False)
class _Held:
    """A stream this worker holds."""

    token: str
    spec: dict
    revision: int  # of the lease entry
    renewed_at: float
    stream: Stream | None = None
    sub: object | None = None
    fed: deque = field(default_factory=deque)  # (stream seq, end ms) of unacknowledged audio
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    sender: asyncio.Task | None = None
    published_finals: int = 0
    resume_ms: int | None = None  # audio before this hearing time is in a final already
    purged_to: int = 0  # stream sequence before which the subject is purged
    acked_at: float = 0.0  # monotonic time of the last purge
    lost: bool = False  # the lease went elsewhere: publish and acknowledge nothing more
    closing: bool = False
    last_end_ms: int = 0  # end of the last final published


class AsrWorker:
    """One worker process: claims streams, decodes them on its scheduler, publishes events."""

    def __init__(self, options: WorkerOptions, *, scheduler: Scheduler | None = None) -> None:
        self.options = options
        self.worker_id = options.worker_id or f"asr-{uuid.uuid4().hex[:10]}"
        self.scheduler = scheduler or Scheduler(options.scheduler)
        self.names = PoolNames(options.prefix)
        self._nc = None
        self._js = None
        self._specs = None
        self._leases = None
        self._known: dict[str, dict] = {}  # stream token -> spec, from the watcher
        self._spec_seen: dict[str, float] = {}  # token -> when its owner last repeated it
        self._lease_seen: dict[str, float] = {}  # token -> last time another holder renewed
        self._held: dict[str, _Held] = {}
        #: stream (one source of a hearing) -> its recent final text, the prompt: each source
        #: is prompted with its own words, never another seat's
        self._recent: dict[str, list[str]] = {}
        self._tasks: list[asyncio.Task] = []
        self._watchers: list = []
        self._stopping = False
        self._ttl = options.limits.lease_ttl_s  # the leases bucket's own, once started
        self.finals_published = 0

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    async def start(self) -> None:
        import nats
        try:  # reconnects never give up, so the first connection is bounded in time here
            self._nc = await asyncio.wait_for(nats.connect(
                self.options.nats_url, max_reconnect_attempts=-1, name=self.worker_id), 10)
        except Exception as exc:
            raise RuntimeError(f"cannot reach the NATS server at {self.options.nats_url}: "
                               f"{exc or type(exc).__name__}") from None
        self._js = self._nc.jetstream()
        await self.scheduler.start()
        self._specs, self._leases = await ensure_pool(self._js, self.options.limits,
                                                      self.names)
        self._ttl = (await self._leases.status()).ttl or self.options.limits.lease_ttl_s
        specs = await self._specs.watchall()
        leases = await self._leases.watchall()
        self._watchers = [specs, leases]
        self._tasks = [asyncio.create_task(self._watch_specs(specs), name="asr specs"),
                       asyncio.create_task(self._watch_leases(leases), name="asr leases"),
                       asyncio.create_task(self._tick_loop(), name="asr claims"),
                       asyncio.create_task(self._renew_loop(), name="asr renewals")]
        log.info("asr worker %s ready (%s)", self.worker_id, self.scheduler.model_label)

    async def stop(self) -> None:
        """Hand every stream back at once: its lease is released, so another worker takes
        it over from its last acknowledged audio (nothing is published on the way out)."""
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for held in list(self._held.values()):
            await self._drop(held, release=True)
        for w in self._watchers:
            try:
                await w.stop()
            except Exception:
                pass
        await self.scheduler.stop()
        if self._nc is not None:
            await self._nc.drain()

    # -- discovery and leases ------------------------------------------------------------

    async def _watch_specs(self, watcher) -> None:  # noqa: ANN001
        async for entry in watcher:
            if entry is None:
                continue
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                self._known.pop(entry.key, None)
                self._spec_seen.pop(entry.key, None)
            else:
                self._known[entry.key] = json.loads(entry.value)
                self._spec_seen[entry.key] = time.monotonic()

    async def _watch_leases(self, watcher) -> None:  # noqa: ANN001
        async for entry in watcher:
            if entry is None:
                continue
            if entry.operation in ("DEL", "PURGE"):
                self._lease_seen.pop(entry.key, None)
            elif entry.value and entry.value.decode() != self.worker_id:
                self._lease_seen[entry.key] = time.monotonic()

    async def _tick_loop(self) -> None:
        while True:
            try:
                self._forget_orphans()
                await self._claim_free()
                for held in list(self._held.values()):  # silence: about once a second
                    if time.monotonic() - held.acked_at >= self.options.ack_interval_s:
                        await self._acknowledge(held)
            except Exception:
                log.exception("asr worker: claim/acknowledge round failed")
            await asyncio.sleep(self.options.tick_s)

    def _forget_orphans(self) -> None:
        """A stream whose owner stopped repeating its open message (the node died and no
        other took its hearing over) is closed here: its last words still become finals."""
        limit = self.options.limits.spec_ttl_s
        now = time.monotonic()
        for token in [t for t, seen in self._spec_seen.items() if now - seen > limit]:
            self._known.pop(token, None)
            self._spec_seen.pop(token, None)
            held = self._held.get(token)
            if held is not None and not held.closing:
                log.warning("asr worker: %s has had no owner for %.0f s; closing it", token,
                            limit)
                held.closing = True
                asyncio.get_running_loop().create_task(self._finish(held))

    async def _claim_free(self) -> None:
        """Claim streams nobody holds. A busier worker waits a little longer before trying,
        so streams spread over the pool."""
        from nats.js.errors import KeyWrongLastSequenceError
        ttl = self._ttl
        for token, spec in list(self._known.items()):
            if len(self._held) >= self.options.max_streams or self._stopping:
                return
            if token in self._held or any(s.key.source_id == token
                                          for s in self.scheduler.streams()):
                continue  # held, or still being let go of
            seen = self._lease_seen.get(token)
            if seen is not None and time.monotonic() - seen < ttl:
                continue
            await asyncio.sleep(random.uniform(0, 0.05) * (1 + 4 * len(self._held)))
            try:
                revision = await self._leases.create(token, self.worker_id.encode())
            except KeyWrongLastSequenceError:
                self._lease_seen.setdefault(token, time.monotonic())
                continue
            await self._hold(token, spec, revision)

    async def _renew_loop(self) -> None:
        ttl = self._ttl
        while True:
            await asyncio.sleep(ttl / 3)
            for held in list(self._held.values()):
                if held.lost:
                    continue
                try:
                    held.revision = await self._leases.update(
                        held.token, self.worker_id.encode(), last=held.revision)
                    held.renewed_at = time.monotonic()
                except Exception as exc:  # taken over, or NATS unreachable past the lease
                    if time.monotonic() - held.renewed_at >= ttl * 0.8 or \
                            type(exc).__name__ == "KeyWrongLastSequenceError":
                        log.warning("asr worker: lost the lease of %s (%s)", held.token, exc)
                        await self._drop(held, release=False)

    def _valid(self, held: _Held) -> bool:
        """Still surely the holder: a renewal within most of the lease's time to live."""
        return not held.lost and \
            time.monotonic() - held.renewed_at < self._ttl * 0.8

    # -- one stream --------------------------------------------------------------------------

    async def _hold(self, token: str, spec: dict, revision: int) -> None:
        from nats.js.api import DeliverPolicy
        from nats.js.errors import NotFoundError
        held = _Held(token, spec, revision, time.monotonic())
        try:
            last = await self._js.get_last_msg(self.names.finals_stream,
                                               self.names.finals_subject(token))
            held.resume_ms = int((last.headers or {}).get(END_MS, 0)) or None
        except NotFoundError:
            pass
        recent = self._recent.setdefault(token, [spec.get("prompt", "")] if spec.get(
            "prompt") else [])
        options = StreamOptions(language=spec.get("language", "ru"),
                                vocabulary=list(spec.get("vocabulary") or []),
                                prompt=lambda: " ".join(recent)[-400:])
        key = StreamKey(int(spec["hearing_id"]), token)
        held.stream = self.scheduler.open_stream(
            key, options, lambda ev: held.outbox.put_nowait(ev))
        held.sender = asyncio.create_task(self._send_loop(held), name=f"asr send {token}")
        self._held[token] = held

        async def on_audio(msg) -> None:  # noqa: ANN001
            await self._on_audio(held, msg)
        try:
            held.sub = await self._js.subscribe(
                self.names.audio_subject(token), stream=self.names.audio_stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL, cb=on_audio)
        except Exception:
            await self._drop(held, release=True)  # another worker may do better
            raise
        log.info("asr worker %s holds %s (resume after %s ms)", self.worker_id, token,
                 held.resume_ms)

    async def _on_audio(self, held: _Held, msg) -> None:  # noqa: ANN001
        if held.lost or held.closing:
            return
        headers = msg.headers or {}
        kind = headers.get(KIND, "audio")
        if kind == "close":
            held.closing = True
            asyncio.get_running_loop().create_task(self._finish(held))
            return
        start = int(headers.get(START_MS, 0))
        samples = from_pcm16(msg.data)
        end = start + len(samples) // SAMPLES_PER_MS
        held.fed.append((msg.metadata.sequence.stream, end))
        if held.resume_ms is not None and start < held.resume_ms:
            samples = samples[(held.resume_ms - start) * SAMPLES_PER_MS:]
            start = held.resume_ms
        if len(samples):
            held.stream.feed(start, samples)
        while not held.lost and self._behind_ms(held.stream) > self.options.read_ahead_ms:
            await asyncio.sleep(0.05)

    @staticmethod
    def _behind_ms(stream: Stream) -> int:
        with stream.lock:
            received, processed = stream.core.received_to_ms, stream.core.processed_to_ms
        return 0 if received is None or processed is None else received - processed

    async def _send_loop(self, held: _Held) -> None:
        """Publish the stream's events in order: a final is stored by JetStream (retried
        until it is) before the audio under it may be acknowledged."""
        hearing = held.token.split(".", 1)[0]
        source = held.spec["source_id"]
        while True:
            event: TranscriptEvent = await held.outbox.get()
            try:
                event = replace(event, source_id=source, segment_id=event.segment_id.replace(
                    held.token, source, 1))
                if event.kind == "partial":
                    if self._valid(held):
                        await self._nc.publish(self.names.partials_subject(hearing),
                                               event_to_json(event))
                    continue
                while not held.lost:
                    if not self._valid(held):  # not surely the holder: wait for the renewal
                        await asyncio.sleep(0.1)
                        continue
                    try:
                        await self._js.publish(
                            self.names.finals_subject(held.token), event_to_json(event),
                            stream=self.names.finals_stream, headers={
                                KIND: "final", END_MS: str(event.end_ms),
                                MSG_ID: f"{held.token}:{event.start_ms}:{event.end_ms}"})
                        break
                    except Exception as exc:
                        log.warning("asr worker: publishing a final of %s: %s", held.token,
                                    exc)
                        await asyncio.sleep(0.2)
                if held.lost:
                    continue
                held.published_finals += 1
                held.last_end_ms = max(held.last_end_ms, event.end_ms)
                self.finals_published += 1
                recent = self._recent.setdefault(held.token, [])
                if conditions_prompt(event.uncertain):
                    recent.append(event.text)
                del recent[:-20]
                await self._acknowledge(held)
            except Exception:
                log.exception("asr worker: an event of %s was not published", held.token)
            finally:
                held.outbox.task_done()

    async def _acknowledge(self, held: _Held) -> None:
        """Purge the audio whose words are all in published finals."""
        if held.stream is None or held.lost or held.closing or not self._valid(held):
            return
        needed_ms, emitted = held.stream.checkpoint()
        if needed_ms is None or held.published_finals < emitted:
            return  # a final is still on its way: the audio under it must stay
        upto = 0
        while held.fed and held.fed[0][1] <= needed_ms:
            upto = held.fed.popleft()[0]
        if upto >= held.purged_to:
            await self._js.purge_stream(self.names.audio_stream,
                                        subject=self.names.audio_subject(held.token),
                                        seq=upto + 1)
            held.purged_to = upto + 1
            held.acked_at = time.monotonic()

    async def _finish(self, held: _Held) -> None:
        """The owner closed the stream: flush its last final, answer ``closed``, forget it."""
        try:
            await held.stream.close()
            await held.outbox.join()
            if held.lost:
                return
            await self._js.publish(self.names.finals_subject(held.token), b"",
                                   stream=self.names.finals_stream,
                                   headers={KIND: "closed", END_MS: str(held.last_end_ms),
                                            MSG_ID: f"{held.token}:closed"})
            await self._js.purge_stream(self.names.audio_stream,
                                        subject=self.names.audio_subject(held.token))
            await self._specs.delete(held.token)
            self._known.pop(held.token, None)
        except Exception:
            log.exception("asr worker: closing %s failed", held.token)
        await self._drop(held, release=True)

    async def _drop(self, held: _Held, *, release: bool) -> None:
        """Stop holding a stream: nothing more is published or acknowledged for it."""
        if self._held.get(held.token) is not held:
            return
        del self._held[held.token]
        held.lost = True
        self._recent.pop(held.token, None)
        if held.sub is not None:
            try:
                await held.sub.unsubscribe()
            except Exception:
                pass
        if held.sender is not None:
            held.sender.cancel()
        if held.stream is not None and held.stream.closed_future is None:
            asyncio.get_running_loop().create_task(held.stream.close())  # leaves the model
        if release:
            try:
                await self._leases.delete(held.token, last=held.revision)
            except Exception:  # lapsed already, or taken over: nothing to release
                pass


async def serve(options: WorkerOptions, ready: Callable[[AsrWorker], None] | None = None
                ) -> None:
    """Run a worker until SIGINT or SIGTERM, then hand its streams back (``stop``)."""
    import signal
    worker = AsrWorker(options)
    await worker.start()
    if ready is not None:
        ready(worker)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await worker.stop()
