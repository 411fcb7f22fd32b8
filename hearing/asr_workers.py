"""The owner node's side of the Whisper worker pool (``asr_mode = "workers"``): each source's
audio goes to JetStream for ``courtroom asr-worker`` processes, and their finals and partials
come back here, where they are stored and fanned out exactly as the in-process scheduler's.
The subjects, buckets and message format are ``asr.worker``'s.

Audio is sent in order per source, in messages of about ``batch_ms`` (fewer, larger messages
than the 20 ms of a WebRTC frame), each retried until JetStream has stored it: what waits is
counted in ``backlog_bytes``, never dropped. Finals are read with a durable consumer per
hearing and acknowledged only once stored, so a node that dies before storing one leaves it
for the hearing's next owner."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import numpy as np

from asr.events import TranscriptEvent
from asr.worker import (END_MS, KIND, MSG_ID, SAMPLES_PER_MS, SEQ, START_MS, PoolLimits,
                        PoolNames, ensure_pool, event_from_json, pcm16, stream_token)

log = logging.getLogger(__name__)

Partial = Callable[[TranscriptEvent], None]
Final = Callable[[TranscriptEvent], Awaitable[None]]


@dataclass(frozen=True)
class PoolOptions:
    #: audio per message to the workers (a little latency for far fewer messages)
    batch_ms: int = 200
    #: how long closing a stream waits for its last final from a worker
    close_timeout_s: float = 60.0
    limits: PoolLimits = field(default_factory=PoolLimits)


class RemoteStream:
    """One source transcribed by the pool; fed and closed like a scheduler ``Stream``."""

    def __init__(self, pool: "WorkerPool", hearing: str, source_id: str, spec: dict,
                 on_partial: Partial, on_final: Final) -> None:
        self.pool = pool
        self.hearing = hearing
        self.source_id = source_id
        self.token = stream_token(hearing, source_id)
        self.key = self.token
        self.on_partial = on_partial
        self.on_final = on_final
        self.closed = asyncio.get_running_loop().create_future()
        self._buf: list[np.ndarray] = []
        self._buf_start: int | None = None
        self._buf_samples = 0
        self._seq = 0
        self._closing = False
        self._outbox: asyncio.Queue = asyncio.Queue()
        self.backlog_bytes = 0
        self._spec = json.dumps(spec, ensure_ascii=False).encode()
        self._outbox.put_nowait(("spec", self._spec, {}))
        self._sender = asyncio.get_running_loop().create_task(
            self._send_loop(), name=f"asr audio {self.token}")

    def feed(self, start_ms: int, samples: np.ndarray) -> None:
        if self._closing:
            raise RuntimeError(f"stream {self.token} is closed")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._buf_start is not None and \
                start_ms != self._buf_start + self._buf_samples // SAMPLES_PER_MS:
            self._flush()  # a jump in time starts a new message
        if self._buf_start is None:
            self._buf_start = int(start_ms)
        self._buf.append(samples)
        self._buf_samples += len(samples)
        if self._buf_samples >= self.pool.options.batch_ms * SAMPLES_PER_MS:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        data = pcm16(np.concatenate(self._buf))
        self._seq += 1
        self._put("audio", data, {START_MS: str(self._buf_start), SEQ: str(self._seq)})
        self._buf, self._buf_start, self._buf_samples = [], None, 0

    def repeat_open(self) -> None:
        """Say again that the stream is open (the open message lapses: ``spec_ttl_s``)."""
        if not self._closing:
            self._outbox.put_nowait(("spec", self._spec, {}))

    def _put(self, kind: str, data: bytes, headers: dict) -> None:
        self.backlog_bytes += len(data)
        self._outbox.put_nowait((kind, data, headers))

    async def close(self) -> None:
        """Send what is buffered and the close, then wait for the worker's last final."""
        if not self._closing:
            self._closing = True
            self._flush()
            self._put("close", b"", {})
        try:
            await asyncio.wait_for(asyncio.shield(self.closed),
                                   self.pool.options.close_timeout_s)
        except asyncio.TimeoutError:
            log.warning("no asr worker closed %s within %.0f s; its audio stays queued",
                        self.token, self.pool.options.close_timeout_s)
        finally:
            self._sender.cancel()

    async def _send_loop(self) -> None:
        js, names = self.pool.js, self.pool.names
        while True:
            kind, data, headers = await self._outbox.get()
            while True:
                try:
                    if kind == "spec":
                        await self.pool.specs.put(self.token, data)
                    else:
                        await js.publish(names.audio_subject(self.token), data,
                                         stream=names.audio_stream,
                                         headers={KIND: kind, MSG_ID: f"{self.token}:"
                                                  f"{headers.get(START_MS, 'close')}:"
                                                  f"{headers.get(SEQ, self._seq)}", **headers})
                    break
                except Exception as exc:  # NATS away: keep the audio, try again
                    log.warning("asr audio for %s deferred: %s", self.token, exc)
                    await asyncio.sleep(0.2)
            self.backlog_bytes -= len(data)


class _Hearing:
    """One hearing's way back from the workers: partials (core NATS) and finals (a durable
    consumer), dispatched to its streams by source."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.streams: dict[str, RemoteStream] = {}  # by stream token
        self.partials = None
        self.finals = None
        self.task: asyncio.Task | None = None


class WorkerPool:
    """This node's connection to the pool: opens remote streams, routes events back."""

    def __init__(self, nats_url: str, options: PoolOptions | None = None, *,
                 node_id: str = "", prefix: str = "courtroom") -> None:
        self.nats_url = nats_url
        self.options = options or PoolOptions()
        #: the court's ``bus_prefix``: the workers must have the same
        self.names = PoolNames(prefix)
        #: in the names of this node's consumers: a node taking over a hearing reads its
        #: finals with a consumer of its own (from the first; the stored ones are skipped)
        self.node_id = re.sub(r"[^A-Za-z0-9_-]", "_", node_id or uuid.uuid4().hex[:12])
        self.nc = None
        self.js = None
        self.specs = None
        self._repeat: asyncio.Task | None = None
        self._hearings: dict[str, _Hearing] = {}

    async def start(self) -> None:
        import nats
        self.nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1,
                                     name="courtroom-asr-owner")
        self.js = self.nc.jetstream()
        self.specs, _ = await ensure_pool(self.js, self.options.limits, self.names)
        self._repeat = asyncio.get_running_loop().create_task(self._repeat_open(),
                                                              name="asr open streams")

    async def _repeat_open(self) -> None:
        while True:
            await asyncio.sleep(self.options.limits.spec_ttl_s / 3)
            for h in list(self._hearings.values()):
                for stream in list(h.streams.values()):
                    stream.repeat_open()

    def backlog_bytes(self) -> int:
        return sum(s.backlog_bytes for h in self._hearings.values() for s in h.streams.values())

    def open(self, hearing: str, source_id: str, spec: dict, on_partial: Partial,
             on_final: Final) -> RemoteStream:
        """A stream for one source of a hearing (``hearing`` is ``asr.worker.hearing_token``);
        ``spec`` carries its hearing_id, language, vocabulary and prompt."""
        h = self._hearings.get(hearing)
        if h is None:
            h = self._hearings[hearing] = _Hearing(hearing)
            h.task = asyncio.get_running_loop().create_task(self._listen(h),
                                                            name=f"asr finals {hearing}")
        stream = RemoteStream(self, hearing, source_id, {**spec, "source_id": source_id},
                              on_partial, on_final)
        h.streams[stream.token] = stream
        return stream

    async def _listen(self, h: _Hearing) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        async def partial(msg) -> None:  # noqa: ANN001
            try:
                event = event_from_json(msg.data)
                stream = h.streams.get(stream_token(h.token, event.source_id))
                if stream is not None:
                    stream.on_partial(event)
            except Exception:
                log.exception("a partial from the asr workers was not delivered")
        h.partials = await self.nc.subscribe(self.names.partials_subject(h.token), cb=partial)
        durable = self._durable(h.token)
        h.finals = await self.js.pull_subscribe(
            self.names.hearing_finals(h.token), durable=durable,
            stream=self.names.finals_stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60,
                                  deliver_policy=DeliverPolicy.ALL, inactive_threshold=3600))
        while True:
            try:
                msgs = await h.finals.fetch(32, timeout=1)
            except asyncio.TimeoutError:  # nats' own is one; a fetch can raise the plain one
                continue
            except Exception as exc:
                log.warning("asr finals of %s: %r", h.token, exc)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                await self._final(h, msg)

    async def _final(self, h: _Hearing, msg) -> None:  # noqa: ANN001
        stream = h.streams.get(f"{h.token}.{msg.subject.rsplit('.', 1)[-1]}")
        kind = (msg.headers or {}).get(KIND, "final")
        try:
            if stream is not None and kind == "closed":
                if not stream.closed.done():
                    stream.closed.set_result(int((msg.headers or {}).get(END_MS, 0)))
            elif stream is not None:
                await stream.on_final(event_from_json(msg.data))
            await msg.ack()
        except Exception:  # not acknowledged: redelivered after ack_wait
            log.exception("a final from the asr workers was not stored")

    async def forget(self, hearing: str) -> None:
        """The hearing's streams are closed: stop listening and drop its consumer."""
        h = self._hearings.pop(hearing, None)
        if h is None:
            return
        if h.task is not None:
            h.task.cancel()
            await asyncio.gather(h.task, return_exceptions=True)
        for sub in (h.partials, h.finals):
            if sub is not None:
                try:
                    await sub.unsubscribe()
                except Exception:
                    pass
        try:
            await self.js.delete_consumer(self.names.finals_stream, self._durable(hearing))
        except Exception:
            pass

    def _durable(self, hearing: str) -> str:
        return f"owner-{hearing}-{self.node_id}"

    async def close(self) -> None:
        if self._repeat is not None:
            self._repeat.cancel()
            await asyncio.gather(self._repeat, return_exceptions=True)
        for hearing in list(self._hearings):
            await self.forget(hearing)
        if self.nc is not None:
            try:
                await self.nc.drain()
            except Exception:
                pass
            self.nc = None


def serve_worker_metrics(worker, host: str, port: int) -> None:  # noqa: ANN001 - AsrWorker
    """A worker's own /metrics (read at scrape time from the plain numbers it keeps): streams
    held, finals published, the model's queue and busy fraction, and each stream's lag."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class Collector:
        def collect(self):  # noqa: ANN202
            s = worker.scheduler
            yield GaugeMetricFamily("courtroom_asr_worker_streams", "Streams this worker holds",
                                    value=len(worker.held))
            yield CounterMetricFamily("courtroom_asr_worker_finals",
                                      "Finals published by this worker",
                                      value=worker.finals_published)
            depth = GaugeMetricFamily("courtroom_asr_queue", "Work waiting for the model",
                                      labels=["kind"])
            for kind, n in s.queue_depth().items():
                depth.add_metric([kind], n)
            yield depth
            yield GaugeMetricFamily("courtroom_asr_model_busy_ratio",
                                    "Fraction of the recent window the model spent decoding",
                                    value=s.load())
            lag = GaugeMetricFamily("courtroom_asr_stream_lag_seconds",
                                    "Audio received but not yet transcribed, per stream",
                                    labels=["stream"])
            for stream in s.streams():
                lag.add_metric([stream.source_id], stream.lag_ms / 1000)
            yield lag
    registry = CollectorRegistry()
    registry.register(Collector())
    start_http_server(port, addr=host, registry=registry)
