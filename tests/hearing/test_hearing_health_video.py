"""Video health over real WebRTC through the real server: a witness's camera stops sending while
their audio flows and the staff are told the video stopped (and again when it is back); a
participant who joined after the sender's only keyframe is handed none of its video and the
staff are told it does not reach them; a phone without a camera, or with it switched off
(black frames), is "off", not frozen."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from support.testpeer import encode_vp8_loop, tone

from hearing_testlib import app_with_users, invite, login, schedule
from test_hearing_health import Console, PausableTrack, phone_join
from test_hearing_media import WsPeer

I18N = Path(__file__).resolve().parents[2] / "hearing" / "web" / "i18n"


class PausableVideo(MediaStreamTrack):
    """A camera whose frames can stop (a frozen camera or encoder) and come back. It sends a
    keyframe when it starts and when it comes back, and never when asked (so a receiver that
    joins later waits for one in vain)."""

    kind = "video"

    def __init__(self, packets, fps=30):
        super().__init__()
        self.keyframe, self.deltas, self.fps = packets[0], packets[1:], fps
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._start: float | None = None
        self._n = 0
        self._key = True

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if not self.flowing.is_set():
            await self.flowing.wait()
            self._n, self._key = int((time.time() - self._start) * self.fps), True
        if self._start is None:
            self._start = time.time()
        delay = self._start + self._n / self.fps - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        data = self.keyframe if self._key else self.deltas[self._n % len(self.deltas)]
        self._key = False
        packet = av.Packet(data)
        packet.pts = self._n * 90_000 // self.fps
        packet.time_base = fractions.Fraction(1, 90_000)
        self._n += 1
        return packet


async def camera_phone_join(aiohttp_client, app, hid, inv, camera, admit):
    client = await aiohttp_client(app)
    await client.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
    await admit()
    ws = await client.ws_connect(f"/api/hearings/{hid}/ws")
    await ws.send_json({"type": "auth", "token": inv["token"]})
    phone = WsPeer(ws, "W", audio=PausableTrack(tone(440, 1.0)))
    phone.peer.video = camera
    await phone.peer.join()
    return phone


def source_of(message, source_id):
    return next((s for s in message["sources"] if s["source_id"] == source_id), None)


def video(console, source_id, test):
    return console.wait_for(lambda m: m["type"] == "health" and (
        (s := source_of(m, source_id)) is not None and test(s)))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_frozen_video_is_told_and_its_return(aiohttp_client, db_url, tmp_path):
    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False, rtc_bind="127.0.0.1")
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge, ids["secretary"], language="ru"))["id"]
    inv = await invite(judge, hid, "witness", "Сидоров С.С.")
    pid = inv["participant"]["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    console = Console(await judge.client.ws_connect(f"/api/hearings/{hid}/ws"))
    src = f"p{pid}"
    camera = PausableVideo(encode_vp8_loop(320, 180, seconds=1.0))
    phone = await camera_phone_join(aiohttp_client, app, hid, inv, camera, lambda: judge.post(
        f"/api/hearings/{hid}/participants/{pid}/admit"))
    ok = await video(console, src, lambda s: s["video_state"] == "ok" and s["video_fps"] > 5)
    assert source_of(ok, src)["state"] == "ok"

    # the camera stops; the microphone goes on
    camera.flowing.clear()
    told = await video(console, src, lambda s: s["video_state"] == "frozen")
    seen = source_of(told, src)
    assert seen["reasons"] == ["video_frozen"] and seen["state"] == "degraded"
    assert seen["gap"] is None  # the audio still reaches the record
    snap = await (await judge.get(f"/api/hearings/{hid}/health")).json()
    assert source_of(snap, src)["video_state"] == "frozen"
    texts = {lang: json.loads((I18N / f"{lang}.json").read_text())["health.video_frozen"]
             for lang in ("ru", "kk", "en")}
    assert texts["ru"].format(name=seen["label"]) == "Видео от Сидоров С.С. остановилось"
    assert all("{name}" in t for t in texts.values()) and len(set(texts.values())) == 3

    # it comes back
    camera.flowing.set()
    await video(console, src, lambda s: s["video_state"] == "ok" and not s["reasons"])

    # a second witness without a camera joins after the first's only keyframe went by: its
    # phone is "off", and the first witness's video does not reach it
    inv2 = await invite(judge, hid, "witness", "Петров П.П.")
    pid2 = inv2["participant"]["id"]
    other = await phone_join(aiohttp_client, app, hid, inv2, PausableTrack(tone(330, 1.0)),
                             lambda: judge.post(f"/api/hearings/{hid}/participants/{pid2}/admit"))
    stalled = await video(console, src, lambda s: s["video_stalled_to"] == [f"p{pid2}"])
    assert other.peer.video_frames_from(src) == 0 and phone.peer.video_frames_from(src) == 0
    assert source_of(stalled, src)["reasons"] == ["video_stalled"]
    assert source_of(stalled, f"p{pid2}")["video_state"] == "off"
    assert source_of(stalled, f"p{pid2}")["state"] == "ok"
    # invited after the hearing opened, and still named, not "p<id>"
    assert source_of(stalled, f"p{pid2}")["label"] == "Петров П.П."

    await other.close()
    await phone.close()
    await console.close()


def test_a_camera_switched_off_is_off_not_frozen():
    """The phone page switches the camera off with ``track.enabled = false``: the browser
    keeps sending frames, black ones (Chromium: 40-85 bytes each), and a keyframe when asked."""
    from hearing.live.health import HealthMonitor
    now = {"ms": 10_000}
    source = SimpleNamespace(source_id="p7", audio_packets=0, video_frames=0, video_bytes=0,
                             muted=False, live=True)
    live = SimpleNamespace(clock=SimpleNamespace(now_ms=lambda: now["ms"]), speakers={},
                           streams={}, room=SimpleNamespace(participants={"p7": SimpleNamespace(
                               source=source, session=SimpleNamespace(slots=[]))}))
    sent = []
    mon = HealthMonitor(live, sent.append, lambda gap: None)

    def look(frames, size):
        now["ms"] += 500
        source.audio_packets += 25
        source.video_frames += frames
        source.video_bytes += frames * size
        mon._published_at = 0  # the one-a-second bound is not what this test is about
        mon.look()
        return mon.snapshot()["sources"][0]

    assert look(0, 0)["video_state"] == "off"  # connected, no camera
    assert look(15, 2_500)["video_state"] == "ok"
    seen = look(15, 2_500)
    assert (seen["video_state"], seen["video_fps"], seen["state"]) == ("ok", 30.0, "ok")
    assert look(15, 83)["video_state"] == "off"  # switched off: black frames
    assert look(1, 420)["video_state"] == "off"  # a black keyframe, asked for by a newcomer
    for _ in range(8):
        seen = look(0, 0)
    assert seen["video_state"] == "off" and seen["reasons"] == []  # black, then none: still off
    seen = look(15, 2_500)
    assert seen["video_state"] == "ok"
    for _ in range(6):
        seen = look(0, 0)  # the camera stops with the picture on
    assert seen["video_state"] == "frozen" and seen["reasons"] == ["video_frozen"]
