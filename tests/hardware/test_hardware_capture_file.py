"""Replayed multi-channel files and lavfi sources through the real capture pipeline."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from hardware_testlib import Collector, dominant_freq, tone, write_wav

from hardware.capture import Capture, CaptureOptions
from hardware.meters import MeterOptions
from hardware.seatmap import default_seat_map, parse_seat_map
from media.clock import HearingClock

FREQS = [300.0, 500.0, 700.0, 900.0]


@pytest.fixture
def four_channel_wav(tmp_path):
    data = np.stack([tone(f, 2.0, 48_000, amp=0.2 + 0.1 * i) for i, f in enumerate(FREQS)])
    return write_wav(tmp_path / "court.wav", data, 48_000)


async def run_capture(url, seat_map, options=CaptureOptions(), clock=None):
    got = Collector()
    cap = Capture(url, seat_map, clock or HearingClock.starting_now(), on_chunk=got.on_chunk,
                  on_meter=got.meters.append, on_alert=got.alerts.append, options=options,
                  on_record=got.on_record)
    await cap.start()
    await asyncio.wait_for(cap.wait_ended(), 20)
    await cap.stop()
    return cap, got


async def test_each_mapped_channel_is_its_own_16k_source(four_channel_wav):
    url = f"file:{four_channel_wav}?speed=0"
    seat_map = parse_seat_map({"device": url, "seats": {
        "judge": {"channel": 1}, "defence": {"channel": 3}, "witness": {"channel": 4}}})
    cap, got = await run_capture(url, seat_map, CaptureOptions(
        bleed=__import__("hardware.bleed", fromlist=["BleedOptions"]).BleedOptions(enabled=False)))
    assert sorted(got.asr) == ["seat:defence", "seat:judge", "seat:witness"]
    for seat, freq in (("seat:judge", 300), ("seat:defence", 700), ("seat:witness", 900)):
        chunks = got.asr[seat]
        assert all(c.samples.dtype == np.float32 for c in chunks)
        # contiguous on the hearing clock, no overlaps and no holes
        for a, b in zip(chunks, chunks[1:]):
            assert b.start_ms == a.end_ms
        audio = got.audio(seat)
        assert abs(len(audio) - 32_000) <= 400  # 2 s at 16 kHz (minus the filters' tail)
        assert abs(dominant_freq(audio[4000:20000]) - freq) < 5
        np.testing.assert_allclose(got.audio(seat, "rec"), audio)
    # unmapped channel 2 is metered but is not a source
    assert [c["seat"] for c in got.meters[0]["channels"]] == ["judge", None, "defence", "witness"]
    assert got.kinds() == ["ended"]
    assert cap.stats["device_seconds"] == pytest.approx(2.0)


async def test_replay_keeps_real_time_pace_on_the_hearing_clock(four_channel_wav):
    clock = HearingClock.starting_now()
    url = f"file:{four_channel_wav}"
    got = Collector()
    seen: list[tuple[int, int]] = []

    def on_chunk(c):
        seen.append((c.end_ms, clock.now_ms()))
        got.on_chunk(c)

    cap = Capture(url, default_seat_map(4, url), clock, on_chunk=on_chunk)
    await cap.start()
    await asyncio.wait_for(cap.wait_ended(), 20)
    await cap.stop()
    # every chunk arrives about when its audio ends, not all at once
    lags = [now - end for end, now in seen]
    assert min(lags) > -150 and max(lags) < 600, lags[:5]
    assert seen[-1][1] - seen[0][1] > 1500


async def test_meters_report_peak_and_rms_ten_times_a_second(tmp_path):
    amp = 0.5  # -6 dBFS peak, -9 dBFS RMS for a sine
    data = np.stack([tone(1000, 1.0, 48_000, amp), np.zeros(48_000, np.float32)])
    wav = write_wav(tmp_path / "m.wav", data, 48_000)
    url = f"file:{wav}?speed=0"
    _, got = await run_capture(url, default_seat_map(2, url))
    assert 9 <= len(got.meters) <= 11
    ch = got.meters[3]["channels"]
    assert ch[0]["peak_dbfs"] == pytest.approx(-6.0, abs=0.2)
    assert ch[0]["rms_dbfs"] == pytest.approx(-9.0, abs=0.2)
    assert ch[1]["peak_dbfs"] == -120.0


async def test_silent_mic_and_clipping_raise_alerts(tmp_path):
    rate = 16_000
    live = tone(440, 3.0, rate, 0.1)
    dead_then_back = np.concatenate([np.zeros(int(1.5 * rate), np.float32),
                                     tone(440, 1.5, rate, 0.1)])
    clipping = np.clip(tone(440, 3.0, rate, 1.6), -1, 1)
    wav = write_wav(tmp_path / "a.wav", np.stack([live, dead_then_back, clipping]), rate)
    url = f"file:{wav}?speed=0"
    opts = CaptureOptions(meters=MeterOptions(silence_alert_s=1.0, clip_repeat_s=1.0))
    _, got = await run_capture(url, default_seat_map(3, url), opts)
    by = [(a["kind"], a.get("seat")) for a in got.alerts]
    assert ("silent", "seat-2") in by and ("silence_cleared", "seat-2") in by
    assert by.index(("silent", "seat-2")) < by.index(("silence_cleared", "seat-2"))
    silent = next(a for a in got.alerts if a["kind"] == "silent")
    assert silent["channel"] == 2 and "silent" in silent["message"]
    clips = [a for a in got.alerts if a["kind"] == "clipping"]
    assert clips and {a["seat"] for a in clips} == {"seat-3"}
    assert 2 <= len(clips) <= 4  # repeated at most once a second, not every 100 ms
    assert not any(a.get("seat") == "seat-1" for a in got.alerts)


async def test_no_level_alerts_while_the_hearing_is_not_open(tmp_path):
    rate = 16_000
    wav = write_wav(tmp_path / "s.wav", np.stack([np.zeros(2 * rate, np.float32),
                                                   np.clip(tone(440, 2, rate, 2.0), -1, 1)]), rate)
    url = f"file:{wav}?speed=0"
    got = Collector()
    cap = Capture(url, default_seat_map(2, url), HearingClock.starting_now(),
                  on_alert=got.alerts.append,
                  options=CaptureOptions(meters=MeterOptions(silence_alert_s=0.5)))
    cap.set_hearing_open(False)
    await cap.start()
    await asyncio.wait_for(cap.wait_ended(), 20)
    await cap.stop()
    assert got.kinds() == ["ended"]


async def test_lavfi_source_and_a_stereo_mapping():
    url = "lavfi:sine=f=440:r=48000:d=1[a];sine=f=880:r=48000:d=1[b];[a][b]amerge=inputs=2"
    seat_map = parse_seat_map({"device": url, "seats": {"judge": {"channel": 2}}})
    got = Collector()
    cap = Capture(url, seat_map, HearingClock.starting_now(), on_chunk=got.on_chunk,
                  on_alert=got.alerts.append)
    await cap.start()
    await got.wait_for(lambda: len(got.asr["seat:judge"]) >= 5)
    await cap.stop()
    audio = got.audio("seat:judge")
    assert abs(dominant_freq(audio[:8000]) - 880) < 5
    # a lavfi graph behaves as a live device: its end is reported as a lost device
    assert set(got.kinds()) <= {"device_error"}


async def test_a_seat_beyond_the_device_channels_is_reported(four_channel_wav):
    url = f"file:{four_channel_wav}?speed=0"
    seat_map = parse_seat_map({"device": url, "seats": {"judge": {"channel": 1},
                                                        "witness": {"channel": 6}}})
    _, got = await run_capture(url, seat_map)
    assert list(got.asr) == ["seat:judge"]
    err = next(a for a in got.alerts if a["kind"] == "device_error")
    assert "witness" in err["message"] and "4 channel" in err["message"]


async def test_a_stalled_consumer_loses_the_oldest_audio_and_is_told():
    url = "lavfi:sine=f=440:r=48000"
    seat_map = parse_seat_map({"device": url, "seats": {"judge": {"channel": 1}}})
    got = Collector()
    release = asyncio.Event()

    async def stuck_sink(chunk):
        got.on_chunk(chunk)
        await release.wait()

    cap = Capture(url, seat_map, HearingClock.starting_now(), on_chunk=stuck_sink,
                  on_alert=got.alerts.append,
                  options=CaptureOptions(queue_s=0.3, backpressure=False))
    await cap.start()
    await got.wait_for(lambda: "dropped" in got.kinds())
    release.set()
    await cap.stop()
    dropped = next(a for a in got.alerts if a["kind"] == "dropped")
    assert dropped["source_id"] == "seat:judge" and dropped["sink"] == "asr"
    assert dropped["to_ms"] > dropped["from_ms"]
    # the oldest went, the newest stayed: audio from after the dropped span still arrives
    later = got.asr["seat:judge"][1:]
    assert later and max(c.end_ms for c in later) > dropped["to_ms"]


async def test_a_sink_that_refuses_a_seat_is_told_once_with_the_reason_and_the_gap(
        four_channel_wav, caplog):
    """A transcriber that does not know a seat's stream raises for every chunk of it: the
    capture says so once (log and alert, with the reason), not once a chunk, and when the sink
    accepts the seat again it reports the stretch that was lost to it."""
    url = f"file:{four_channel_wav}?speed=0"
    seat_map = parse_seat_map({"device": url, "seats": {"judge": {"channel": 1},
                                                        "witness": {"channel": 2}}})
    got = Collector()

    def picky_sink(chunk):
        if chunk.source_id == "seat:witness" and chunk.start_ms - cap.origin_ms < 1000:
            raise ValueError(f"no open stream {chunk.source_id!r}")
        got.on_chunk(chunk)

    cap = Capture(url, seat_map, HearingClock.starting_now(), on_chunk=picky_sink,
                  on_alert=got.alerts.append)
    with caplog.at_level("INFO", logger="hardware.capture"):
        await cap.start()
        await asyncio.wait_for(cap.wait_ended(), 20)
        await cap.stop()
    assert sorted(got.kinds()) == ["ended", "sink_error", "sink_restored"]
    error = next(a for a in got.alerts if a["kind"] == "sink_error")
    assert (error["source_id"], error["sink"], error["from_ms"]) == (
        "seat:witness", "asr", cap.origin_ms)
    assert "ValueError: no open stream 'seat:witness'" in error["message"]
    restored = next(a for a in got.alerts if a["kind"] == "sink_restored")
    assert restored["gap"] == {"from_ms": cap.origin_ms,
                               "to_ms": got.asr["seat:witness"][0].start_ms}
    refused = len(got.asr["seat:judge"]) - len(got.asr["seat:witness"])
    assert refused >= 9 and cap.stats["sink_errors"] == refused
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "seat:witness" in errors[0].getMessage()
    assert "no open stream" in str(errors[0].exc_info[1])


async def test_courtroom_capture_runs_every_device_of_the_seat_map(tmp_path):
    from hardware.courtroom import CourtroomCapture

    a = write_wav(tmp_path / "a.wav", np.stack([tone(300, 0.5, 16_000)] * 2), 16_000)
    b = write_wav(tmp_path / "b.wav", tone(600, 0.5, 16_000)[None, :], 16_000)
    seat_map = parse_seat_map({"device": f"file:{a}", "seats": {
        "judge": {"channel": 1}, "secretary": {"channel": 2},
        "witness": {"channel": 1, "device": f"file:{b}"}}})
    got = Collector()
    room = CourtroomCapture(seat_map, HearingClock.starting_now(), on_chunk=got.on_chunk,
                            on_alert=got.alerts.append)
    await room.start()
    await asyncio.wait_for(asyncio.gather(*(c.wait_ended() for c in room.captures)), 10)
    await room.stop()
    assert sorted(got.asr) == ["seat:judge", "seat:secretary", "seat:witness"]
    assert abs(dominant_freq(got.audio("seat:witness")) - 600) < 5
    assert got.kinds() == ["ended", "ended"]


async def test_pulse_and_pipewire_through_their_recorder_program(tmp_path, monkeypatch):
    """Where PyAV has no pulse input, pulse:NAME runs parec/pw-record; here a stand-in
    recorder on PATH writes what parec would (raw float32 stereo) and then exits."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "parec"
    fake.write_text(
        "#!" + __import__("sys").executable + "\n"
        "import sys, numpy as np\n"
        "args = dict(a.split('=', 1) for a in sys.argv[1:] if '=' in a)\n"
        "assert args['--device'] == 'court_mics' and args['--channels'] == '2', args\n"
        "t = np.arange(48000) / 48000\n"
        "x = np.stack([0.2*np.sin(2*np.pi*300*t), 0.2*np.sin(2*np.pi*750*t)]).T\n"
        "sys.stdout.buffer.write(x.astype('<f4').tobytes())\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    import av
    if "pulse" in av.formats_available:
        pytest.skip("this PyAV build reads PulseAudio itself")
    url = "pulse:court_mics?channels=2&rate=48000"
    got = Collector()
    cap = Capture(url, default_seat_map(2, url), HearingClock.starting_now(),
                  on_chunk=got.on_chunk, on_alert=got.alerts.append, on_record=got.on_record,
                  options=CaptureOptions(retry_initial_s=5))
    await cap.start()
    await got.wait_for(lambda: "device_error" in got.kinds())
    await cap.stop()
    # steady tones are hum to the bleed gate, so the recording feed is the one to look at
    assert abs(dominant_freq(got.audio("seat:seat-1", "rec")[:12000]) - 300) < 5
    assert abs(dominant_freq(got.audio("seat:seat-2", "rec")[:12000]) - 750) < 5
    assert "stopped delivering" in next(a for a in got.alerts if a["kind"] == "device_error")[
        "message"]


async def test_a_replay_waits_for_slow_consumers_without_losing_audio(four_channel_wav):
    url = f"file:{four_channel_wav}?speed=0"
    got = Collector()

    async def slow_sink(chunk):
        if not got.asr[chunk.source_id]:
            await asyncio.sleep(0.8)  # the consumer is busy for a while at the start
        got.on_chunk(chunk)

    cap = Capture(url, default_seat_map(4, url), HearingClock.starting_now(), on_chunk=slow_sink,
                  on_alert=got.alerts.append, options=CaptureOptions(queue_s=0.2, stall_s=0.3))
    await cap.start()
    await asyncio.wait_for(cap.wait_ended(), 20)
    await cap.stop()
    assert got.kinds() == ["ended"]  # neither "dropped" nor "device_stalled"
    assert all(len(got.audio(f"seat:seat-{i}")) >= 31_600 for i in range(1, 5))


async def test_flac_replay(tmp_path):
    import av

    path = tmp_path / "court.flac"
    data = np.stack([tone(f, 1.0, 48_000) for f in FREQS])
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=48_000, layout="quad")
        frame = av.AudioFrame.from_ndarray((data * 32767).astype(np.int16).T.reshape(1, -1).copy(),
                                           format="s16", layout="quad")
        frame.sample_rate = 48_000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    url = f"file:{path}?speed=0"
    _, got = await run_capture(url, default_seat_map(4, url))
    for i, freq in enumerate(FREQS):
        audio = got.audio(f"seat:seat-{i + 1}", "rec")  # steady tones: hum to the bleed gate
        assert abs(len(audio) - 16_000) <= 400
        assert abs(dominant_freq(audio[2000:14000]) - freq) < 5
