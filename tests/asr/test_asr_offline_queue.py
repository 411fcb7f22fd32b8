"""Whole files on the shared scheduler (evidence): decoded only when no live work waits, read
in blocks with one timeline and one numbering, and ended cleanly when the caller gives up or
the scheduler stops."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from asr import SAMPLE_RATE
from asr.scheduler import OfflineCancelled, Scheduler, SchedulerOptions, StreamKey
from asr.stream import StreamOptions
from asr_testlib import Collector, clip, model, silence, text_wer

pytestmark = pytest.mark.slow


async def queued(sched: Scheduler) -> None:
    """Until the file's first batch waits for the model (cutting it at pauses comes first)."""
    for _ in range(1000):
        if sched._offline:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the offline job never queued a batch")


def offline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("asr-offline")]


async def test_a_file_waits_for_live_work_and_keeps_one_timeline():
    first, first_text = clip("ru-dev", "read_utterance", 3, 6)
    second, second_text = clip("ru-dev", "read_utterance", 3, 6, index=1)
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    live = Collector()
    stream = sched.open_stream(StreamKey(1, "p1"), StreamOptions(language="ru"), live)
    block = np.concatenate([first, silence(0.5)])
    progress: list[float] = []
    job = asyncio.create_task(sched.transcribe_offline(
        [block, second], "ru", source_id="evidence:7", progress=progress.append))
    await queued(sched)
    stream.feed(0, np.concatenate([first, silence(1.5)]))  # live speech and the pause ending it
    assert sched.step() and sched._offline  # the live utterance went first
    while not job.done():
        sched.step()
        await asyncio.sleep(0.01)
    events = await job
    assert [e.segment_id for e in events] == [f"evidence:7#{n}" for n in
                                              range(1, len(events) + 1)]
    block_ms = len(block) * 1000 // SAMPLE_RATE
    in_first = " ".join(e.text for e in events if e.end_ms <= block_ms)
    in_second = " ".join(e.text for e in events if e.start_ms >= block_ms)
    assert text_wer(first_text, in_first) < 0.3 and text_wer(second_text, in_second) < 0.3
    assert progress[-1] == pytest.approx((len(block) + len(second)) / SAMPLE_RATE)
    await sched.stop()
    assert live.finals() and offline_threads() == []


async def test_a_caller_that_gives_up_or_a_stopping_scheduler_ends_the_job():
    audio, _ = clip("ru-dev", "read_utterance", 3, 6)
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    job = asyncio.create_task(sched.transcribe_offline([audio], "ru", source_id="a"))
    await queued(sched)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert not sched._offline  # its waiting batch is gone, nothing decodes it
    job = asyncio.create_task(sched.transcribe_offline([audio], "ru", source_id="b"))
    await queued(sched)
    await sched.stop()
    with pytest.raises(OfflineCancelled):
        await job
    assert offline_threads() == []
