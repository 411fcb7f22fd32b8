"""Whisper as a worker pool: a node with asr_mode "workers" sends a hearing's audio over NATS
JetStream to two `courtroom asr-worker` processes. Real speech comes in through the hearing's
courtroom-microphone path; its words arrive as stored segments. The worker holding the stream
is killed (-9) in the middle of an utterance: the other one takes the stream over and that
utterance's words still arrive, late, once, and the earlier utterance is not stored twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from asr.worker import PoolNames, hearing_token, stream_token
from hearing.api.context import STATE
from media.audio import AudioChunk

from hearing_testlib import SPEECH, app_with_users, login, schedule

RU = SPEECH / "ru-dev"
CLIP_A = RU / "ast_ru_auth-incorrect.wav"  # Пароль неверен. Введите пароль и нажмите решетку.
CLIP_B = RU / "ast_ru_vm-invalidpassword.wav"  # Это неверный пароль. Пожалуйста, попробуйте еще раз
COURTROOM = Path(sys.executable).with_name("courtroom")
SOURCE = "seat:witness"



def clip(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(16000 * seconds), np.float32)


def start_worker(nats_url: str, bus_prefix: str, name: str, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "COURTROOM_DATA_DIR": str(tmp_path / name),
           "COURTROOM_LOG_FORMAT": "text"}
    out = open(tmp_path / f"{name}.log", "w")
    proc = subprocess.Popen(
        [str(COURTROOM), "asr-worker", "--nats-url", nats_url, "--bus-prefix", bus_prefix,
         "--worker-id", name,
         "--threads", "1", "--metrics-port", "0"], stdout=out, stderr=subprocess.STDOUT, env=env)
    proc.log = tmp_path / f"{name}.log"
    out.close()
    return proc


async def wait_ready(proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "ready" in proc.log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited: {proc.log.read_text()}")
        await asyncio.sleep(0.2)
    raise AssertionError(f"worker not ready: {proc.log.read_text()}")


class Speaker:
    """Feeds a source of the live hearing in 100 ms chunks at real-time pace, as a courtroom
    microphone channel does."""

    def __init__(self, state, hearing_id: int) -> None:  # noqa: ANN001
        self.state = state
        self.hearing_id = hearing_id
        live = state.live.get(hearing_id)
        assert live is not None, "the node owns the open hearing"
        self.at_ms = live.clock.now_ms()

    async def say(self, audio: np.ndarray) -> None:
        start = time.monotonic()
        for i in range(0, len(audio), 1600):
            self.state.live.feed(self.hearing_id,
                                 AudioChunk(SOURCE, self.at_ms, audio[i:i + 1600]))
            self.at_ms += 100
            await asyncio.sleep(max(0.0, start + (i + 1600) / 16000 - time.monotonic()))


async def segments(judge, hid: int) -> list[dict]:  # noqa: ANN001
    r = await judge.get(f"/api/hearings/{hid}/transcript")
    assert r.status == 200
    return [s for s in (await r.json())["segments"] if s["source_id"] == SOURCE]


async def wait_for_text(judge, hid: int, *words: str, timeout: float = 60) -> list[dict]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        segs = await segments(judge, hid)
        text = " ".join(s["text"].lower() for s in segs)
        if all(w in text for w in words):
            return segs
        await asyncio.sleep(0.3)
    raise AssertionError(f"{words} never arrived; segments: {await segments(judge, hid)}")


def test_a_worker_without_nats_says_so(tmp_path):
    done = subprocess.run([str(COURTROOM), "asr-worker", "--nats-url", "nats://127.0.0.1:1",
                           "--metrics-port", "0"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COURTROOM_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "cannot reach the NATS server at nats://127.0.0.1:1" in done.stderr


def test_a_worker_refuses_a_bus_prefix_that_cannot_name_subjects(tmp_path):
    done = subprocess.run([str(COURTROOM), "asr-worker", "--bus-prefix", "court.a",
                           "--metrics-port", "0"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COURTROOM_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "bus_prefix: 'court.a' is not a bus prefix" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not CLIP_B.exists(), reason="shared speech clips not present")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_killed_worker_loses_no_words(aiohttp_client, db_url, tmp_path, nats_url,
                                              bus_prefix):
    import nats
    names = PoolNames(bus_prefix)
    workers = {name: start_worker(nats_url, bus_prefix, name, tmp_path) for name in ("w1", "w2")}
    nc = None
    try:
        await asyncio.gather(*(wait_ready(p) for p in workers.values()))
        app, _db, _ids = app_with_users(db_url, tmp_path, nats_url=nats_url, asr_mode="workers",
                                        bus_prefix=bus_prefix, node_id="node-1")
        judge = await login(aiohttp_client, app, "judge")
        state = app[STATE]
        hid = (await schedule(judge, language="ru"))["id"]
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200, await r.text()
        speaker = Speaker(state, hid)
        for _ in range(50):  # the pool is reached when the hearing opens, before anyone speaks
            if state.live.transcription.pool is not None:
                break
            await asyncio.sleep(0.1)
        assert state.live.transcription.pool is not None, "no words until the pool is reached"

        # the first utterance: transcribed by whichever worker claimed the stream
        await speaker.say(np.concatenate([silence(0.5), clip(CLIP_A), silence(1.5)]))
        first = await wait_for_text(judge, hid, "парол", "нажмите")
        assert len(first) == 1, first
        # audio whose words are stored is acknowledged: it leaves the stream
        live = state.live.get(hid)
        token = stream_token(hearing_token(hid, int(live.clock.opened_at.timestamp() * 1000)),
                             SOURCE)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await asyncio.sleep(1.5)
        info = await js.stream_info(names.audio_stream,
                                   subjects_filter=names.audio_subject(token))
        assert (info.state.subjects or {}).get(names.audio_subject(token), 0) <= 10  # 2 s of 5.5

        # the second: its holder is killed in the middle of it
        holder = (await (await js.key_value(names.leases_bucket)).get(token)).value.decode()
        assert holder in workers
        b = clip(CLIP_B)
        half = len(b) // 2
        await speaker.say(b[:half])
        workers[holder].send_signal(signal.SIGKILL)
        workers[holder].wait()
        killed_at = time.monotonic()
        await speaker.say(np.concatenate([b[half:], silence(2.0)]))

        segs = await wait_for_text(judge, hid, "парол", "нажмите", "попробуйте")
        took = time.monotonic() - killed_at
        later = [s for s in segs if s["id"] != first[0]["id"]]
        assert later and "неверн" in " ".join(s["text"].lower() for s in later), later
        await asyncio.sleep(1.0)  # anything sent twice would arrive by now
        segs = await segments(judge, hid)
        texts = [s["text"] for s in segs]
        assert len(texts) == len(set(texts)) and \
            len({s["start_ms"] for s in segs}) == len(segs), texts
        assert sum("нажмите" in t.lower() for t in texts) == 1, texts
        new_holder = (await (await js.key_value(names.leases_bucket)).get(token)).value.decode()
        assert new_holder != holder
        print(f"\nwords of the interrupted utterance after the kill: {took:.1f} s; "
              f"segments: {json.dumps(texts, ensure_ascii=False)}")

        # closing the hearing flushes the stream: the worker lets it go and its audio is gone
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200, await r.text()
        info = await js.stream_info(names.audio_stream,
                                   subjects_filter=names.audio_subject(token))
        assert not (info.state.subjects or {}).get(names.audio_subject(token))
    finally:
        if nc is not None:
            await nc.close()
        for p in workers.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in workers.items():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
            print(f"--- {name}\n{p.log.read_text()[-4000:]}")  # shown when the test fails
