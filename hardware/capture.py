"""Capture of one multi-channel device: each mapped channel becomes its own source of
``AudioChunk`` on the hearing clock.

A thread per device reads blocks, meters them, resamples every channel to 16 kHz and runs the
bleed gate, then hands the block to the event loop with ``call_soon_threadsafe``; the loop only
puts ready chunks into bounded per-channel queues, one consumer task per channel and per sink
(transcription, recording). A device that hangs inside a driver call therefore stalls only its
own thread; a watchdog on the loop reports it. A device that fails is reopened with backoff and
the time it was away is reported as a gap; chunks resume at their true hearing-clock time.

Timing: the first block after (re)opening is anchored to the hearing clock by its arrival time
minus its length; after that time is counted in samples, so scheduling jitter never moves a
chunk. If the device's clock drifts from the host's by more than ``resync_ms``, or the device
reports a discontinuity, the channel is re-anchored (and a gap reported when time was lost)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import numpy as np

from hardware.bleed import BleedGate, BleedOptions
from hardware.device_url import DeviceSpec, parse_device_url
from hardware.meters import LevelMeter, MeterOptions
from hardware.readers import DeviceError, Reader, open_reader
from hardware.resample import ChannelResampler
from hardware.seatmap import Seat, SeatMap
from media.audio import SAMPLE_RATE, AudioChunk
from media.clock import HearingClock
from media.tasks import Tasks

log = logging.getLogger(__name__)

ChunkSink = Callable[[AudioChunk], Awaitable[None] | None]
EventSink = Callable[[dict], Awaitable[None] | None]


@dataclass(frozen=True)
class CaptureOptions:
    block_ms: int = 100  # device audio handled per step: latency vs. per-block overhead
    queue_s: float = 10.0  # per-channel queue; when a consumer is this far behind on a live
    #                        device the OLDEST chunk is dropped and a "dropped" alert says so
    backpressure: bool | None = None  # wait for consumers instead of dropping; None = only for
    #                                   file replays, which can wait (a live device cannot)
    speed: float | None = None  # file replay pace; None = the URL's ?speed= (default 1)
    stall_s: float = 2.0  # no audio for this long from a live device -> "device_stalled"
    stop_drain_s: float = 5.0  # stop() waits this long for consumers to take queued chunks
    retry_initial_s: float = 0.5  # reopen backoff starts here, doubles ...
    retry_max_s: float = 30.0  # ... up to this
    resync_ms: int = 500  # audio this far behind the clock after the device went quiet
    #                       for as long is a gap: chunks resume at their true time
    drift_reanchor_ms: int = 5000  # off the clock this long with data flowing -> re-anchor
    #                                silently (device clock drift, not lost audio)
    bleed: BleedOptions = field(default_factory=BleedOptions)
    meters: MeterOptions = field(default_factory=MeterOptions)


class Capture:
    """One device's seats as independent sources.

    ``on_chunk`` gets bleed-gated chunks (feed these to transcription), ``on_record`` the same
    chunks untouched (feed these to the recorder), ``on_meter`` level readings about ten times
    a second, ``on_alert`` alerts (dicts with ``kind``: silent, silence_cleared, clipping,
    device_error, device_stalled, device_restored, dropped, sink_error, sink_restored, ended).
    Callbacks may be plain functions or coroutines; they run on the event loop. A chunk sink
    that raises loses that chunk: the first failure of a seat's sink is logged with its reason
    and raised as a ``sink_error`` alert, the rest of the run of failures only counted
    (``stats["sink_errors"]``), and the sink's recovery is a ``sink_restored`` alert carrying
    the gap. Exceptions in the other callbacks are logged."""

    def __init__(self, device_url: str, seat_map: SeatMap | None, clock: HearingClock,
                 on_chunk: ChunkSink | None = None, on_meter: EventSink | None = None,
                 on_alert: EventSink | None = None, options: CaptureOptions = CaptureOptions(),
                 on_record: ChunkSink | None = None) -> None:
        self.url = device_url
        self.spec: DeviceSpec = parse_device_url(device_url)
        self.seat_map = seat_map
        self.clock = clock
        self.on_chunk, self.on_record = on_chunk, on_record
        self.on_meter, self.on_alert = on_meter, on_alert
        self.opt = options
        self.hearing_open = True  # alerts about silence and clipping only while open
        self.seats: tuple[Seat, ...] = ()
        self.origin_ms: int | None = None  # hearing-clock ms of the first sample captured
        self.stats = {"blocks": 0, "device_seconds": 0.0, "cpu_seconds": 0.0, "reopens": 0,
                      "dropped_chunks": 0, "gaps": 0, "sink_errors": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._queues: dict[str, asyncio.Queue] = {}
        self._tasks = Tasks(f"capture {device_url}")  # a consumer per seat and sink, the watchdog
        self._failing: dict[str, tuple[int, int]] = {}  # "asr:seat:judge" -> (from_ms, chunks)
        self._last_data = time.monotonic()
        self._stalled = False
        self._done: asyncio.Future | None = None
        self._reader: Reader | None = None
        self._last_end_ms: int | None = None
        self.channels = 0
        self.rate = 0

    # ---------------------------------------------------------------- public
    async def start(self) -> None:
        """Start capturing; returns at once (opening the device happens in the thread)."""
        if self._thread is not None:
            raise RuntimeError("capture already started")
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        self.seats = self._seats_for_device()
        size = max(2, int(self.opt.queue_s * 1000 / self.opt.block_ms))
        for sink_name, sink in (("asr", self.on_chunk), ("rec", self.on_record)):
            if sink is None:
                continue
            for seat in self.seats:
                key = f"{sink_name}:{seat.source_id}"
                q: asyncio.Queue = asyncio.Queue(maxsize=size)
                self._queues[key] = q
                self._tasks.start(self._consume(q, sink, key), key)
        self._tasks.start(self._watchdog(), "watchdog")
        self._last_data = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"capture {self.url}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop and flush what was captured. A device stuck inside a driver call is left to
        its (daemon) thread: stop never waits on it for more than a second."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 1.0)
        try:  # hand over what is queued, unless a consumer is stuck
            await asyncio.wait_for(self._drain(), self.opt.stop_drain_s)
        except asyncio.TimeoutError:
            log.warning("%s: consumers did not take the last chunks in %.0f s; dropped",
                        self.url, self.opt.stop_drain_s)
        for name in (*self._queues, "watchdog"):  # the loops end here ...
            for task in self._tasks.named(name):
                await self._tasks.cancel(task)
        try:  # ... the alerts being handed to an async sink are delivered
            await asyncio.wait_for(self._tasks.wait(), self.opt.stop_drain_s)
        except asyncio.TimeoutError:
            log.warning("%s: an event sink did not return in %.0f s", self.url,
                        self.opt.stop_drain_s)
        await self._tasks.close()
        for key, (from_ms, failed) in self._failing.items():
            log.warning("%s: the %s sink of %s refused all %d chunks from %d ms to the end",
                        self.url, *key.split(":", 1), failed, from_ms)

    async def wait_ended(self) -> None:
        """For replays: returns when the file has been played and every chunk delivered."""
        assert self._done is not None, "start() first"
        await asyncio.shield(self._done)
        await self._drain()

    def set_hearing_open(self, is_open: bool) -> None:
        self.hearing_open = is_open

    # ------------------------------------------------------------ loop side
    def _seats_for_device(self) -> tuple[Seat, ...]:
        if self.seat_map is None:
            return ()
        seats = self.seat_map.seats_on(self.url)
        if not seats and len(self.seat_map.devices()) == 1:
            seats = self.seat_map.seats  # a one-device map replayed from another URL
        return seats

    async def _consume(self, q: asyncio.Queue, sink: ChunkSink, key: str) -> None:
        while True:
            chunk = await q.get()
            try:
                r = sink(chunk)
                if inspect.isawaitable(r):
                    await r
            except Exception as exc:
                self._sink_failed(key, chunk, exc)
            else:
                if key in self._failing:
                    self._sink_restored(key, chunk)
            finally:
                q.task_done()

    def _sink_failed(self, key: str, chunk: AudioChunk, exc: Exception) -> None:
        """A chunk the sink refused is lost to it (a transcriber that does not know the
        stream, ...): said once per run of failures, with the reason, then only counted."""
        self.stats["sink_errors"] += 1
        if key in self._failing:
            from_ms, failed = self._failing[key]
            self._failing[key] = (from_ms, failed + 1)
            return
        self._failing[key] = (chunk.start_ms, 1)
        sink = key.split(":", 1)[0]
        log.error("%s: the %s sink refused audio of %s from %d ms; that audio is lost to it "
                  "until it accepts again", self.url, sink, chunk.source_id, chunk.start_ms,
                  exc_info=exc)
        self._emit(self.on_alert, self._alert(
            "sink_error", f"{chunk.source_id}: {sink} refused the audio: "
            f"{type(exc).__name__}: {exc}",
            source_id=chunk.source_id, sink=sink, from_ms=chunk.start_ms))

    def _sink_restored(self, key: str, chunk: AudioChunk) -> None:
        from_ms, failed = self._failing.pop(key)
        sink = key.split(":", 1)[0]
        log.info("%s: the %s sink accepts audio of %s again after %d refused chunks",
                 self.url, sink, chunk.source_id, failed)
        self._emit(self.on_alert, self._alert(
            "sink_restored", f"{chunk.source_id}: {sink} accepts the audio again; "
            f"{(chunk.start_ms - from_ms) / 1000:.1f} s of it are lost to {sink}",
            source_id=chunk.source_id, sink=sink, gap={"from_ms": from_ms, "to_ms": chunk.start_ms}))

    async def _drain(self) -> None:
        for q in list(self._queues.values()):
            await q.join()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(0.5, self.opt.stall_s / 2))
            quiet = time.monotonic() - self._last_data
            reader = self._reader
            replay = reader is not None and not reader.live and reader.channels > 0
            if (quiet >= self.opt.stall_s and not self._stalled and not self._done.done()
                    and not replay):  # a replay waiting for its consumers is not stalled
                self._stalled = True
                self._emit(self.on_alert, self._alert(
                    "device_stalled", f"{self.url}: no audio for {quiet:.1f} s",
                    since_ms=self.clock.now_ms() - int(quiet * 1000)))

    def _emit(self, sink: EventSink | None, event: dict) -> None:
        if sink is None:
            return
        try:
            r = sink(event)
            if inspect.isawaitable(r):
                try:
                    self._tasks.start(_awaited(r), f"{event.get('kind', 'meter')} sink")
                except RuntimeError:  # stopped: a thread stuck in a driver call spoke late
                    if inspect.iscoroutine(r):
                        r.close()
                    log.warning("%s: %s after stop not delivered", self.url, event.get("kind"))
        except Exception:
            log.exception("capture event sink failed")

    def _alert(self, kind: str, message: str, **extra: Any) -> dict:
        return {"type": "alert", "kind": kind, "device": self.url, "t_ms": self.clock.now_ms(),
                "message": message, **extra}

    def _deliver(self, asr: list[AudioChunk], rec: list[AudioChunk], meters: list[dict],
                 alerts: list[dict]) -> None:
        """On the loop: enqueue one block's chunks; drop the oldest where a queue is full."""
        for prefix, chunks in (("asr", asr), ("rec", rec)):
            for chunk in chunks:
                q = self._queues.get(f"{prefix}:{chunk.source_id}")
                if q is None:
                    continue
                if q.full():
                    old = q.get_nowait()
                    q.task_done()
                    self.stats["dropped_chunks"] += 1
                    alerts.append(self._alert(
                        "dropped", f"{chunk.source_id}: {prefix} consumer is "
                        f"{self.opt.queue_s:.0f} s behind; dropped {old.duration_ms} ms",
                        source_id=chunk.source_id, sink=prefix, from_ms=old.start_ms,
                        to_ms=old.end_ms))
                q.put_nowait(chunk)
        for m in meters:
            self._emit(self.on_meter, {**m, "device": self.url})
        for a in alerts:
            self._emit(self.on_alert, {"device": self.url, **a})

    async def _deliver_waiting(self, asr: list[AudioChunk], rec: list[AudioChunk],
                               meters: list[dict], alerts: list[dict]) -> None:
        for prefix, chunks in (("asr", asr), ("rec", rec)):
            for chunk in chunks:
                q = self._queues.get(f"{prefix}:{chunk.source_id}")
                if q is not None:
                    await q.put(chunk)
        self._deliver([], [], meters, alerts)

    def _finish(self, exc: BaseException | None = None) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    # ---------------------------------------------------------- thread side
    def _hand_over(self, asr, rec, meters, alerts, wait: bool) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if wait:
            fut = asyncio.run_coroutine_threadsafe(
                self._deliver_waiting(asr, rec, meters, alerts), loop)
            while not self._stop.is_set():
                try:
                    fut.result(timeout=0.2)
                    return
                except TimeoutError:
                    continue
            fut.cancel()
        else:
            try:
                loop.call_soon_threadsafe(self._deliver, asr, rec, meters, alerts)
            except RuntimeError:  # loop closed while we were reading
                pass

    def _thread_alert(self, kind: str, message: str, **extra: Any) -> None:
        self._hand_over([], [], [], [self._alert(kind, message, **extra)], wait=False)

    def _run(self) -> None:
        backoff = self.opt.retry_initial_s
        outage_from: int | None = None  # hearing ms where audio stopped, while it is away
        first_error = True
        while not self._stop.is_set():
            try:
                reader = open_reader(self.spec, self.opt.block_ms, self.opt.speed)
                self._reader = reader
                reader.open()
            except DeviceError as e:
                if outage_from is None:
                    outage_from = self._last_end_ms
                if first_error:
                    self._thread_alert("device_error", str(e), retry_in_s=backoff)
                    first_error = False
                log.warning("%s (retrying in %.1f s)", e, backoff)
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, self.opt.retry_max_s)
                continue
            except Exception as e:  # bad URL parameters: retrying cannot help
                self._thread_alert("device_error", f"{self.url}: {e}")
                log.error("cannot capture %s: %s", self.url, e)
                break
            try:
                ended = self._pump(reader, outage_from)
            except DeviceError as e:
                reader.close()
                if not reader.live:  # a damaged file: replaying it again would repeat audio
                    self._thread_alert("device_error", f"{e}; replay stopped")
                    break
                self._thread_alert("device_error", str(e), retry_in_s=self.opt.retry_initial_s)
                log.warning("%s", e)
                outage_from = self._last_end_ms
                first_error = False
                backoff = self.opt.retry_initial_s
                self.stats["reopens"] += 1
                if self._stop.wait(backoff):
                    break
                continue
            except Exception as e:  # a bug must not kill the hearing silently
                log.exception("capture of %s failed", self.url)
                self._thread_alert("device_error", f"{self.url}: internal error: {e}")
                reader.close()
                break
            reader.close()
            if ended:
                self._thread_alert("ended", f"{self.url}: replay finished")
                break
            backoff, first_error = self.opt.retry_initial_s, True
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._finish)
            except RuntimeError:
                pass

    def _pump(self, reader: Reader, outage_from: int | None) -> bool:
        """Read until stopped (False) or the replay ends (True); DeviceError on device loss."""
        self.channels, self.rate = reader.channels, reader.rate
        seats = [s for s in self.seats if s.index < reader.channels]
        missing = [s for s in self.seats if s.index >= reader.channels]
        if missing:
            self._thread_alert("device_error", f"{self.url} has {reader.channels} channel(s); "
                               f"seat(s) {', '.join(s.seat_id for s in missing)} are mapped "
                               "beyond it and get no audio")
        idx = [s.index for s in seats]
        meter = LevelMeter(reader.rate, list(range(reader.channels)), self._channel_names(reader),
                           self.opt.meters)
        wait = self.opt.backpressure if self.opt.backpressure is not None else not reader.live
        block_n = max(1, reader.rate * self.opt.block_ms // 1000)
        pending: list[np.ndarray] = []
        have = 0
        st = {"anchor": None, "dev_pos": 0, "out_pos": 0, "outage_from": outage_from,
              "resampler": None, "gate": None}
        opened_ms = self.clock.now_ms()
        cpu_start = time.thread_time()
        cpu_base = self.stats["cpu_seconds"]

        def step(x: np.ndarray, continuous: bool, t_arrival: float, waited_s: float) -> None:
            n = x.shape[1]
            self._last_data = t_arrival
            arrival_ms = self.clock.at_monotonic(t_arrival)
            alerts: list[dict] = []
            if st["anchor"] is not None and reader.live:
                prev_end = st["anchor"] + st["dev_pos"] * 1000 // reader.rate
                late = arrival_ms - (prev_end + n * 1000 // reader.rate)
                if not continuous or (late > self.opt.resync_ms and not reader.timestamped
                                      and waited_s * 1000 > self.opt.resync_ms):
                    # the device delivered nothing for a while and its audio is now behind
                    # the clock: that time is lost, so it is a gap
                    st["outage_from"] = prev_end
                    st["anchor"] = None
                elif abs(late) > self.opt.resync_ms:
                    # data came promptly but off the clock: we were descheduled (audio was
                    # buffered, nothing lost) or the device clock drifts; re-anchor silently
                    # once it has stayed off for a while
                    st["off_blocks"] += 1
                    if st["off_blocks"] * self.opt.block_ms >= self.opt.drift_reanchor_ms:
                        st["anchor"] = None
                else:
                    st["off_blocks"] = 0
            if st["anchor"] is None:
                anchor = arrival_ms - n * 1000 // reader.rate if reader.live else opened_ms
                st.update(anchor=anchor, dev_pos=0, out_pos=0, off_blocks=0,
                          resampler=ChannelResampler(len(idx), reader.rate),
                          gate=BleedGate(len(idx), self.opt.bleed))
                if self.origin_ms is None:
                    self.origin_ms = anchor
                gap_from = st["outage_from"]
                if gap_from is not None and anchor > gap_from:
                    self.stats["gaps"] += 1
                    alerts.append(self._alert(
                        "device_restored", f"{self.url}: audio back after "
                        f"{(anchor - gap_from) / 1000:.1f} s; that stretch is a gap",
                        gap={"from_ms": gap_from, "to_ms": anchor}))
                elif self._stalled:
                    alerts.append(self._alert("device_restored", f"{self.url}: audio back"))
                st["outage_from"] = None
                self._stalled = False
            elif self._stalled:
                self._stalled = False
                alerts.append(self._alert("device_restored", f"{self.url}: audio back"))
            anchor = st["anchor"]
            t_block = anchor + st["dev_pos"] * 1000 // reader.rate
            meters, level_alerts = meter.process(x, t_block, self.hearing_open)
            alerts.extend(level_alerts)
            asr_chunks: list[AudioChunk] = []
            rec_chunks: list[AudioChunk] = []
            if idx:
                raw, gated = st["gate"].process(st["resampler"].process(x[idx]))
                m = raw.shape[1]
                if m:
                    start = anchor + st["out_pos"] * 1000 // SAMPLE_RATE
                    for k, seat in enumerate(seats):
                        if self.on_record is not None:
                            rec_chunks.append(AudioChunk(seat.source_id, start, raw[k].copy()))
                        if self.on_chunk is not None:
                            asr_chunks.append(AudioChunk(seat.source_id, start, gated[k].copy()))
                    st["out_pos"] += m
            st["dev_pos"] += n
            self._last_end_ms = anchor + st["dev_pos"] * 1000 // reader.rate
            self.stats["blocks"] += 1
            self.stats["device_seconds"] += n / reader.rate
            self.stats["cpu_seconds"] = cpu_base + time.thread_time() - cpu_start
            self._hand_over(asr_chunks, rec_chunks, meters, alerts, wait)

        waited = 0.0  # longest wait for data among the pending reads
        last_data = time.monotonic()

        def flush(t: float) -> None:
            nonlocal pending, have, waited
            if pending:
                x = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
                pending, have = [], 0
                step(x, True, t, waited)
                waited = 0.0

        while not self._stop.is_set():
            block = reader.read()
            now = time.monotonic()
            if block is None:
                flush(now)
                return True
            n = block.samples.shape[1]
            if n == 0:  # a quiet read: hand over what is pending
                flush(now)
                continue
            wait_s, last_data = now - last_data, now
            if not block.continuous:
                flush(now)
                step(block.samples, False, now, wait_s)
                continue
            waited = max(waited, wait_s)
            pending.append(block.samples)
            have += n
            if have >= block_n:
                flush(now)
        return False

    def _channel_names(self, reader: Reader) -> list[str | None]:
        by_index = {s.index: s.seat_id for s in self.seats}
        return [by_index.get(c) for c in range(reader.channels)]


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    """A coroutine for any awaitable an event sink returned (a task needs a coroutine)."""
    return await awaitable

