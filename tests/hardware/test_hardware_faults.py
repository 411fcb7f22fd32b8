"""Devices that vanish, come back, or hang, in the middle of a hearing."""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time

import numpy as np
from hardware_testlib import Collector, tone, write_wav
from test_hardware_rtp import free_udp_port

from hardware.capture import Capture, CaptureOptions
from hardware.rtp import RtpFormat, RtpSender
from hardware.seatmap import default_seat_map
from media.clock import HearingClock


def streaming_wav_header(channels: int, rate: int) -> bytes:
    """A WAV header for a stream of unknown length, as a device pipe would send it."""
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
            + b"data" + struct.pack("<I", 0xFFFFFFFF))


def feed_fifo(path: str, audio: np.ndarray, rate: int) -> None:
    """Open the pipe, stream audio at real-time pace, then go away (the device is unplugged)."""
    with open(path, "wb", buffering=0) as f:
        f.write(streaming_wav_header(audio.shape[0], rate))
        step = rate // 20
        for i in range(0, audio.shape[1], step):
            part = audio[:, i:i + step]
            f.write((part.T * 32767).astype("<i2").tobytes())
            time.sleep(step / rate)


async def test_network_device_that_vanishes_is_reported_and_leaves_a_marked_gap():
    port = free_udp_port()
    fmt = RtpFormat(channels=2, rate=48_000, encoding="L16")
    url = f"rtp://127.0.0.1:{port}?channels=2&rate=48000&encoding=L16"
    got = Collector()
    clock = HearingClock.starting_now()
    cap = Capture(url, default_seat_map(2, url), clock, on_chunk=got.on_chunk,
                  on_alert=got.alerts.append, options=CaptureOptions(stall_s=0.5))
    await cap.start()
    await asyncio.sleep(0.1)
    sender = RtpSender("127.0.0.1", port, fmt)
    audio = np.stack([tone(300, 0.8, 48_000), tone(600, 0.8, 48_000)])
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sender.send, audio)
    await got.wait_for(lambda: "device_stalled" in got.kinds(), timeout=5)
    before = list(got.asr["seat:seat-1"])
    await asyncio.sleep(0.7)  # away for about 1.2 s in all
    restarted = RtpSender("127.0.0.1", port, fmt, ssrc=0xABCDEF)  # the device rebooted
    await loop.run_in_executor(None, restarted.send, audio)
    await got.wait_for(lambda: "device_restored" in got.kinds(), timeout=5)
    await got.wait_for(lambda: sum(len(c.samples) for c in got.asr["seat:seat-1"]) >= 24_000)
    await cap.stop()
    sender.close()
    restarted.close()
    restored = next(a for a in got.alerts if a["kind"] == "device_restored")
    gap = restored["gap"]
    assert 900 <= gap["to_ms"] - gap["from_ms"] <= 2500, gap
    after = got.asr["seat:seat-1"][len(before):]
    assert abs(after[0].start_ms - gap["to_ms"]) <= 120
    assert abs(before[-1].end_ms - gap["from_ms"]) <= 120
    # time before and after the gap is still contiguous within itself
    for a, b in zip(after, after[1:]):
        assert b.start_ms == a.end_ms
    assert got.kinds().index("device_stalled") < got.kinds().index("device_restored")


async def test_device_that_errors_is_retried_with_backoff_and_resumes(tmp_path):
    fifo = str(tmp_path / "interface.pipe")
    os.mkfifo(fifo)
    url = f"file:{fifo}?format=wav"
    got = Collector()
    cap = Capture(url, default_seat_map(1, url), HearingClock.starting_now(),
                  on_chunk=got.on_chunk, on_alert=got.alerts.append,
                  options=CaptureOptions(retry_initial_s=0.2, stall_s=5))
    await cap.start()
    audio = tone(440, 0.6, 16_000)[None, :]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, feed_fifo, fifo, audio, 16_000)  # then unplugged
    await got.wait_for(lambda: "device_error" in got.kinds())
    first = sum(len(c.samples) for c in got.asr["seat:seat-1"])
    await asyncio.sleep(0.8)
    await loop.run_in_executor(None, feed_fifo, fifo, audio, 16_000)  # plugged back in
    await got.wait_for(lambda: "device_restored" in got.kinds())
    await got.wait_for(lambda: sum(len(c.samples) for c in got.asr["seat:seat-1"]) > first + 8000)
    await cap.stop()
    err = next(a for a in got.alerts if a["kind"] == "device_error")
    assert "went away" in err["message"] and err["retry_in_s"] > 0
    gap = next(a for a in got.alerts if a["kind"] == "device_restored")["gap"]
    assert gap["to_ms"] - gap["from_ms"] >= 600
    assert cap.stats["reopens"] >= 1 and cap.stats["gaps"] == 1


async def test_a_stuck_device_stalls_neither_the_loop_nor_other_devices(tmp_path):
    fifo = str(tmp_path / "stuck.pipe")
    os.mkfifo(fifo)  # nobody ever writes: opening it blocks inside the driver call
    stuck_url = f"file:{fifo}?format=wav"
    wav = write_wav(tmp_path / "ok.wav", np.stack([tone(440, 1.0, 16_000)] * 2), 16_000)
    ok_url = f"file:{wav}"
    stuck_got, ok_got = Collector(), Collector()
    clock = HearingClock.starting_now()
    stuck = Capture(stuck_url, default_seat_map(2, stuck_url), clock,
                    on_chunk=stuck_got.on_chunk, on_alert=stuck_got.alerts.append,
                    options=CaptureOptions(stall_s=0.4))
    ok = Capture(ok_url, default_seat_map(2, ok_url), clock, on_chunk=ok_got.on_chunk,
                 on_alert=ok_got.alerts.append)
    ticks: list[float] = []

    async def heartbeat():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    hb = asyncio.create_task(heartbeat())
    await stuck.start()
    await ok.start()
    await asyncio.wait_for(ok.wait_ended(), 10)
    await stuck_got.wait_for(lambda: "device_stalled" in stuck_got.kinds())
    t0 = time.monotonic()
    await stuck.stop()
    stop_took = time.monotonic() - t0
    await ok.stop()
    hb.cancel()
    # release the abandoned thread: a writer appears and leaves at once
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
    assert sum(len(c.samples) for c in ok_got.asr["seat:seat-1"]) >= 15_000
    assert ok_got.kinds() == ["ended"]
    assert not stuck_got.asr
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.5
    assert stop_took < 3
