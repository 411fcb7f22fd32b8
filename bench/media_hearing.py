"""Benchmark of a hearing's media server: N participants (aiortc clients in separate
processes, Opus audio + 640x360 VP8 video at 30 fps) join one Room over a WebSocket on
loopback. Reports the server's CPU (fraction of one core), delivered video fps and audio
frames/s per receiver, one-way audio latency through the server (clicks sent at known wall
times, detected after decoding at the receivers), the server's memory growth, and what waited
unread in the server's UDP sockets during the run (hearing/load.py: the kernel's rx_queue of
each socket, sampled every 0.2 s; p50/p95/max of the total, in bytes). That backlog is what
the server's own forwarding-delay figure cannot see: it is taken after a packet is read.

Latency is not wrapped by the click interval: a click is sent every 0.5 s of the wall clock,
and click k is a 40 ms tone at 600 + 200 * (k mod 16) Hz. A receiver finds the tone's
frequency (FFT of the click's first 40 ms) and so which of the last 16 grid instants the click
left at: latencies up to 8 s are measured as they are; a server 3 s behind reports 3 s, not a
uniform spread over 0..0.5 s.

    python bench/media_hearing.py --participants 6 --duration 60 --json OUT.json

A poor link: ``--lossy-phone 5,400`` puts the last participant behind a relay in the server's
process that drops 5 % of the packets each way and carries at most 400 kbit/s each way (a
200 ms queue, then drops, as a congested link does); ``--lossy-audio-only`` has that phone ask
the server for audio only. The report's ``lossy_link`` says what that phone received (audio
continuity, video fps) and what the others still got from it and from each other.

The clients send pre-encoded VP8 (encoded once) and count received video frames without
decoding them, so nearly all the CPU measured in the server process is the server's."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the packages, and tests/support (test peers)

import numpy as np  # noqa: E402
from aiohttp import WSMsgType, web  # noqa: E402

CLICK_EVERY_S = 0.5
#: click k sounds at CLICK_BASE_HZ + CLICK_STEP_HZ * (k mod CLICK_MARKERS): unique over 8 s
CLICK_MARKERS = 16
CLICK_BASE_HZ = 600.0
CLICK_STEP_HZ = 200.0
CANDIDATE = re.compile(r"(a=candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ host)")


class LossyRelay(asyncio.DatagramProtocol):
    """One phone's poor link, in the server's process: the phone is given this socket as the
    server's ICE address (and the server this socket as the phone's), and every datagram
    between them crosses it. Each direction drops ``loss`` of its packets at random and is
    carried at ``kbps`` through a queue of at most ``queue_s``; what would wait longer is
    dropped."""

    def __init__(self, server: tuple[str, int], loss: float, kbps: float, queue_s: float = 0.2) -> None:
        self.server, self.loss, self.rate, self.queue_s = server, loss, kbps * 1000 / 8, queue_s
        self.phone: tuple[str, int] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.free_at = {"down": 0.0, "up": 0.0}
        self.counts = {d: {"packets": 0, "lost": 0, "overflow": 0, "bytes_sent": 0} for d in ("down", "up")}

    def connection_made(self, transport) -> None:  # noqa: ANN001
        self.transport = transport

    @property
    def address(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr[:2] == self.server:
            direction, dest = "down", self.phone
        else:
            self.phone, direction, dest = addr[:2], "up", self.server
        if dest is None:
            return
        counts = self.counts[direction]
        counts["packets"] += 1
        if random.random() < self.loss:
            counts["lost"] += 1
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self.free_at[direction])
        if start - now > self.queue_s:
            counts["overflow"] += 1
            return
        self.free_at[direction] = done = start + len(data) / self.rate
        counts["bytes_sent"] += len(data)
        loop.call_at(done, self.transport.sendto, data, dest)


class LossyLink:
    """Puts one participant's media behind LossyRelays by rewriting the ICE candidates of the
    signalling: the server's in each offer to that phone, the phone's in its answers."""

    def __init__(self, participant_id: str, loss: float, kbps: float) -> None:
        self.participant_id, self.loss, self.kbps = participant_id, loss, kbps
        self.relays: dict[tuple[str, int], LossyRelay] = {}  # server ICE address -> relay
        self.current: LossyRelay | None = None

    async def _relay(self, server: tuple[str, int]) -> LossyRelay:
        if server not in self.relays:
            loop = asyncio.get_running_loop()
            _, relay = await loop.create_datagram_endpoint(
                lambda: LossyRelay(server, self.loss, self.kbps), local_addr=("127.0.0.1", 0))
            self.relays[server] = relay
        return self.relays[server]

    async def offer(self, sdp: str) -> str:
        """The server's offer as the phone gets it: every server candidate is the relay."""
        for host, port in {(m.group(2), int(m.group(3))) for m in CANDIDATE.finditer(sdp)}:
            self.current = await self._relay((host, port))
        return CANDIDATE.sub(lambda m: f"{m.group(1)}{self._at(self.current)}{m.group(4)}", sdp)

    def answer(self, sdp: str) -> str:
        """The phone's answer as the server gets it: the phone is reached at the relay too."""
        return CANDIDATE.sub(lambda m: f"{m.group(1)}{self._at(self.current)}{m.group(4)}", sdp)

    @staticmethod
    def _at(relay: LossyRelay) -> str:
        host, port = relay.address
        return f"{host} {port}"

    def counts(self) -> dict:
        """Per direction ("down": to the phone), summed over the phone's connections."""
        keys = ("packets", "lost", "overflow", "bytes_sent")
        return {d: {k: sum(r.counts[d][k] for r in self.relays.values()) for k in keys}
                for d in ("down", "up")}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def click_marker(k: int) -> float:
    return CLICK_BASE_HZ + CLICK_STEP_HZ * (k % CLICK_MARKERS)


def sent_at(now: float, marker: int) -> float:
    """The last grid instant at or before ``now`` whose click carries ``marker``."""
    k = int(np.floor(now / CLICK_EVERY_S))
    k -= (k - marker) % CLICK_MARKERS
    return k * CLICK_EVERY_S


def marker_of(samples: np.ndarray, rate: int) -> int:
    """Which marker a click's samples carry: the tone's frequency, nearest on the grid."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), 16384))
    freq = float(np.argmax(spectrum)) * rate / 16384
    return int(round((freq - CLICK_BASE_HZ) / CLICK_STEP_HZ)) % CLICK_MARKERS


def marked_clicks_track():  # noqa: ANN201
    """A SignalTrack whose click k is a 40 ms tone at click_marker(k)."""
    from support.testpeer import AUDIO_RATE, FRAME, SignalTrack

    class MarkedClicks(SignalTrack):
        def _next_chunk(self, t0: float) -> np.ndarray:
            # the first 2 frames sent at or after each grid instant k * CLICK_EVERY_S
            k = int(np.floor(t0 / CLICK_EVERY_S))
            loud = (t0 - k * CLICK_EVERY_S) < 2 * FRAME / AUDIO_RATE
            t = (self._n * FRAME + np.arange(FRAME)) / AUDIO_RATE
            return (0.8 * np.sin(2 * np.pi * click_marker(k) * t) * loud).astype(np.float32)

    return MarkedClicks()


class ClickReader:
    """Finds clicks in a receiver's decoded audio, one frame at a time: the time the click's
    first loud frame arrived, and (from it and the next frame) its marker."""

    def __init__(self, on_click) -> None:  # noqa: ANN001
        self.on_click = on_click
        self.loud = False
        self.pending: tuple[float, np.ndarray] | None = None

    def frame(self, samples: np.ndarray, now: float, rate: int) -> None:
        samples = samples.reshape(-1)
        loud = float(np.max(np.abs(samples))) > 0.2 if len(samples) else False
        if self.pending is not None:
            arrived, first = self.pending
            self.pending = None
            self.on_click(now=arrived, marker=marker_of(np.concatenate([first, samples]), rate))
        elif loud and not self.loud:
            self.pending = (now, samples)
        self.loud = loud


# ---------------------------------------------------------------------------------------------
async def run_client(name: str, url: str, video_file: str, duration: float, warmup: float,
                     light: bool, audio_only: bool = False) -> dict:
    import aiohttp

    from media.rtc import apply_bind_addresses

    from support.testpeer import AUDIO_RATE, PacketVideoTrack, TestPeer, remb_estimates

    apply_bind_addresses(["127.0.0.1"])
    packets = json.loads(Path(video_file).read_text())
    vp8 = [bytes.fromhex(p) for p in packets]
    latencies: dict[str, list[float]] = {}
    net_latencies: dict[str, list[float]] = {}
    audio_gaps: dict[str, float] = {}  # mid -> longest time between two audio packets, measured
    last_audio: dict[str, float] = {}
    measuring = {"on": False}

    def recorder(into: dict[str, list[float]], mid: str):  # noqa: ANN202
        def on_click(now: float, marker: int) -> None:
            if measuring["on"]:
                into.setdefault(mid, []).append(now - sent_at(now, marker))
        return on_click

    class MarkedPeer(TestPeer):
        """Reads each click's marker where the test peer only sees that it is loud: at the
        packet's arrival (before aiortc's jitter buffer) and, with --full-clients, after it."""

        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            self.packet_clicks: dict[str, ClickReader] = {}
            self.received_clicks: dict[str, ClickReader] = {}

        def _hook_audio_packets(self, pc, mid: str) -> None:  # noqa: ANN001
            self.packet_clicks[mid] = ClickReader(recorder(net_latencies, mid))  # per connection
            super()._hook_audio_packets(pc, mid)

        async def _read_audio(self, mid: str, track) -> None:  # noqa: ANN001
            self.received_clicks[mid] = ClickReader(recorder(latencies, mid))
            await super()._read_audio(mid, track)

        def _packet_audio(self, mid: str, samples: np.ndarray, now: float) -> None:
            if measuring["on"] and mid in last_audio:
                audio_gaps[mid] = max(audio_gaps.get(mid, 0.0), now - last_audio[mid])
            last_audio[mid] = now
            self.packet_clicks[mid].frame(samples, now, AUDIO_RATE)

        def _received_audio(self, mid: str, samples: np.ndarray, now: float) -> None:
            self.received_clicks[mid].frame(samples, now, AUDIO_RATE)

    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, max_msg_size=1 << 20) as ws:
            async def signal(message: dict) -> None:
                await ws.send_json(message)

            peer = MarkedPeer(name, signal, marked_clicks_track(), PacketVideoTrack(vp8, fps=30),
                              on_packet_click=lambda mid, now: None, light=light)

            async def reader() -> None:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        await peer.on_server_message(json.loads(msg.data))

            read_task = asyncio.ensure_future(reader())
            await peer.join()
            remb = remb_estimates(peer.pc)
            if audio_only:
                await ws.send_json({"type": "receive", "video": False})
            rejoins = {"n": 0}

            async def rejoin_when_dropped() -> None:
                """What the hearing page does: a failed connection asks for a new one."""
                while True:
                    await asyncio.sleep(0.5)
                    if peer.pc is not None and peer.pc.connectionState in ("failed", "closed"):
                        rejoins["n"] += 1
                        peer.audio = marked_clicks_track()
                        peer.video = PacketVideoTrack(vp8, fps=30)
                        try:
                            await peer.join()
                        except Exception:
                            pass

            rejoin_task = asyncio.ensure_future(rejoin_when_dropped())
            await asyncio.sleep(warmup)
            v0, a0 = dict(peer.video_frames), dict(peer.audio_frames)
            measuring["on"] = True
            t0, c0 = time.time(), time.process_time()
            await asyncio.sleep(duration)
            elapsed = time.time() - t0
            cpu = (time.process_time() - c0) / elapsed
            v1, a1 = dict(peer.video_frames), dict(peer.audio_frames)
            for mid, last in last_audio.items():  # a source that fell silent before the end
                audio_gaps[mid] = max(audio_gaps.get(mid, 0.0), time.time() - last)
            tracks = dict(peer.tracks)
            rejoin_task.cancel()
            read_task.cancel()
            await peer.close()
    per_source = {}
    for mid, t in tracks.items():
        src = t["source_id"]
        if src is None:
            continue
        entry = per_source.setdefault(src, {})
        if t["kind"] == "video":
            entry["video_fps"] = (v1.get(mid, 0) - v0.get(mid, 0)) / elapsed
        else:
            entry["audio_frames_per_s"] = (a1.get(mid, 0) - a0.get(mid, 0)) / elapsed
            entry["audio_max_gap_ms"] = round(audio_gaps.get(mid, elapsed) * 1000, 1)
            entry["latencies_ms"] = [round(x * 1000, 1) for x in latencies.get(mid, [])]
            entry["net_latencies_ms"] = [round(x * 1000, 1) for x in net_latencies.get(mid, [])]
    return {"name": name, "cpu_cores": cpu, "rejoins": rejoins["n"], "per_source": per_source,
            "remb_kbps_last": round(remb[-1] / 1000) if remb else None,
            "remb_kbps_min": round(min(remb) / 1000) if remb else None}


# ---------------------------------------------------------------------------------------------
def transcode_cost_per_stream(vp8: list[bytes], fps: int = 30) -> float:
    """Baseline, measured in the same run: what stock aiortc spends per forwarded stream when
    it decodes a source and re-encodes it for a receiver (aiortc's own Vp8Encoder), in cores."""
    import av
    from aiortc.codecs.vpx import Vp8Encoder

    decoder = av.CodecContext.create("libvpx", "r")
    encoder = Vp8Encoder()
    frames = 0
    start = time.process_time()
    for data in vp8:
        for frame in decoder.decode(av.Packet(data)):
            frame.pts, frame.time_base = frames * 3000, __import__("fractions").Fraction(1, 90_000)
            encoder.encode(frame)
            frames += 1
    encode_and_decode = time.process_time() - start
    return encode_and_decode / (frames / fps)


async def run_server(args) -> dict:
    from media.blobstore import BlobStore
    from media.clock import HearingClock
    from hearing.load import udp_backlog
    from media.rtc import Room, RtcOptions, apply_bind_addresses
    from support.testpeer import encode_vp8_loop

    apply_bind_addresses(["127.0.0.1"])
    tmp = Path(tempfile.mkdtemp(prefix="media-bench-"))
    video_file = tmp / "vp8.json"
    vp8 = encode_vp8_loop(640, 360, 30, 2.0, 500_000)
    video_file.write_text(json.dumps([p.hex() for p in vp8]))
    baseline = transcode_cost_per_stream(vp8)

    sockets: dict[str, web.WebSocketResponse] = {}
    events: list[dict] = []
    tap_chunks = {"n": 0}

    lossy = None
    if args.lossy_phone:
        loss_pct, kbps = (float(x) for x in args.lossy_phone.split(","))
        lossy = LossyLink(f"p{args.participants - 1}", loss_pct / 100, kbps)

    async def send(pid: str, message: dict) -> None:
        ws = sockets.get(pid)
        if lossy is not None and pid == lossy.participant_id and message.get("type") == "offer":
            message = {**message, "sdp": await lossy.offer(message["sdp"])}
        if ws is not None and not ws.closed:
            await ws.send_json(message)

    room = Room("bench", HearingClock.starting_now(), RtcOptions(bind_addresses=["127.0.0.1"]),
                BlobStore(tmp / "blobs"), tmp / "rec", send, events.append,
                lambda chunk: tap_chunks.__setitem__("n", tap_chunks["n"] + 1))

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        pid = request.match_info["pid"]
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        sockets[pid] = ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                message = json.loads(msg.data)
                if lossy is not None and pid == lossy.participant_id and message.get("type") == "answer":
                    message["sdp"] = lossy.answer(message["sdp"])
                await room.handle_message(pid, message)
        return ws

    app = web.Application()
    app.router.add_get("/ws/{pid}", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]

    n = args.participants
    procs = []
    for i in range(n):
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", f"p{i}", "--url", f"http://127.0.0.1:{port}/ws/p{i}",
            "--video-file", str(video_file), "--duration", str(args.duration),
            "--warmup", str(args.warmup + (n - i) * 0.3), *(["--full-clients"] if args.full_clients else []),
            *(["--audio-only"] if lossy is not None and args.lossy_audio_only and i == n - 1 else []),
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)}))
        await asyncio.sleep(0.3)
    await asyncio.sleep(args.warmup)
    cpu0, wall0, rss0 = time.process_time(), time.monotonic(), rss_mb()
    stats0 = room.stats()
    rss_samples = [(0.0, rss0)]
    backlog: list[int] = []
    udp0 = udp_backlog()

    async def sample_backlog() -> None:
        while True:
            backlog.append(udp_backlog().bytes)
            await asyncio.sleep(0.2)

    sampler = asyncio.ensure_future(sample_backlog())
    while time.monotonic() - wall0 < args.duration:
        await asyncio.sleep(min(10.0, args.duration / 6))
        rss_samples.append((round(time.monotonic() - wall0, 1), rss_mb()))
    sampler.cancel()
    udp1 = udp_backlog()
    cpu1, wall1, rss1 = time.process_time(), time.monotonic(), rss_mb()
    stats = room.stats()
    outputs = [json.loads((await p.communicate())[0].decode() or "{}") for p in procs]
    recordings = await room.close()
    await runner.cleanup()
    lossy_report = lossy_link_report(lossy, args.lossy_audio_only, outputs) if lossy else None

    fps = [s.get("video_fps", 0.0) for o in outputs for s in o.get("per_source", {}).values()]
    afps = [s.get("audio_frames_per_s", 0.0) for o in outputs for s in o.get("per_source", {}).values()]
    lat = [x for o in outputs for s in o.get("per_source", {}).values() for x in s.get("latencies_ms", [])]
    net = [x for o in outputs for s in o.get("per_source", {}).values() for x in s.get("net_latencies_ms", [])]
    receivers_ok = sum(len(o.get("per_source", {})) for o in outputs) == n * (n - 1)
    return {
        "participants": n,
        "duration_s": args.duration,
        "server_cpu_cores": round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "video_fps_min": round(min(fps), 1) if fps else 0.0,
        "video_fps_mean": round(float(np.mean(fps)), 1) if fps else 0.0,
        "audio_frames_per_s_min": round(min(afps), 1) if afps else 0.0,
        "audio_latency_note": "click sent -> decoded at the receiving aiortc client (includes aiortc's 4-packet receive jitter buffer; --full-clients only); each click carries its own marker, so latencies up to 8 s are not wrapped",
        "audio_latency_p50_ms": round(float(np.percentile(lat, 50)), 1) if lat else None,
        "audio_latency_p95_ms": round(float(np.percentile(lat, 95)), 1) if lat else None,
        "audio_latency_samples": len(lat),
        "audio_network_latency_note": "click sent -> RTP packet arrival at the receiver (sender + server + network, no receive jitter buffer)",
        "audio_network_latency_p50_ms": round(float(np.percentile(net, 50)), 1) if net else None,
        "audio_network_latency_p95_ms": round(float(np.percentile(net, 95)), 1) if net else None,
        "audio_network_latency_max_ms": round(float(np.max(net)), 1) if net else None,
        "udp_backlog_note": "bytes waiting unread in the server's UDP sockets (kernel rx_queue, payload plus per-packet overhead), sampled every 0.2 s",
        "udp_backlog_p50_bytes": int(np.percentile(backlog, 50)) if backlog else None,
        "udp_backlog_p95_bytes": int(np.percentile(backlog, 95)) if backlog else None,
        "udp_backlog_max_bytes": int(max(backlog)) if backlog else None,
        "udp_backlog_samples": len(backlog),
        "udp_sockets": udp1.sockets,
        "udp_kernel_drops": udp1.drops - udp0.drops,
        "client_cpu_cores_total": round(sum(o.get("cpu_cores", 0.0) for o in outputs), 2),
        "machine_load_avg_1min": round(os.getloadavg()[0], 2),
        "forward_dropped_frames": stats.get("forward_dropped", 0),
        "server_forward_delay_p95_ms": (round(float(np.percentile(stats["forward_audio_delay_ms"], 95)), 2)
                                        if stats["forward_audio_delay_ms"] else None),
        "memory_growth_mb": round(rss1 - rss0, 1),
        "memory_samples_mb": [(t, round(m, 1)) for t, m in rss_samples + [(round(wall1 - wall0, 1), rss1)]],
        "server_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "all_streams_delivered": receivers_ok,
        "tap_chunks": tap_chunks["n"],
        "tap_dropped": stats["tap"]["chunks_dropped"],
        "recording_chunks": sum(e["type"] == "recording.chunk" for e in events),
        "client_rejoins": sum(o.get("rejoins", 0) for o in outputs),
        "drops": [{k: e.get(k) for k in ("type", "participant_id", "at_ms")} for e in events
                  if e["type"].startswith("participant.") and e["type"] != "participant.joined"],
        "events": {t: sum(e["type"] == t for e in events) for t in sorted({e["type"] for e in events})},
        "received_at_server_per_source": {
            pid: {"video_fps": round((p["video_frames"] - stats0["participants"].get(pid, {}).get("video_frames", 0)) / (wall1 - wall0), 1),
                  "audio_pps": round((p["audio_packets"] - stats0["participants"].get(pid, {}).get("audio_packets", 0)) / (wall1 - wall0), 1)}
            for pid, p in stats["participants"].items()},
        "per_receiver": {o.get("name"): {src: round(v.get("video_fps", 0), 1) for src, v in o.get("per_source", {}).items()}
                         for o in outputs},
        "recordings": len(recordings),
        "lossy_link": lossy_report,
        "forwarding": "encoded packets (no per-receiver decode/encode)",
        "baseline_transcode_cores_per_stream": round(baseline, 3),
        "baseline_transcode_cores_projected": round(baseline * n * (n - 1), 2),
        "ratio_projected_transcode_to_measured": round(baseline * n * (n - 1) / max((cpu1 - cpu0) / (wall1 - wall0), 1e-6), 1),
    }


def lossy_link_report(lossy: LossyLink, audio_only: bool, outputs: list[dict]) -> dict:
    """What the phone behind the poor link received, and what everybody else still got."""
    phone = lossy.participant_id
    by_name = {o.get("name"): o.get("per_source", {}) for o in outputs}

    def receives(per_source: dict) -> dict:
        return {src: {"video_fps": round(v.get("video_fps", 0.0), 1),
                      "audio_frames_per_s": round(v.get("audio_frames_per_s", 0.0), 1),
                      "audio_max_gap_ms": v.get("audio_max_gap_ms")}
                for src, v in per_source.items()}

    others = {name: src for name, src in by_name.items() if name != phone}
    between_others = [v.get("video_fps", 0.0) for src in others.values()
                      for s, v in src.items() if s != phone]
    return {
        "phone": phone, "loss_pct": round(lossy.loss * 100, 1), "kbps": lossy.kbps,
        "audio_only": audio_only,
        "relay_packets": lossy.counts(),
        "note": "audio_frames_per_s: 50 is every 20 ms frame; audio_max_gap_ms: longest silence "
                "between two audio packets of a source during the measured time",
        "phone_receives": receives(by_name.get(phone, {})),
        "remb_kbps_to_phone": {k: next((o.get(k) for o in outputs if o.get("name") == phone), None)
                               for k in ("remb_kbps_last", "remb_kbps_min")},
        "remb_kbps_to_others_last": {o.get("name"): o.get("remb_kbps_last") for o in outputs
                                     if o.get("name") != phone},
        "others_receive_from_phone": {name: receives({phone: src.get(phone, {})})[phone]
                                      for name, src in others.items()},
        "others_video_fps_min_from_each_other": round(min(between_others), 1) if between_others else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds (the issue asks 600)")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--autogroup-nice", type=int, default=None,
                        help="on a shared Linux machine with sched_autogroup, give this benchmark's "
                             "process group this nice value (e.g. -10; needs root) so that other "
                             "people's jobs do not decide the figures")
    parser.add_argument("--full-clients", action="store_true",
                        help="clients run aiortc's whole receive pipeline (jitter buffer, decoding) "
                             "and report playout latency; costs the clients far more CPU")
    parser.add_argument("--lossy-phone", metavar="LOSS%,KBPS",
                        help="the last participant's link drops LOSS%% of the packets and carries "
                             "KBPS kbit/s, each way (e.g. 5,400)")
    parser.add_argument("--lossy-audio-only", action="store_true",
                        help="that phone asks the server for audio only")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--audio-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--video-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        result = asyncio.run(run_client(args.client, args.url, args.video_file, args.duration, args.warmup,
                                        not args.full_clients, args.audio_only))
        print(json.dumps(result))
        return 0
    if args.autogroup_nice is not None:
        Path("/proc/self/autogroup").write_text(str(args.autogroup_nice))
    result = asyncio.run(run_server(args))
    result["autogroup"] = Path("/proc/self/autogroup").read_text().strip() if Path("/proc/self/autogroup").exists() else None
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
