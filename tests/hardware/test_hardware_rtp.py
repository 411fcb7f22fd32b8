"""Network audio: L16/L24 RTP on loopback, with a sender written here."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import numpy as np
import pytest
from hardware_testlib import Collector, dominant_freq, tone

from hardware.bleed import BleedOptions
from hardware.capture import Capture, CaptureOptions
from hardware.rtp import (RtpError, RtpFormat, RtpSender, decode_pcm, encode_pcm, make_sdp,
                          parse_packet, parse_sdp)
from hardware.seatmap import default_seat_map
from media.clock import HearingClock


# steady tones on every channel from the first packet are hum to the bleed gate, which would
# rightly keep them from transcription; these tests are about the transport
NO_GATE = CaptureOptions(bleed=BleedOptions(enabled=False))


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("encoding, tol", [("L16", 1 / 32000), ("L24", 1 / 8_000_000)])
def test_pcm_round_trip(encoding, tol):
    fmt = RtpFormat(channels=3, rate=48_000, encoding=encoding)
    x = np.random.default_rng(1).uniform(-0.99, 0.99, (3, 480)).astype(np.float32)
    x[0, :3] = [-1.0, 0.0, 0.5]
    y = decode_pcm(encode_pcm(x, fmt), fmt)
    assert y.shape == (3, 480)
    assert np.abs(y - x).max() <= tol


def test_packet_parsing_handles_csrc_extension_and_padding():
    payload = b"\x01\x02\x03\x04\x05\x06"
    hdr = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 96, 7, 1234, 99)
    pkt = hdr + b"CSRC" + struct.pack("!HH", 0xBEDE, 1) + b"EXT!" + payload + b"\x00\x00\x03"
    pt, seq, ts, ssrc, body = parse_packet(pkt)
    assert (pt, seq, ts, ssrc, bytes(body)) == (96, 7, 1234, 99, payload)
    with pytest.raises(RtpError):
        parse_packet(b"\x40" + bytes(20))


def test_sdp_of_an_aes67_stream():
    sdp = make_sdp("239.69.1.1", 5004, RtpFormat(channels=8, rate=48_000, encoding="L24",
                                                 payload_type=97))
    assert parse_sdp(sdp) == ("239.69.1.1", 5004, RtpFormat(8, 48_000, "L24", 97))
    with pytest.raises(RtpError, match="L16/L24"):
        parse_sdp("v=0\r\nm=audio 5004 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")


@pytest.mark.parametrize("encoding", ["L16", "L24"])
async def test_rtp_stream_on_loopback_becomes_one_source_per_channel(encoding, tmp_path):
    port = free_udp_port()
    fmt = RtpFormat(channels=2, rate=48_000, encoding=encoding, payload_type=96)
    sdp = tmp_path / "stream.sdp"
    sdp.write_text(make_sdp("127.0.0.1", port, fmt))
    url = f"sdp:{sdp}"
    got = Collector()
    cap = Capture(url, default_seat_map(2, url), HearingClock.starting_now(),
                  on_chunk=got.on_chunk, on_alert=got.alerts.append, options=NO_GATE)
    await cap.start()
    await asyncio.sleep(0.2)
    audio = np.stack([tone(400, 1.2, 48_000), tone(1200, 1.2, 48_000)])
    sender = RtpSender("127.0.0.1", port, fmt, ptime_ms=1.0)
    await asyncio.get_running_loop().run_in_executor(None, sender.send, audio)
    await got.wait_for(lambda: sum(len(c.samples) for c in got.asr["seat:seat-2"]) >= 16_000)
    await cap.stop()
    sender.close()
    for seat, freq in (("seat:seat-1", 400), ("seat:seat-2", 1200)):
        chunks = got.asr[seat]
        for a, b in zip(chunks, chunks[1:]):
            assert b.start_ms == a.end_ms
        assert abs(dominant_freq(got.audio(seat)[1600:14400]) - freq) < 5
    assert "device_error" not in got.kinds()


async def test_lost_packets_are_filled_and_keep_time():
    port = free_udp_port()
    fmt = RtpFormat(channels=1, rate=48_000, encoding="L24")
    url = f"rtp://127.0.0.1:{port}?channels=1&rate=48000&encoding=L24"
    got = Collector()
    cap = Capture(url, default_seat_map(1, url), HearingClock.starting_now(),
                  on_chunk=got.on_chunk, on_alert=got.alerts.append)
    await cap.start()
    await asyncio.sleep(0.2)
    sender = RtpSender("127.0.0.1", port, fmt, ptime_ms=1.0)
    a = tone(500, 0.6, 48_000)[None, :]

    def send():
        sender.send(a)
        sender.skip(480)  # 10 ms of packets lost in the network
        sender.send(a)

    await asyncio.get_running_loop().run_in_executor(None, send)
    await got.wait_for(lambda: sum(len(c.samples) for c in got.asr["seat:seat-1"]) >= 19_000)
    await cap.stop()
    sender.close()
    audio = got.audio("seat:seat-1")
    # the 10 ms hole is silence at its place, not a shift of everything after it
    energy = np.convolve(audio ** 2, np.ones(32) / 32, mode="valid")
    quiet = np.flatnonzero(energy[4000:] < 1e-6) + 4000
    assert 100 <= len(quiet) <= 200
    assert abs(quiet[0] - 9600) < 40 and quiet[-1] - quiet[0] < 200
    assert len(audio) >= 19_200


async def test_late_packets_of_a_continuous_stream_are_not_a_gap():
    """A network hiccup delays packets, then they arrive in a burst: RTP timestamps show
    nothing was lost, so the timeline stays continuous and no gap is reported."""
    port = free_udp_port()
    fmt = RtpFormat(channels=1, rate=48_000, encoding="L16")
    url = f"rtp://127.0.0.1:{port}?channels=1&rate=48000&encoding=L16"
    got = Collector()
    cap = Capture(url, default_seat_map(1, url), HearingClock.starting_now(),
                  on_chunk=got.on_chunk, on_alert=got.alerts.append,
                  options=CaptureOptions(stall_s=5))
    await cap.start()
    await asyncio.sleep(0.2)
    sender = RtpSender("127.0.0.1", port, fmt)
    a = tone(500, 0.5, 48_000)[None, :]

    def send():
        sender.send(a)
        threading.Event().wait(0.8)  # held up in the network ...
        sender.send(np.concatenate([a, a], axis=1), paced=False)  # ... then all at once
        sender.send(a)

    await asyncio.get_running_loop().run_in_executor(None, send)
    await got.wait_for(lambda: sum(len(c.samples) for c in got.asr["seat:seat-1"]) >= 31_000)
    await cap.stop()
    sender.close()
    chunks = got.asr["seat:seat-1"]
    assert all(b.start_ms == a.end_ms for a, b in zip(chunks, chunks[1:]))
    assert "device_restored" not in got.kinds()


async def test_multicast_stream_is_joined():
    """AES67 streams are multicast: the capture joins the group named in the URL."""
    port = free_udp_port()
    group = "239.69.83.1"
    fmt = RtpFormat(channels=2, rate=48_000, encoding="L24")
    url = f"rtp://{group}:{port}?channels=2&rate=48000&encoding=L24"
    got = Collector()
    cap = Capture(url, default_seat_map(2, url), HearingClock.starting_now(),
                  on_chunk=got.on_chunk, on_alert=got.alerts.append, options=NO_GATE)
    await cap.start()
    await asyncio.sleep(0.2)
    sender = RtpSender(group, port, fmt)
    audio = np.stack([tone(350, 0.6, 48_000), tone(950, 0.6, 48_000)])
    try:
        await asyncio.get_running_loop().run_in_executor(None, sender.send, audio)
    except OSError as e:  # a host without a multicast route
        await cap.stop()
        pytest.skip(f"no multicast here: {e}")
    try:
        await got.wait_for(lambda: sum(len(c.samples) for c in got.asr["seat:seat-2"]) >= 9000,
                           timeout=5)
    except AssertionError:
        if not got.asr:  # the host does not loop multicast back to itself
            await cap.stop()
            pytest.skip("multicast is not delivered on this host")
        raise
    await cap.stop()
    sender.close()
    assert abs(dominant_freq(got.audio("seat:seat-1")[800:8800]) - 350) < 5
    assert abs(dominant_freq(got.audio("seat:seat-2")[800:8800]) - 950) < 5
