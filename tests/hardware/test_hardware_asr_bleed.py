"""The whole chain with real speech and the real Whisper engine: a simulated courtroom with
-20 dB bleed replayed through capture into one asr stream per seat gives each utterance once,
on its own seat."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hardware.capture import Capture, CaptureOptions
from hardware.seatmap import load_seat_map
from hardware.simulator import DEFAULT_SPEECH_DIR, SimOptions, simulate
from media.clock import HearingClock

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (Path(DEFAULT_SPEECH_DIR) / "ru-dev" / "manifest.jsonl").exists(),
                    reason="needs ../shared/speech")
async def test_bleed_gives_one_segment_on_the_right_seat(tmp_path):
    from asr.scheduler import Scheduler
    from asr.stream import StreamOptions

    ref = simulate(tmp_path, SimOptions(seats=3, minutes=0.4, seed=5, bleed_db=-20,
                                        rate=48_000, overlap_prob=0.0, langs=("ru",),
                                        max_utterance_s=8.0))
    utts = ref["utterances"]
    assert len(utts) >= 3 and len({u["seat"] for u in utts}) >= 2
    seat_map = load_seat_map(tmp_path / "seats.toml")
    scheduler = Scheduler()
    await scheduler.start()
    finals = []
    streams = {s.source_id: scheduler.open_stream(
        s.source_id, StreamOptions(language="ru"),
        lambda ev: finals.append(ev) if ev.kind == "final" else None) for s in seat_map.seats}
    cap: Capture

    def feed(chunk):
        streams[chunk.source_id].feed(chunk.start_ms - cap.origin_ms, chunk.samples)

    cap = Capture(f"{seat_map.default_device}?speed=0", seat_map, HearingClock.starting_now(),
                  on_chunk=feed, options=CaptureOptions(backpressure=True))
    await cap.start()
    await asyncio.wait_for(cap.wait_ended(), 60)
    await cap.stop()
    await asyncio.wait_for(scheduler.stop(), 300)
    texts = [f for f in finals if f.text.strip()]
    assert texts, "no speech recognised at all"
    for ev in texts:
        seat = ev.source_id.removeprefix("seat:")
        own = sum(max(0, min(ev.end_ms, u["end_ms"]) - max(ev.start_ms, u["start_ms"]))
                  for u in utts if u["seat"] == seat)
        assert own >= 0.5 * (ev.end_ms - ev.start_ms), f"{ev.text!r} on {seat} at {ev.start_ms}-{ev.end_ms} ms: nobody spoke there " \
                    f"(bleed duplicate); reference: {json.dumps(utts, ensure_ascii=False)}"
    for u in utts:
        assert any(f.source_id == f"seat:{u['seat']}" and f.start_ms < u["end_ms"]
                   and f.end_ms > u["start_ms"] for f in texts), f"nothing for {u}"
