"""Headless Chromium joins a Room as a participant (fake camera, a speech WAV as microphone)
next to an aiortc participant: its audio is recorded and tapped, the aiortc peer receives its
audio and video, and Chromium receives the aiortc peer's media. Signalling is a bare WebSocket
served by the test; the hearing server's own pages are tested with the hearing server."""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import WSMsgType, web

from media.blobstore import BlobStore
from media.clock import HearingClock
from media.rtc import Room, RtcOptions, apply_bind_addresses

from support.testpeer import AUDIO_RATE, PacketVideoTrack, SignalTrack, TestPeer, encode_vp8_loop, tone

CHROMIUM = "/usr/bin/chromium"
SPEECH = Path(__file__).resolve().parents[3] / "shared" / "speech" / "ru-dev" / "ast_ru_conf-usermenu.wav"
if not SPEECH.exists():
    SPEECH = Path("/work/shared/speech/ru-dev/ast_ru_conf-usermenu.wav")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed"),
    pytest.mark.skipif(not SPEECH.exists(), reason="speech sample missing"),
]

PAGE = """<!doctype html><meta charset="utf-8"><title>participant</title><script>
window.report = {state: "new", errors: [], tracks: {}};
(async () => {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: "max-bundle"});
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false},
    video: {width: 640, height: 360}});
  pc.onconnectionstatechange = () => { window.report.state = pc.connectionState; };
  pc.onicecandidate = e => { if (e.candidate) ws.send(JSON.stringify({type: "candidate",
      candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex})); };
  const queue = [];
  let busy = false;
  async function handle(msg) {
    if (msg.type === "offer") {
      await pc.setRemoteDescription(msg);
      const sending = new Set(pc.getSenders().map(s => s.track).filter(Boolean));
      stream.getTracks().forEach(t => { if (!sending.has(t)) pc.addTrack(t, stream); });
      await pc.setLocalDescription(await pc.createAnswer());
      ws.send(JSON.stringify({type: "answer", sdp: pc.localDescription.sdp}));
    } else if (msg.type === "tracks") window.report.tracks = msg.tracks;
    else if (msg.type === "error") window.report.errors.push(msg.error);
  }
  ws.onmessage = async ev => {
    queue.push(JSON.parse(ev.data));
    if (busy) return;
    busy = true;
    while (queue.length) { try { await handle(queue.shift()); } catch (e) { window.report.errors.push(String(e)); } }
    busy = false;
  };
  if (ws.readyState !== WebSocket.OPEN) await new Promise(r => ws.onopen = r);
  ws.send(JSON.stringify({type: "join"}));
  window.inbound = async () => {
    const out = {audio: 0, video: 0};
    (await pc.getStats()).forEach(s => {
      if (s.type === "inbound-rtp" && s.kind === "audio") out.audio += s.packetsReceived || 0;
      if (s.type === "inbound-rtp" && s.kind === "video") out.video += s.framesDecoded || 0;
    });
    return out;
  };
})().catch(e => window.report.errors.push(String(e)));
</script>"""


def speech_16k() -> np.ndarray:
    with wave.open(str(SPEECH)) as w:
        assert w.getframerate() == 16_000 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    return x if w.getnchannels() == 1 else x[:: w.getnchannels()]


def envelope(x: np.ndarray, rate: int = 16_000, step_ms: int = 20) -> np.ndarray:
    n = rate * step_ms // 1000
    frames = x[: len(x) // n * n].reshape(-1, n)
    return np.log(np.sqrt(np.mean(frames ** 2, axis=1)) + 1e-4)


def best_envelope_correlation(heard: np.ndarray, reference: np.ndarray) -> float:
    """Loudness envelopes (20 ms steps) compared at every lag: robust to Opus and to the
    level changes of Chromium's capture path, still specific to what was said (other speech
    clips of the same voice score 0.16-0.35 against this one)."""
    a, ref = envelope(heard), envelope(np.tile(reference, 3))
    a = (a - a.mean()) / (a.std() + 1e-9)
    windows = np.lib.stride_tricks.sliding_window_view(ref, len(a))
    b = (windows - windows.mean(axis=1, keepdims=True)) / (windows.std(axis=1, keepdims=True) + 1e-9)
    return float(np.max(b @ a) / len(a))


async def test_chromium_participant_is_heard_recorded_and_tapped(tmp_path):
    from playwright.async_api import async_playwright

    apply_bind_addresses(["127.0.0.1"])
    wav = tmp_path / "speech.wav"
    shutil.copy(SPEECH, wav)
    chunks = []
    events = []
    sockets: dict[str, web.WebSocketResponse] = {}
    judge: TestPeer | None = None

    async def send(pid: str, message: dict) -> None:
        if pid == "judge":
            await judge.on_server_message(message)
        elif pid in sockets:
            await sockets[pid].send_json(message)

    room = Room("h-chromium", HearingClock.starting_now(), RtcOptions(bind_addresses=["127.0.0.1"]),
                BlobStore(tmp_path / "blobs"), tmp_path / "rec", send, events.append, chunks.append)

    async def page(request):
        return web.Response(text=PAGE, content_type="text/html")

    async def ws_handler(request):
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        sockets["phone"] = ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await room.handle_message("phone", json.loads(msg.data))
        return ws

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        judge = TestPeer("judge", lambda m: room.handle_message("judge", m),
                         SignalTrack(tone(523.0)), PacketVideoTrack(encode_vp8_loop(320, 180, seconds=1.0)))
        await judge.join()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}", "--allow-loopback-in-peer-connection",
                "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--autoplay-policy=no-user-gesture-required"])
            try:
                tab = await browser.new_page()
                await tab.goto(f"http://127.0.0.1:{port}/")
                loop = asyncio.get_running_loop()
                end = loop.time() + 30
                while loop.time() < end:
                    heard = judge.audio_from("phone")
                    if len(heard) > 12 * AUDIO_RATE and judge.video_frames_from("phone") > 60:
                        break
                    await asyncio.sleep(0.25)
                report = await tab.evaluate("window.report")
                inbound = await tab.evaluate("window.inbound ? window.inbound() : null")
            finally:
                await browser.close()
    finally:
        recordings = {r.source_id: r for r in await room.close()}
        await judge.close()
        await runner.cleanup()
        apply_bind_addresses(None)

    assert report["state"] == "connected" and not report["errors"], report["errors"]
    assert {t["source_id"] for t in report["tracks"]} == {"judge"}
    assert inbound["audio"] > 100 and inbound["video"] > 10, inbound  # Chromium hears and sees the judge
    assert judge.video_frames_from("phone") > 60  # VP8 forwarded from Chromium as it came
    speech = speech_16k()
    heard = judge.audio_from("phone")[-10 * AUDIO_RATE:][::3]  # 48 kHz -> 16 kHz is enough for envelopes
    print("envelope correlations", best_envelope_correlation(heard, speech))
    assert best_envelope_correlation(heard, speech) > 0.6
    tapped = np.concatenate([c.samples for c in chunks if c.source_id == "phone"])
    assert best_envelope_correlation(tapped[-10 * 16_000:], speech) > 0.6
    rec = recordings["phone"]
    with av.open(str(rec.blob.path)) as f:
        recorded = np.concatenate([fr.to_ndarray()[0] for fr in f.decode(audio=0)])
    assert abs(len(recorded) / AUDIO_RATE - (rec.end_ms - rec.start_ms) / 1000) < 0.1
    assert best_envelope_correlation(recorded[-10 * AUDIO_RATE:][::3], speech) > 0.6
