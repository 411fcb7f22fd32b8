"""Durable work queues between the nodes of a court: NATS JetStream, one stream for all jobs.

A job (make an evidence item's playback copies, transcribe its sound) is a message on
``<prefix>.jobs.<kind>`` of the work-queue stream ``<PREFIX>_JOBS`` (``bus_prefix``): it stays
stored until a node acknowledges it, and every message goes to one node at a time (all nodes
pull from one durable consumer per kind). A node acknowledges a job only after its result is
stored in the database, so a job outlives the node that queued it and the node that was doing
it: a node that stops hands back what it held (another node takes it within seconds), and a
node that dies stops reporting progress, so after ``ack_wait_s`` the job goes to another node.
The work itself checks the database first and acknowledges without work a job whose result is
already stored (a job delivered again, or queued twice), which makes each result happen exactly
once.

Stream (created or updated at start): ``retention=workqueue``, file storage,
``duplicate_window`` = ``duplicate_window_s`` (a job queued again under the same id within it
is stored once). Consumers: durable, named after the kind, explicit acknowledgement,
``ack_wait`` = ``ack_wait_s`` (a running job reports progress every third of it), and
``max_deliver`` = ``max_deliver`` (a job that every attempt cut short is then left in the
stream, not retried forever; the server's start-up queues what is still undone again)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hearing.bus import DEFAULT_PREFIX, stream_name

log = logging.getLogger(__name__)

#: How long one request for jobs waits at the server. A node that stops hands its jobs back
#: delayed past it, so none goes to its own request still waiting there.
FETCH_S = 2.0


@dataclass(frozen=True)
class WorkQueueOptions:
    url: str
    #: The court's ``bus_prefix``: the stream is ``<PREFIX>_JOBS``, its subjects
    #: ``<prefix>.jobs.<kind>``.
    prefix: str = DEFAULT_PREFIX
    ack_wait_s: float = 60.0
    max_deliver: int = 5
    duplicate_window_s: float = 600.0
    connect_timeout_s: float = 5.0

    @property
    def stream(self) -> str:
        return stream_name(self.prefix, "JOBS")


class Job:
    """One delivery of a queued job; ``done`` or ``retry`` it exactly once."""

    def __init__(self, queue: "WorkQueue", msg: Any) -> None:
        self.queue = queue
        self.msg = msg
        self.data: dict[str, Any] = json.loads(msg.data)
        self.finished = False

    async def done(self) -> None:
        """Its result is stored (or there was nothing to do): the job leaves the stream."""
        await self._end(self.msg.ack)

    async def retry(self, delay_s: float | None = None) -> None:
        """Not done here: the job goes back to the stream for a node (maybe this one)."""
        await self._end(lambda: self.msg.nak(delay=delay_s))

    async def _end(self, reply: Callable[[], Awaitable[Any]]) -> None:
        if self.finished:
            return
        self.finished = True
        self.queue._held.discard(self)
        self.queue._slots_of(self).release()
        try:
            await reply()
        except Exception as exc:  # the server went away: ack_wait hands it on, the check
            log.warning("jobs: could not answer for %s: %s", self.msg.subject, exc)  # dedupes


class WorkQueue:
    """This node's connection to the job stream: ``put`` queues, ``consume`` takes."""

    def __init__(self, options: WorkQueueOptions) -> None:
        self.options = options
        self._nc: Any = None
        self._js: Any = None
        self._loops: list[asyncio.Task[None]] = []
        self._subs: list[Any] = []
        self._held: set[Job] = set()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._keepalive: asyncio.Task[None] | None = None

    def subject(self, kind: str) -> str:
        return f"{self.options.prefix}.jobs.{kind}"

    async def start(self) -> None:
        import nats
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import BadRequestError
        o = self.options
        try:
            self._nc = await asyncio.wait_for(nats.connect(
                o.url, connect_timeout=o.connect_timeout_s, max_reconnect_attempts=-1,
                allow_reconnect=True), o.connect_timeout_s)
        except Exception as exc:
            raise RuntimeError(f"cannot reach the NATS server at {o.url}: "
                               f"{exc or type(exc).__name__}") from None
        self._js = self._nc.jetstream()
        config = StreamConfig(name=o.stream, subjects=[f"{o.prefix}.jobs.>"],
                              retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE,
                              duplicate_window=o.duplicate_window_s)
        try:
            await self._js.add_stream(config)
        except BadRequestError:  # it exists with another configuration: bring it up to date
            await self._js.update_stream(config)
        await self._forget_old_subjects()
        self._keepalive = asyncio.get_running_loop().create_task(
            self._keep_alive(), name="jobs keep-alive")

    async def _forget_old_subjects(self) -> None:
        """A stream made under older subject names (``<stream>.<kind>``): its consumers would
        wait on subjects nobody publishes to, so they go (made anew on the first take), and
        so do the jobs stored under those names (the server's start-up queues again what is
        still undone)."""
        o = self.options
        stale = False
        for info in await self._js.consumers_info(o.stream):
            if not (info.config.filter_subject or "").startswith(f"{o.prefix}.jobs."):
                await self._js.delete_consumer(o.stream, info.name)
                stale = True
        if stale:
            await self._js.purge_stream(o.stream, subject=f"{o.stream}.>")

    async def close(self) -> None:
        """Stop taking jobs and hand back those held and not done, so another node takes
        them within seconds (not after ``ack_wait_s``)."""
        tasks = [*self._loops, *([self._keepalive] if self._keepalive else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
        for job in list(self._held):
            await job.retry(delay_s=FETCH_S + 1.0)
        if self._nc is not None:
            try:
                await self._nc.flush(timeout=2)
            except Exception:
                pass
            await self._nc.close()
            self._nc = None

    async def put(self, kind: str, data: dict[str, Any], job_id: str) -> None:
        """Queue a job; the same ``job_id`` within the duplicate window is stored once."""
        await self._js.publish(self.subject(kind), json.dumps(data).encode(),
                               headers={"Nats-Msg-Id": f"{kind}:{job_id}"})

    def consume(self, kind: str, take: Callable[[Job], Awaitable[None]], slots: int) -> None:
        """Take ``kind`` jobs, at most ``slots`` held by this node at once; ``take`` starts the
        work and the job is answered (``done``/``retry``) when it ends, maybe later."""
        self._slots[kind] = asyncio.Semaphore(slots)
        self._loops.append(asyncio.get_running_loop().create_task(
            self._pull(kind, take), name=f"jobs {kind}"))

    def _slots_of(self, job: Job) -> asyncio.Semaphore:
        return self._slots[job.msg.subject.rsplit(".", 1)[-1]]

    async def _pull(self, kind: str, take: Callable[[Job], Awaitable[None]]) -> None:
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig
        o = self.options
        slots = self._slots[kind]
        sub = None
        while True:
            try:
                if sub is None:
                    sub = await self._js.pull_subscribe(
                        self.subject(kind), durable=kind, stream=o.stream,
                        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                              ack_wait=o.ack_wait_s,
                                              max_deliver=o.max_deliver))
                    self._subs.append(sub)
                await slots.acquire()
                free = 1
                while not slots.locked():  # take as many as there are free slots
                    await slots.acquire()
                    free += 1
                try:
                    msgs = await sub.fetch(free, timeout=FETCH_S)
                except (NatsTimeout, asyncio.TimeoutError):
                    msgs = []
                for _ in range(free - len(msgs)):
                    slots.release()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server is away: the client reconnects
                log.warning("jobs: taking %s jobs failed: %s", kind, exc)
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                try:
                    job = Job(self, msg)
                except ValueError:
                    log.warning("jobs: a %s job is not JSON; dropped", kind)
                    await msg.term()
                    slots.release()
                    continue
                self._held.add(job)
                try:
                    await take(job)
                except Exception:
                    log.exception("jobs: starting a %s job failed", kind)
                    await job.retry(delay_s=5.0)

    async def _keep_alive(self) -> None:
        """Jobs held here are still being worked on (or waiting their turn here)."""
        while True:
            await asyncio.sleep(self.options.ack_wait_s / 3)
            for job in list(self._held):
                try:
                    await job.msg.in_progress()
                except Exception as exc:
                    log.warning("jobs: progress of %s not reported: %s", job.msg.subject, exc)
