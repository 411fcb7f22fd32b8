"""A generated (lavfi) courtroom device keeps real time, as the live interface it stands in
for does: unpaced, two seconds of sine became hundreds of overlapping chunks a minute."""

from __future__ import annotations

import time

import pytest
from hardware_testlib import Collector

from hardware.capture import Capture
from hardware.device_url import parse_device_url
from hardware.readers import DeviceError, open_reader
from hardware.seatmap import parse_seat_map
from media.clock import HearingClock

TWO_SECONDS = "lavfi:sine=f=440:r=48000:d=2"


def test_a_lavfi_reader_delivers_two_seconds_of_sine_over_two_seconds():
    reader = open_reader(parse_device_url(TWO_SECONDS))
    reader.open()
    samples, t0 = 0, time.monotonic()
    try:
        with pytest.raises(DeviceError):  # a live device's end is a lost device
            while True:
                samples += reader.read().samples.shape[1]
    finally:
        reader.close()
    assert samples == 96_000
    assert time.monotonic() - t0 >= 1.5


async def test_chunks_of_a_lavfi_device_follow_each_other_without_overlap():
    seat_map = parse_seat_map({"device": TWO_SECONDS, "seats": {"judge": {"channel": 1}}})
    got = Collector()
    cap = Capture(TWO_SECONDS, seat_map, HearingClock.starting_now(), on_chunk=got.on_chunk,
                  on_alert=got.alerts.append, on_record=got.on_record)
    await cap.start()
    await got.wait_for(lambda: "device_error" in got.kinds())
    await cap.stop()
    for chunks in (got.asr["seat:judge"], got.rec["seat:judge"]):
        assert chunks
        spans = [(c.start_ms, c.end_ms) for c in chunks]
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans
        assert sum(e - s for s, e in spans) <= 2_100
