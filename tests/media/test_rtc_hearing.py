"""In-process aiortc participants (ICE on loopback) in a real Room: they hear and see each
other, mute and eject act on the media, a dropped phone gets its seat back, bad signalling is
answered with an error and changes nothing."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from media.blobstore import BlobStore
from media.clock import HearingClock
from media.rtc import Room, RtcOptions, apply_bind_addresses

from support.testpeer import AUDIO_RATE, LocalHearing, PacketVideoTrack, SignalTrack, encode_vp8_loop, tone

FREQS = {"judge": (440.0, 1250.0), "witness": (620.0, 1700.0), "lawyer": (820.0, 2300.0)}


@pytest.fixture(scope="module")
def vp8() -> list[bytes]:
    return encode_vp8_loop(320, 180, fps=30, seconds=1.0)


@pytest.fixture
async def hearing(tmp_path):
    apply_bind_addresses(["127.0.0.1"])
    options = RtcOptions(bind_addresses=["127.0.0.1"], reconnect_window_s=30, ice_failed_grace_s=1)
    chunks = []

    def factory(send, on_event):
        return Room("h-1", HearingClock.starting_now(), options, BlobStore(tmp_path / "blobs"),
                    tmp_path / "rec", send, on_event, chunks.append)

    h = LocalHearing(factory)
    h.chunks = chunks
    yield h
    apply_bind_addresses(None)
    # the room owns its tasks and its sessions': closed with it, none is left behind
    assert not [t.get_name() for t in asyncio.all_tasks()
                if t.get_name().startswith(("room h-1:", "session "))]


def signal_for(name: str) -> np.ndarray:
    a, b = FREQS[name]
    return tone(a, 1.0, 0.25) + tone(b, 1.0, 0.15)


def band_energy(x: np.ndarray, freq: float, rate: int = AUDIO_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(round(freq * len(x) / rate))
    return float(spec[max(k - 3, 0):k + 4].sum())


def best_correlation(received: np.ndarray, sent: np.ndarray) -> float:
    """Peak normalised cross-correlation of the last second received against the looped
    signal sent (the lag is unknown: network, jitter buffers, Opus delay)."""
    r = received[-AUDIO_RATE // 2:].astype(np.float64)
    ref = np.tile(sent, 3)[: AUDIO_RATE + len(r)].astype(np.float64)
    n = len(ref) + len(r)
    corr = np.fft.irfft(np.fft.rfft(ref, n) * np.conj(np.fft.rfft(r, n)), n)[: len(ref) - len(r) + 1]
    energy = np.concatenate([[0.0], np.cumsum(ref ** 2)])
    window = energy[len(r):] - energy[: len(ref) - len(r) + 1]
    return float(np.max(corr / np.sqrt(np.maximum(window * np.sum(r ** 2), 1e-12))))


async def wait_for(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_everyone_hears_and_sees_the_others(hearing, vp8):
    peers = {n: await hearing.join(n, SignalTrack(signal_for(n)), PacketVideoTrack(vp8)) for n in FREQS}
    await wait_for(lambda: all(len(p.audio_from(o)) > 2 * AUDIO_RATE
                               for n, p in peers.items() for o in FREQS if o != n), 15)
    for name, peer in peers.items():
        for other in FREQS:
            if other == name:
                assert not peer.mids_for(other, "audio"), "nobody hears themselves"
                continue
            got = peer.audio_from(other)
            assert best_correlation(got, signal_for(other)) > 0.8, (name, other)
            own = sum(band_energy(got[-AUDIO_RATE:], f) for f in FREQS[other])
            for third, freqs in FREQS.items():
                if third != other:  # no mixing: each slot carries one source only
                    assert sum(band_energy(got[-AUDIO_RATE:], f) for f in freqs) < own / 20
            assert peer.video_frames_from(other) > 30, (name, other)
    # the tap gets every source, on the hearing clock, 16 kHz
    sources = {c.source_id for c in hearing.chunks}
    assert sources == set(FREQS)
    judge = [c for c in hearing.chunks if c.source_id == "judge"]
    assert all(b.start_ms >= a.end_ms - 1 for a, b in zip(judge, judge[1:]))
    x = np.concatenate([c.samples for c in judge[-10:]])
    assert band_energy(x, 440.0, 16_000) > 20 * band_energy(x, 620.0, 16_000)
    recordings = await hearing.close()
    assert {r.source_id for r in recordings} == set(FREQS)
    assert len(hearing.events_of("recording.chunk")) >= 3


async def test_mute_stops_forwarding_transcribing_and_recording(hearing, vp8):
    judge = await hearing.join("judge", SignalTrack(signal_for("judge")), PacketVideoTrack(vp8))
    await hearing.join("witness", SignalTrack(signal_for("witness")), PacketVideoTrack(vp8))
    await wait_for(lambda: len(judge.audio_from("witness")) > AUDIO_RATE)
    hearing.room.set_muted("witness", True, by="judge")
    await asyncio.sleep(0.3)  # packets already in flight
    heard, tapped = len(judge.audio_from("witness")), sum(c.source_id == "witness" for c in hearing.chunks)
    await asyncio.sleep(1.5)
    assert len(judge.audio_from("witness")) - heard < AUDIO_RATE // 10
    assert sum(c.source_id == "witness" for c in hearing.chunks) - tapped <= 1
    hearing.room.set_muted("witness", False, by="judge")
    await wait_for(lambda: len(judge.audio_from("witness")) > heard + AUDIO_RATE // 2)
    [mute] = hearing.events_of("mute")
    [unmute] = hearing.events_of("unmute")
    assert mute["by"] == "judge" and mute["source_id"] == "witness"
    recordings = {r.source_id: r for r in await hearing.close()}
    gaps = recordings["witness"].gaps
    assert len(gaps) == 1
    start, end = gaps[0]
    assert mute["at_ms"] - 300 <= start <= mute["at_ms"] + 300
    assert unmute["at_ms"] - 300 <= end <= unmute["at_ms"] + 300
    assert not recordings["judge"].gaps
    # the finished file is continuous: offset maps linearly to the hearing clock
    with av.open(str(recordings["witness"].blob.path)) as f:
        seconds = sum(fr.samples for fr in f.decode(audio=0)) / AUDIO_RATE
    expected = (recordings["witness"].end_ms - recordings["witness"].start_ms) / 1000
    assert abs(seconds - expected) < 0.1


async def test_eject_closes_and_frees_the_slot(hearing, vp8):
    judge = await hearing.join("judge", SignalTrack(signal_for("judge")), PacketVideoTrack(vp8))
    lawyer = await hearing.join("lawyer", SignalTrack(signal_for("lawyer")), PacketVideoTrack(vp8))
    await wait_for(lambda: len(judge.audio_from("lawyer")) > AUDIO_RATE // 2)
    [slot_mid] = judge.mids_for("lawyer", "audio")
    await hearing.room.remove("lawyer", by="judge")
    assert {"type": "closed", "reason": "ejected"} in lawyer.messages
    await wait_for(lambda: lawyer.pc.connectionState in ("closed", "failed"), 10)
    await wait_for(lambda: not judge.mids_for("lawyer", "audio"))
    [removed] = hearing.events_of("participant.removed")
    assert removed["by"] == "judge"
    # the freed slot serves the next participant without another offer
    offers = sum(m["type"] == "offer" for m in judge.messages)
    before = len(np.concatenate(judge.audio_in[slot_mid]))
    await hearing.join("witness", SignalTrack(signal_for("witness")), PacketVideoTrack(vp8))
    await wait_for(lambda: len(judge.audio_from("witness")) > before + AUDIO_RATE)
    assert judge.mids_for("witness", "audio") == [slot_mid]
    assert sum(m["type"] == "offer" for m in judge.messages) == offers
    assert best_correlation(judge.audio_from("witness"), signal_for("witness")) > 0.8
    await hearing.close()


async def test_dropped_phone_gets_its_seat_back(hearing, vp8):
    judge = await hearing.join("judge", SignalTrack(signal_for("judge")), PacketVideoTrack(vp8))
    witness = await hearing.join("witness", SignalTrack(signal_for("witness")), PacketVideoTrack(vp8))
    await wait_for(lambda: len(judge.audio_from("witness")) > AUDIO_RATE // 2)
    [mid] = judge.mids_for("witness", "audio")
    await witness.pc.close()  # the phone's network goes away
    await wait_for(lambda: hearing.events_of("participant.dropped"), 10)
    await asyncio.sleep(0.5)
    heard = len(judge.audio_from("witness"))
    witness.audio, witness.video = SignalTrack(signal_for("witness")), PacketVideoTrack(vp8)
    await witness.join()  # back, on a new peer connection
    await wait_for(lambda: len(judge.audio_from("witness")) > heard + AUDIO_RATE)
    assert judge.mids_for("witness", "audio") == [mid], "same slot, no new seat"
    assert len(hearing.events_of("participant.joined")) == 2
    [back] = hearing.events_of("participant.reconnected")
    assert back["source_id"] == "witness" and back["gap_from_ms"] is not None
    await wait_for(lambda: len(witness.audio_from("judge")) > AUDIO_RATE // 2)
    assert best_correlation(witness.audio_from("judge"), signal_for("judge")) > 0.8
    recordings = {r.source_id: r for r in await hearing.close()}
    [gap] = recordings["witness"].gaps
    assert gap[0] <= back["gap_from_ms"] + 100 and gap[1] >= back["gap_from_ms"] + 400


async def test_bad_signalling_gets_an_error_and_changes_nothing(hearing, vp8):
    judge = await hearing.join("judge", SignalTrack(signal_for("judge")), PacketVideoTrack(vp8))
    witness = await hearing.join("witness", SignalTrack(signal_for("witness")), PacketVideoTrack(vp8))
    await wait_for(lambda: len(judge.audio_from("witness")) > AUDIO_RATE // 2)
    good = witness.pc.localDescription.sdp  # the answer it gave
    bad = [
        {"type": "answer", "sdp": "v=0\r\nthis is not sdp"},
        {"type": "answer", "sdp": good + "a=x-pad:" + "x" * 70_000 + "\r\n"},
        {"type": "answer", "sdp": 17},
        {"type": "answer", "sdp": good.replace("a=fingerprint", "a=x-nofingerprint")},
        {"type": "answer", "sdp": good},  # well formed, but no server offer is waiting
        {"type": "offer", "sdp": good},  # the server makes the offers
        {"type": "candidate", "candidate": "candidate:garbage", "sdpMid": "0"},
        {"type": "dance"},
        ["not", "an", "object"],
    ]
    for message in bad:
        await hearing.room.handle_message("witness", message)
    errors = [m for m in witness.messages if m["type"] == "error"]
    assert len(errors) == len(bad)
    assert "64" in errors[1]["error"] or "65536" in errors[1]["error"]
    heard = len(judge.audio_from("witness"))
    await wait_for(lambda: len(judge.audio_from("witness")) > heard + AUDIO_RATE // 2)
    assert witness.pc.connectionState == "connected"
    assert not hearing.events_of("participant.dropped")
    await hearing.close()


async def test_seat_is_released_when_the_reconnect_window_passes(hearing, vp8):
    hearing.room.options.reconnect_window_s = 0.5
    judge = await hearing.join("judge", SignalTrack(signal_for("judge")), PacketVideoTrack(vp8))
    witness = await hearing.join("witness", SignalTrack(signal_for("witness")), PacketVideoTrack(vp8))
    await wait_for(lambda: len(judge.audio_from("witness")) > AUDIO_RATE // 4)
    await witness.pc.close()
    await wait_for(lambda: hearing.events_of("participant.left"), 10)
    await wait_for(lambda: not judge.mids_for("witness", "audio"))
    assert "witness" not in hearing.room.participants
    [left] = hearing.events_of("participant.left")
    [dropped] = hearing.events_of("participant.dropped")
    assert left["at_ms"] - dropped["at_ms"] >= 450
    await hearing.close()
