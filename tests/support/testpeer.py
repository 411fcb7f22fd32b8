"""A participant made of aiortc, for tests and the benchmark: sends a generated or given audio
signal and pre-encoded VP8 video (so the peer itself costs almost no CPU), receives everybody
else, keeps the decoded audio per source and counts video frames per source without decoding.

``signal(message) -> reply | None`` carries client-to-server messages (in-process: a call into
``Room.handle_message``; in the benchmark: a WebSocket); server-to-client messages are fed to
``on_server_message``. A server of several nodes may answer a join with {"type": "moved",
"url": ...}: ``on_moved`` then takes the signalling to that node and the join is asked again
there (``HearingPeer`` does both over the hearing WebSocket)."""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Awaitable, Callable

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.rtc.session import _EncodedSink, size_udp_buffers
from media.tasks import Tasks

AUDIO_RATE = 48_000
FRAME = 960  # 20 ms


class SignalTrack(MediaStreamTrack):
    """Plays ``samples`` (float32 mono 48 kHz, looped) in real time, 20 ms per frame. If
    ``clicks_every_s`` is set, the signal is replaced by a short burst at every multiple of
    that interval of the wall clock (time.time()), so a receiver in another process can tell
    how late each burst arrives. Frames are sent when their first sample is due."""

    kind = "audio"

    def __init__(self, samples: np.ndarray | None = None, clicks_every_s: float | None = None) -> None:
        super().__init__()
        self.samples = samples if samples is not None else np.zeros(AUDIO_RATE, np.float32)
        self.clicks_every_s = clicks_every_s
        self._pos = 0
        self._start: float | None = None
        self._n = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        t0 = self._start + self._n * FRAME / AUDIO_RATE
        delay = t0 - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self._next_chunk(t0)
        frame = av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16).reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._n * FRAME
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._n += 1
        return frame

    def _next_chunk(self, t0: float) -> np.ndarray:
        """The next frame's samples (float32), its first one due at wall-clock time ``t0``."""
        if self.clicks_every_s:
            # A 40 ms burst starting with the first frame sent at or after each grid instant,
            # so "now - grid instant" at a receiver over-states latency by under 20 ms.
            t = np.arange(FRAME) / AUDIO_RATE
            loud = (t0 % self.clicks_every_s) < 2 * FRAME / AUDIO_RATE
            return (0.8 * np.sin(2 * np.pi * 1000 * t) * loud).astype(np.float32)
        idx = (self._pos + np.arange(FRAME)) % len(self.samples)
        self._pos = (self._pos + FRAME) % len(self.samples)
        return self.samples[idx]


def encode_vp8_loop(width: int = 640, height: int = 360, fps: int = 30, seconds: float = 2.0,
                    bitrate: int = 600_000) -> list[bytes]:
    """A moving test picture encoded once; the first frame is the loop's only keyframe."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fractions.Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.gop_size = 10_000
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    yy, xx = np.mgrid[0:height, 0:width]
    packets: list[bytes] = []
    n = int(fps * seconds)
    for i in range(n):
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = (xx + 4 * i) % 256
        img[..., 1] = (yy + 2 * i) % 256
        img[..., 2] = 128
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return packets


class PacketVideoTrack(MediaStreamTrack):
    """Sends pre-encoded VP8 frames in a loop at ``fps``; a keyframe starts each loop."""

    kind = "video"

    def __init__(self, packets: list[bytes], fps: int = 30) -> None:
        super().__init__()
        self.packets, self.fps = packets, fps
        self._start: float | None = None
        self._n = 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        delay = self._start + self._n / self.fps - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self.packets[self._n % len(self.packets)])
        packet.pts = self._n * 90_000 // self.fps
        packet.time_base = fractions.Fraction(1, 90_000)
        self._n += 1
        return packet


class TestPeer:
    __test__ = False  # not a pytest class

    def __init__(self, name: str, signal: Callable[[dict], Awaitable[dict | None]],
                 audio: MediaStreamTrack | None = None, video: MediaStreamTrack | None = None,
                 on_click: Callable[[str, float], None] | None = None,
                 on_packet_click: Callable[[str, float], None] | None = None,
                 light: bool = False,
                 on_moved: Callable[[dict], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.on_moved = on_moved
        self._signal = signal
        self.audio, self.video = audio, video
        self.pc: RTCPeerConnection | None = None
        self.tracks: dict[str, dict] = {}  # mid -> {"kind", "source_id"}
        self.audio_in: dict[str, list[np.ndarray]] = {}  # mid -> decoded frames (48 kHz mono)
        self.audio_frames: dict[str, int] = {}
        self.video_frames: dict[str, int] = {}
        self.messages: list[dict] = []
        self.on_click = on_click
        self.on_packet_click = on_packet_click
        self.light = light  # benchmark mode: count and decode at packet level, skip aiortc's receive pipeline
        self._click_state: dict[str, bool] = {}  # mid -> loud, after the receive pipeline
        self._packet_loud: dict[str, bool] = {}  # mid -> loud, on packet arrival
        self._tasks = Tasks(f"test peer {name}")
        self.errors: list[dict] = []

    async def join(self) -> None:
        """Ask the server for an offer (again, if already joined: a reconnect on a fresh peer
        connection) and answer it with our tracks attached."""
        if self.pc is not None:
            await self.pc.close()
        # max-bundle: with aiortc's default (balanced) policy, an answerer given two video
        # m-sections in one offer leaves the second on a transport that bundling then stops.
        self.pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.on("track", lambda track: self._on_track(pc, track))
        self._answered = asyncio.get_running_loop().create_future()
        await self._signal({"type": "join"})
        reply = await asyncio.wait_for(self._answered, 10)
        if reply.get("type") == "moved" and self.on_moved is not None:
            await self.on_moved(reply)  # the signalling now reaches the hearing's owner node
            return await self.join()
        if reply.get("type") != "offer":
            raise RuntimeError(f"join refused: {reply}")

    async def on_server_message(self, message: dict) -> None:
        self.messages.append(message)
        waiting = getattr(self, "_answered", None)
        pc = self.pc
        if message["type"] == "offer" and pc is not None:
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            senders = {s.track for s in pc.getSenders() if s.track is not None}
            for track in (self.audio, self.video):
                if track is not None and track not in senders:
                    pc.addTrack(track)
            await pc.setLocalDescription(await pc.createAnswer())
            size_udp_buffers(pc, 4 << 20)
            await self._signal({"type": "answer", "sdp": pc.localDescription.sdp})
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
        elif message["type"] == "tracks":
            self.tracks = {t["mid"]: t for t in message["tracks"]}
        elif message["type"] in ("error", "moved"):
            if message["type"] == "error":
                self.errors.append(message)
            if waiting is not None and not waiting.done():
                waiting.set_result(message)

    def _mid_of(self, pc: RTCPeerConnection, track) -> str:
        return next(t.mid for t in pc.getTransceivers() if t.receiver.track is track)

    def _on_track(self, pc: RTCPeerConnection, track) -> None:
        mid = self._mid_of(pc, track)
        transceiver = next(t for t in pc.getTransceivers() if t.mid == mid)
        if track.kind == "video":
            self.video_frames.setdefault(mid, 0)
            if self.light:
                self._count_video_packets(transceiver.receiver, mid)
                return

            def count(codec, frame, mid=mid):
                self.video_frames[mid] = self.video_frames.get(mid, 0) + 1

            transceiver.receiver._RTCRtpReceiver__decoder_queue = _EncodedSink(count)
        else:
            if self.on_packet_click is not None or self.light:
                self._hook_audio_packets(pc, mid)
            if not self.light:
                self._tasks.start(self._read_audio(mid, track), f"read audio {mid}")

    def _count_video_packets(self, receiver, mid: str) -> None:
        """Counts complete frames (every sequence number from the frame's first packet to its
        marker packet arrived) without aiortc's jitter buffer, NACKs or bitrate estimation."""
        state = {"ts": None, "first": None, "n": 0}

        async def handle(packet, arrival_time_ms):
            if packet.timestamp != state["ts"]:
                state.update(ts=packet.timestamp, first=packet.sequence_number, n=0)
            state["n"] += 1
            if packet.marker and (packet.sequence_number - state["first"]) % 65536 + 1 == state["n"]:
                self.video_frames[mid] = self.video_frames.get(mid, 0) + 1

        receiver._handle_rtp_packet = handle

    def _hook_audio_packets(self, pc: RTCPeerConnection, mid: str) -> None:
        """Detect clicks on arrival of each RTP packet (before aiortc's jitter buffer, which
        holds four packets): the latency of the network path through the server alone."""
        receiver = next(t for t in pc.getTransceivers() if t.mid == mid).receiver
        original = receiver._handle_rtp_packet
        decoder = av.CodecContext.create("libopus", "r")
        decoder.sample_rate, decoder.layout, decoder.format = AUDIO_RATE, "mono", "flt"
        self._packet_loud[mid] = False  # a fresh connection starts quiet

        async def handle(packet, arrival_time_ms):
            now = time.time()
            if packet.payload:
                try:
                    frames = decoder.decode(av.Packet(packet.payload))
                except av.FFmpegError:
                    frames = []
                for f in frames:
                    if self.light:
                        self.audio_frames[mid] = self.audio_frames.get(mid, 0) + 1
                    self._packet_audio(mid, f.to_ndarray().reshape(-1), now)
            if not self.light:
                await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle

    def _packet_audio(self, mid: str, samples: np.ndarray, now: float) -> None:
        """One frame decoded from an RTP packet as it arrived: a click is where it turns loud."""
        loud = float(np.max(np.abs(samples))) > 0.2
        if loud and not self._packet_loud.get(mid) and self.on_packet_click is not None:
            self.on_packet_click(mid, now)
        self._packet_loud[mid] = loud

    async def _read_audio(self, mid: str, track) -> None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        try:
            while True:
                frame = await track.recv()
                now = time.time()
                frame.pts = None
                for f in resampler.resample(frame):
                    self.audio_frames[mid] = self.audio_frames.get(mid, 0) + 1
                    self._received_audio(mid, f.to_ndarray().reshape(-1), now)
        except MediaStreamError:
            pass

    def _received_audio(self, mid: str, samples: np.ndarray, now: float) -> None:
        """One frame (48 kHz mono) out of aiortc's receive pipeline: kept, and a click is
        where it turns loud."""
        self.audio_in.setdefault(mid, []).append(samples)
        if self.on_click is not None:
            loud = float(np.max(np.abs(samples))) > 0.2
            if loud and not self._click_state.get(mid):
                self.on_click(mid, now)
            self._click_state[mid] = loud

    def source_of(self, mid: str) -> str | None:
        t = self.tracks.get(mid)
        return t["source_id"] if t else None

    def mids_for(self, source_id: str, kind: str) -> list[str]:
        return [m for m, t in self.tracks.items() if t["source_id"] == source_id and t["kind"] == kind]

    def audio_from(self, source_id: str) -> np.ndarray:
        parts = [x for m in self.mids_for(source_id, "audio") for x in self.audio_in.get(m, [])]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def video_frames_from(self, source_id: str) -> int:
        return sum(self.video_frames.get(m, 0) for m in self.mids_for(source_id, "video"))

    async def close(self) -> None:
        await self._tasks.close()
        if self.pc is not None:
            await self.pc.close()


class HearingPeer:
    """A TestPeer whose signalling goes over the hearing WebSocket of the server at
    ``base_url``, signed in with an invite ``token`` (or, without one, the session cookie in
    ``session``'s jar). Told "moved", it opens a socket at the owner node, signs in the same
    way, closes the old one and asks to join there, as the browser does. ``events`` holds what
    every socket received, ``urls`` the nodes it was connected to, in order."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, hearing_id: int,
                 token: str | None, name: str, audio: MediaStreamTrack | None = None,
                 video: MediaStreamTrack | None = None) -> None:
        self.session, self.hearing_id, self.token = session, hearing_id, token
        self.base_url = base_url.rstrip("/")
        self.events: list[dict] = []
        self.urls: list[str] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self.peer = TestPeer(name, self._signal, audio=audio, video=video, on_moved=self._moved)

    async def connect(self, base_url: str | None = None) -> dict:
        """Open the hearing's WebSocket (at ``base_url`` if given) and return its hello."""
        if base_url:
            self.base_url = base_url.rstrip("/")
        ws = await self.session.ws_connect(f"{self.base_url}/api/hearings/{self.hearing_id}/ws")
        if self.token:
            await ws.send_json({"type": "auth", "token": self.token})
        hello = await ws.receive_json(timeout=10)
        if hello["type"] != "hello":
            await ws.close()
            raise RuntimeError(f"{self.base_url}: {hello}")
        old, old_reader = self.ws, self._reader
        self.ws = ws
        self.events.append(hello)
        self.urls.append(self.base_url)
        self._reader = asyncio.ensure_future(self._read(ws))
        if old is not None:
            old_reader.cancel()
            await old.close()
        return hello

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.json()
            self.events.append(data)
            if data["type"] in ("offer", "tracks", "closed", "error", "moved"):
                await self.peer.on_server_message(data)

    async def _signal(self, message: dict) -> None:
        await self.ws.send_json(message)

    async def _moved(self, message: dict) -> None:
        await self.connect(message["url"])

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]

    async def close(self) -> None:
        await self.peer.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()


def remb_estimates(pc) -> list[int]:  # noqa: ANN001
    """The bitrates the server's REMB feedback allows the video ``pc`` sends, in order (kept
    as they arrive)."""
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci

    sender = next((s for s in pc.getSenders() if s.track is not None and s.track.kind == "video"), None)
    estimates: list[int] = []
    if sender is None:
        return estimates
    original = sender._handle_rtcp_packet

    async def handle(packet) -> None:  # noqa: ANN001
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            bitrate, ssrcs = unpack_remb_fci(packet.fci)
            if sender._ssrc in ssrcs:
                estimates.append(bitrate)
        await original(packet)

    sender._handle_rtcp_packet = handle
    return estimates


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(AUDIO_RATE * seconds)) / AUDIO_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


class LocalHearing:
    """A Room and in-process TestPeers wired together directly (no WebSocket)."""

    def __init__(self, room_factory: Callable[[Callable, Callable], object]) -> None:
        self.peers: dict[str, TestPeer] = {}
        self.events: list[dict] = []
        self.room = room_factory(self._send, self.events.append)

    async def _send(self, participant_id: str, message: dict) -> None:
        peer = self.peers.get(participant_id)
        if peer is not None:
            await peer.on_server_message(message)

    async def join(self, name: str, audio: MediaStreamTrack | None = None,
                   video: MediaStreamTrack | None = None) -> TestPeer:
        peer = TestPeer(name, lambda m: self.room.handle_message(name, m), audio, video)
        self.peers[name] = peer
        await peer.join()
        return peer

    def events_of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]

    async def close(self):
        recordings = await self.room.close()
        for peer in self.peers.values():
            await peer.close()
        return recordings
