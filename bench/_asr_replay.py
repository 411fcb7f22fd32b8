"""Replaying a file as a live source, for the ASR benchmark.

``simulate`` runs one stream as fast as the machine allows but with computationally aware
emission times: a simulated clock advances with the audio and with every measured decode, so
an event is stamped when a real-time system on this machine would have emitted it.
``realtime`` feeds N files at real-time pace through the real ``Scheduler`` and measures
emission times on the wall clock."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from dataclasses import dataclass, field, replace

import numpy as np

from asr import SAMPLE_RATE
from asr.confidence import with_model_languages
from asr.decoder import Decoder
from asr.events import TranscriptEvent
from asr.scheduler import Scheduler
from asr.stream import StreamCore, StreamOptions

CHUNK_MS = 100


def read_wav(path: str) -> np.ndarray:
    with wave.open(path) as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16 kHz mono PCM16")
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


@dataclass
class Emitted:
    event: TranscriptEvent
    at_ms: float  # emission time on the audio's timeline (ms since the file started)


@dataclass
class ReplayResult:
    emitted: list[Emitted] = field(default_factory=list)
    compute_s: float = 0.0
    cpu_s: float = 0.0  # process CPU time of the decodes (less sensitive to a busy machine)
    audio_s: float = 0.0
    lags_ms: list[float] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (audio minute, MB)

    def finals(self) -> list[TranscriptEvent]:
        return [e.event for e in self.emitted if e.event.kind == "final"]


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def simulate(decoder: Decoder, audio: np.ndarray, options: StreamOptions,
             source_id: str = "sim", rss_every_s: float = 0) -> ReplayResult:
    options = replace(options, confidence=with_model_languages(
        options.confidence, decoder.model.options.review_languages))  # as the scheduler does
    core = StreamCore(source_id, options, decoder.model.label)
    out = ReplayResult(audio_s=len(audio) / SAMPLE_RATE)
    step = CHUNK_MS * SAMPLE_RATE // 1000
    total_ms = len(audio) * 1000 // SAMPLE_RATE
    fed = 0  # samples pushed
    now = 0.0  # simulated clock, ms since the file started
    closed = False
    next_rss = 0.0
    while True:
        while fed < len(audio) and (fed + step) * 1000 / SAMPLE_RATE <= now + 1e-6:
            core.push(fed * 1000 // SAMPLE_RATE, audio[fed:fed + step])
            fed += step
            if rss_every_s and fed / SAMPLE_RATE >= next_rss:
                out.rss_mb.append((round(fed / SAMPLE_RATE / 60, 2), round(current_rss_mb(), 1)))
                next_rss += rss_every_s
        t0 = time.perf_counter()
        frames = core.take_input()
        core.apply_vad(frames, core.vad.probabilities(frames))
        if fed >= len(audio) and not closed:
            core.close()
            closed = True
        now += (time.perf_counter() - t0) * 1000
        for ev in core.drain_events():
            out.emitted.append(Emitted(ev, now))
        job = core.take_final_job() or core.take_partial_job()
        if job is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            result = decoder.decode([job.request])[0]
            dt = time.perf_counter() - t0
            out.cpu_s += time.process_time() - c0
            out.compute_s += dt
            now += dt * 1000
            core.complete(job, result)
            for ev in core.drain_events():
                out.emitted.append(Emitted(ev, now))
            processed = core.processed_to_ms
            if processed is not None:
                out.lags_ms.append(min(now, total_ms) - processed if now <= total_ms else
                                   now - processed)
            continue
        if fed >= len(audio):
            break
        now = max(now, (fed + step) * 1000 / SAMPLE_RATE)
    return out


async def realtime(scheduler: Scheduler, audios: list[np.ndarray],
                   options: StreamOptions) -> list[ReplayResult]:
    """Feed every audio at real-time pace, concurrently, each as its own source."""
    results = [ReplayResult(audio_s=len(a) / SAMPLE_RATE) for a in audios]
    t_start = time.monotonic()

    def on_event(i: int):
        def handler(ev: TranscriptEvent) -> None:
            results[i].emitted.append(Emitted(ev, (time.monotonic() - t_start) * 1000))
        return handler

    streams = [scheduler.open_stream(f"rt{i}", options, on_event(i)) for i in range(len(audios))]
    step = CHUNK_MS * SAMPLE_RATE // 1000
    silence = np.zeros(step, dtype=np.float32)
    longest = max(len(a) for a in audios)
    for k, fed in enumerate(range(0, longest, step)):
        target = t_start + (fed + step) / SAMPLE_RATE
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for i, a in enumerate(audios):
            # A source whose file ended stays connected and sends silence, as a live one does.
            chunk = a[fed:fed + step] if fed < len(a) else silence
            streams[i].feed(fed * 1000 // SAMPLE_RATE, chunk)
        if k % 5 == 0:
            for i, s in enumerate(streams):
                if fed < len(audios[i]):
                    results[i].lags_ms.append(s.lag_ms)
    await asyncio.gather(*(s.close() for s in streams))
    return results
