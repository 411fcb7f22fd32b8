"""The scheduler's capacity policy on the real model: streams that speak together are decoded
in one batch, a silent source costs no decode, and under load partials thin out while every
final still arrives, in order."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from asr.scheduler import Scheduler, SchedulerOptions
from asr.stream import StreamOptions
from asr_testlib import Collector, clip, model, silence, text_wer, white_noise

pytestmark = pytest.mark.slow
CHUNK = 1600  # 100 ms


async def run_streams(sched: Scheduler, audios: dict[str, np.ndarray]
                      ) -> tuple[dict[str, Collector], dict]:
    """Feed every source in 100 ms chunks side by side, one scheduler step per chunk (the
    model is never late, whatever the machine), then close them all. A scheduler with its own
    workers is fed at five times real time instead: its lanes always have work waiting."""
    got = {name: Collector() for name in audios}
    streams = {name: sched.open_stream(name, StreamOptions(language="ru"), got[name])
               for name in audios}
    for i in range(0, max(len(a) for a in audios.values()), CHUNK):
        for name, a in audios.items():
            if i < len(a):
                streams[name].feed(i // 16, a[i:i + CHUNK])
        if sched.options.run_workers:
            await asyncio.sleep(0.02)
        else:
            sched.step()
            await asyncio.sleep(0)
    closing = asyncio.ensure_future(asyncio.gather(*(s.close() for s in streams.values())))
    await asyncio.sleep(0)
    while not closing.done() and not sched.options.run_workers:
        if not sched.step():
            await asyncio.sleep(0.001)
    await closing
    return got, streams  # the handles keep their counters after closing


def assert_finals_in_order(got: Collector) -> None:
    finals = got.finals()
    numbers = [int(e.segment_id.rsplit("#", 1)[1]) for e in finals]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert [e.start_ms for e in finals] == sorted(e.start_ms for e in finals)


async def test_speakers_share_batches_and_a_silent_seat_costs_no_decode():
    a, ref_a = clip("ru-dev", "read_utterance", 5, 8, index=0)
    b, ref_b = clip("ru-dev", "read_utterance", 5, 8, index=1)
    c, ref_c = clip("ru-dev", "read_utterance", 5, 8, index=2)
    lead = silence(0.3)
    audios = {name: np.concatenate([lead, x, silence(1.0)])
              for name, x in (("judge", a), ("prosecutor", b), ("defence", c))}
    # a seat nobody speaks at: room noise for as long as the others talk
    audios["witness"] = white_noise(max(len(x) for x in audios.values()) / 16000, rms=0.002)
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    got, streams = await run_streams(sched, audios)
    await sched.stop()
    for name, ref in (("judge", ref_a), ("prosecutor", ref_b), ("defence", ref_c)):
        assert text_wer(ref, got[name].text()) < 0.35, (name, got[name].text())
        assert streams[name].decodes["partial"] >= 2
    assert got["witness"].events == [] and sum(streams["witness"].decodes.values()) == 0
    # the three speakers were decoded together, not one after another
    assert max(sched.batch_streams) == 3
    assert sum(n for k, n in sched.batch_streams.items() if k >= 2) >= 3


async def test_finals_due_together_are_hurried_and_keep_their_words():
    """Two finals due at once: the model is behind on finals, so both are decoded in one
    batch without the previous segment's audio; their words are all there. A speaker alone is
    never hurried, nor anyone when the court turns hurrying off."""
    x, ref = clip("ru-dev", "read_utterance", 5, 8, index=0)
    speech = np.concatenate([silence(0.3), x, silence(1.0)])
    sched = Scheduler(SchedulerOptions(run_workers=False), model=model())
    await sched.start()
    got, _ = await run_streams(sched, {"judge": speech, "echo": speech.copy()})
    assert sched.hurried_finals == 2
    for name in ("judge", "echo"):
        assert text_wer(ref, got[name].text()) < 0.35, (name, got[name].text())
    alone, _ = await run_streams(sched, {"witness": speech})
    await sched.stop()
    assert sched.hurried_finals == 2
    assert text_wer(ref, alone["witness"].text()) < 0.35, alone["witness"].text()
    calm = Scheduler(SchedulerOptions(run_workers=False, hurry_finals=False), model=model())
    await calm.start()
    await run_streams(calm, {"judge": speech, "echo": speech.copy()})
    await calm.stop()
    assert calm.hurried_finals == 0


async def test_under_load_partials_thin_out_and_every_final_arrives_in_order():
    parts, refs = [], []
    for i in range(2):  # two sentences with pauses: two finals at least
        x, ref = clip("ru-dev", "read_utterance", 5, 7, index=3 + i)
        parts += [x, silence(0.9)]
        refs.append(ref)
    speech = np.concatenate(parts)
    # a model busy whenever it is measured: partials are spaced out to 4 steps
    busy = SchedulerOptions(run_workers=False, busy_window_s=0.2, thin_above=0.0,
                            max_step_scale=4.0)
    sched = Scheduler(busy, model=model())
    await sched.start()
    got, streams = await run_streams(sched, {"judge": speech})
    stream = streams["judge"]
    await sched.stop()
    speech_s = sum(len(p) for p in parts[::2]) / 16000
    # one partial a second without load; under load far fewer, yet the text is all there
    assert stream.decodes["partial"] <= speech_s / 1.5, dict(stream.decodes)
    assert len(got["judge"].finals()) >= 2
    assert_finals_in_order(got["judge"])
    assert text_wer(" ".join(refs), got["judge"].text()) < 0.35, got["judge"].text()


async def test_two_lanes_decode_side_by_side_and_keep_each_streams_finals_in_order():
    """The server's default on two cores: two decode lanes on two model replicas. Three
    speakers talking at once keep both lanes busy; each gets all its words, every final once
    and in order."""
    from asr.model import ModelOptions, load_model
    two = load_model(ModelOptions(cpu_threads=1, replicas=2))
    sched = Scheduler(SchedulerOptions(lanes=2), model=two)
    await sched.start()
    refs, audios = {}, {}
    for k, name in enumerate(("judge", "prosecutor", "defence")):
        parts, texts = [], []
        for i in range(2):
            x, ref = clip("ru-dev", "read_utterance", 4, 7, index=6 + 2 * k + i)
            parts += [x, silence(0.9)]
            texts.append(ref)
        audios[name], refs[name] = np.concatenate(parts), " ".join(texts)
    got, _ = await run_streams(sched, audios)
    await sched.stop()
    assert sched.peak_lanes_busy == 2
    for name, ref in refs.items():
        assert len(got[name].finals()) >= 2, name
        assert_finals_in_order(got[name])
        assert text_wer(ref, got[name].text()) < 0.35, (name, got[name].text())


def test_lanes_default_to_the_machine(monkeypatch):
    """Unset, the lanes suit the machine: two on a CPU of two or more cores, one on a single
    core or a GPU; a negative number is refused."""
    import os

    from asr.model import ModelOptions
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert SchedulerOptions().lanes == 2
    assert SchedulerOptions(lanes=1).lanes == 1
    assert SchedulerOptions(model=ModelOptions(device="cuda")).lanes == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert SchedulerOptions().lanes == 1
    with pytest.raises(ValueError):
        SchedulerOptions(lanes=-1)
