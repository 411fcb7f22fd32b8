"""One participant's peer connection: what it receives from the participant (their source)
and the slots through which it sends them everybody else.

The server always offers and the client always answers. aiortc rebuilds every m-section from
its own defaults whenever it creates an offer (payload types, header extension ids); that is
only consistent if every offer of the connection came from aiortc, so a browser's own offer is
never used. The first offer has the participant's own audio and video (recvonly, the first two
m-sections: a browser's ``addTrack`` after ``setRemoteDescription`` attaches to them) and one
slot per participant already present.

A slot is an audio + video transceiver pair, sendonly from the server, bound to one other
source at a time. Slots are added by renegotiation when someone joins and are reused when
someone leaves (the slot is unbound, a ``tracks`` message says so, and the next newcomer gets
it without another offer/answer round)."""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.tasks import Tasks

from .config import RtcOptions
from .forward import ForwardTrack
from .signalling import SignallingError, check_sdp, parse_candidate
from .source import Source

log = logging.getLogger(__name__)

Send = Callable[[str, dict], Awaitable[None] | None]


def _preferred(kind: str):
    caps = RTCRtpSender.getCapabilities(kind).codecs
    wanted = ("audio/opus",) if kind == "audio" else ("video/vp8", "video/rtx")
    return [c for c in caps if c.mimeType.lower() in wanted]


def size_udp_buffers(pc: RTCPeerConnection, size: int) -> int | None:
    """Give the ICE sockets of ``pc`` (after gathering) a ``size`` receive buffer; returns the
    smallest size the kernel granted. aioice asks for 256 KiB, which overflows while a process
    is briefly descheduled and several video streams keep arriving."""
    sizes = set()
    for t in pc.getTransceivers():
        connection = getattr(t.receiver.transport.transport, "_connection", None)
        for protocol in getattr(connection, "_protocols", []):
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is None:
                continue
            for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
                if opt is None:
                    continue
                try:
                    sock.setsockopt(socket.SOL_SOCKET, opt, size)
                    break
                except OSError:
                    continue
            sizes.add(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    return min(sizes) if sizes else None


class _EncodedSink:
    """Stands in for an RTCRtpReceiver's decoder queue: encoded frames go to ``on_frame`` on the
    event loop instead of to a decoder thread; the thread waits here only for its stop signal.
    (aiortc has no public hook for encoded frames; checked against aiortc 1.16.)"""

    def __init__(self, on_frame: Callable[[object, object], None] | None) -> None:
        self._on_frame = on_frame
        self._stop: queue.Queue = queue.Queue()

    def put(self, item) -> None:
        if item is None:
            self._stop.put(None)
        elif self._on_frame is not None:
            self._on_frame(*item)

    def get(self):
        return self._stop.get()


@dataclass
class Slot:
    audio_track: ForwardTrack
    video_track: ForwardTrack
    audio_mid: str | None = None
    video_mid: str | None = None
    source: Source | None = None
    negotiated: bool = False

    def bind(self, source: Source | None) -> None:
        if self.source is not None:
            self.source.audio_subscribers.discard(self.audio_track)
            self.source.video_subscribers.discard(self.video_track)
        self.source = source
        if source is not None:
            source.audio_subscribers.add(self.audio_track)
            source.video_subscribers.add(self.video_track)
            self.video_track.restart_video()
            source.request_keyframe()


class Session:
    def __init__(self, participant_id: str, source: Source, options: RtcOptions, send: Send,
                 on_failed: Callable[["Session"], None], on_event: Callable[[dict], None]) -> None:
        self.participant_id = participant_id
        self.source = source
        self.options = options
        self._send = send
        self._on_failed = on_failed
        self._on_event = on_event
        config = options.rtc_configuration(participant_id)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=config.iceServers,
                                                     bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.slots: list[Slot] = []
        self.epoch = 0
        self.closed = False
        self.answered = False
        self._awaiting_answer = False
        self._dirty = False
        self._lock = asyncio.Lock()
        self.tasks = Tasks(f"session {participant_id}")  # keyframe requests, the ICE grace
        self._video_receiver = None
        self._video_ssrc: int | None = None
        self.pc.on("connectionstatechange", self._on_state)
        for kind in ("audio", "video"):
            t = self.pc.addTransceiver(kind, direction="recvonly")
            t.setCodecPreferences(_preferred(kind))
            self._hook_upstream(t)

    # -- upstream (the participant's own media) ---------------------------------------------
    def _hook_upstream(self, transceiver) -> None:
        receiver = transceiver.receiver
        if not hasattr(receiver, "_RTCRtpReceiver__decoder_queue"):
            raise RuntimeError("aiortc internals changed: RTCRtpReceiver has no decoder queue")
        source = self.source
        original = receiver._handle_rtp_packet
        if transceiver.kind == "audio":
            async def handle_rtp(packet, arrival_time_ms):
                if packet.payload_type in self._opus_pts(transceiver):
                    source.on_audio(self.epoch, packet.payload, packet.timestamp)
                await original(packet, arrival_time_ms)

            receiver._RTCRtpReceiver__decoder_queue = _EncodedSink(None)
        else:
            self._video_receiver = receiver

            async def handle_rtp(packet, arrival_time_ms):
                self._video_ssrc = packet.ssrc
                await original(packet, arrival_time_ms)

            receiver._RTCRtpReceiver__decoder_queue = _EncodedSink(
                lambda codec, frame: source.on_video(self.epoch, frame.data, frame.timestamp))
        receiver._handle_rtp_packet = handle_rtp

    @staticmethod
    def _opus_pts(transceiver) -> set[int]:
        return {c.payloadType for c in transceiver._codecs if c.mimeType.lower() == "audio/opus"}

    def activate(self) -> None:
        """Make this connection the source's upstream (once the client's answer is in)."""
        self.epoch = self.source.attach(self._send_pli)

    def _send_pli(self) -> None:
        if self._video_receiver is not None and self._video_ssrc is not None and not self.closed:
            self.tasks.start(self._video_receiver._send_rtcp_pli(self._video_ssrc), "keyframe request")

    # -- signalling ---------------------------------------------------------------------------
    async def accept_answer(self, sdp: str) -> None:
        check_sdp(sdp, self.options.max_message_bytes, "answer")
        async with self._lock:
            if not self._awaiting_answer:
                raise SignallingError("no offer of the server is waiting for an answer")
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except Exception as exc:
                raise SignallingError(f"answer rejected: {exc}") from None
            self._awaiting_answer = False
            first = not self.answered
            self.answered = True
            for slot in self.slots:
                slot.negotiated = slot.audio_mid is not None
        if first:
            self.activate()
        if self._dirty:
            await self.renegotiate()

    async def add_candidate(self, message: dict) -> None:
        candidate = parse_candidate(message)
        if self.pc.remoteDescription is None:
            return  # trickled before the first answer: the answer's SDP carries them too
        try:
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:
            raise SignallingError(f"candidate rejected: {exc}") from None

    async def renegotiate(self) -> None:
        """Send an offer with the slots not negotiated yet (the first call: the whole
        connection). One offer at a time: changes made while an answer is awaited are offered
        after it arrives."""
        async with self._lock:
            if self.closed:
                return
            if self._awaiting_answer or self.pc.signalingState != "stable":
                self._dirty = True
                return
            self._dirty = False
            pending = [s for s in self.slots if s.audio_mid is None]
            if not pending and self.answered:
                return
            for slot in pending:
                for kind, track in (("audio", slot.audio_track), ("video", slot.video_track)):
                    t = self.pc.addTransceiver(track, direction="sendonly")
                    t.setCodecPreferences(_preferred(kind))
                    t.sender._send_keyframe = (lambda s=slot: s.source and s.source.request_keyframe())
                    if kind == "audio":
                        slot.audio_transceiver = t
                    else:
                        slot.video_transceiver = t
            await self.pc.setLocalDescription(await self.pc.createOffer())
            for slot in pending:
                slot.audio_mid = slot.audio_transceiver.mid
                slot.video_mid = slot.video_transceiver.mid
            if not self.answered:
                self._size_udp_buffers()
            self._awaiting_answer = True
            sdp = self.pc.localDescription.sdp
        await self.send_tracks()
        await self._deliver({"type": "offer", "sdp": sdp})

    async def _deliver(self, message: dict) -> None:
        try:
            result = self._send(self.participant_id, message)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result
        except Exception as exc:  # the client's socket is gone: it will rejoin or be dropped
            log.warning("sending %s to %s failed: %r", message.get("type"), self.participant_id, exc)

    async def send_tracks(self) -> None:
        tracks = []
        for slot in self.slots:
            if slot.audio_mid is None:
                continue
            sid = slot.source.source_id if slot.source else None
            tracks.append({"mid": slot.audio_mid, "kind": "audio", "source_id": sid})
            tracks.append({"mid": slot.video_mid, "kind": "video", "source_id": sid})
        await self._deliver({"type": "tracks", "tracks": tracks})

    # -- slots --------------------------------------------------------------------------------
    def slot_for(self, source: Source) -> Slot | None:
        return next((s for s in self.slots if s.source is source), None)

    def bind(self, source: Source) -> str | None:
        """Send ``source`` to this participant: "reused" (a free negotiated slot took it: only
        the ``tracks`` map changes), "new" (a renegotiation is needed) or None (already sent)."""
        if self.slot_for(source) is not None:
            return None
        free = next((s for s in self.slots if s.source is None), None)
        if free is not None:
            free.bind(source)
            return "reused" if free.audio_mid is not None else "new"
        slot = Slot(ForwardTrack("audio", self.options.forward_queue_frames),
                    ForwardTrack("video", self.options.forward_queue_frames, None))
        slot.video_track._request_keyframe = lambda s=slot: s.source and s.source.request_keyframe()
        slot.bind(source)
        self.slots.append(slot)
        return "new"

    def unbind(self, source: Source) -> bool:
        slot = self.slot_for(source)
        if slot is None:
            return False
        slot.bind(None)
        return True

    # -- lifetime -----------------------------------------------------------------------------
    def _size_udp_buffers(self) -> None:
        effective = size_udp_buffers(self.pc, self.options.udp_rcvbuf_bytes)
        if effective:
            self._on_event({"type": "rtc.udp_buffer", "participant_id": self.participant_id,
                            "requested": self.options.udp_rcvbuf_bytes, "effective": effective})

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if self.closed:
            return
        if state in ("failed", "closed"):
            self._on_failed(self)
        elif state == "disconnected":
            if not self.tasks.named("ice grace"):
                self.tasks.start(self._grace(), "ice grace")
        elif state == "connected":
            self._on_event({"type": "rtc.connected", "participant_id": self.participant_id})

    async def _grace(self) -> None:
        await asyncio.sleep(self.options.ice_failed_grace_s)
        if not self.closed and self.pc.connectionState in ("disconnected", "failed", "closed"):
            self._on_failed(self)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.source.detach(self.epoch)
        for slot in self.slots:
            slot.bind(None)
            slot.audio_track.stop()
            slot.video_track.stop()
        await self.tasks.close()
        await self.pc.close()
        # Undo the hooks: they close over this session, and aiortc objects that outlive the
        # connection (a transport's pending callbacks) would otherwise keep it all alive.
        # aiortc sometimes leaves a closed connection referenced from outside Python's view
        # (about one in five reconnects here), so also drop its packet buffers.
        for t in self.pc.getTransceivers():
            t.receiver.__dict__.pop("_handle_rtp_packet", None)
            t.sender.__dict__.pop("_send_keyframe", None)
            history = getattr(t.sender, "_RTCRtpSender__rtp_history", None)
            if isinstance(history, dict):
                history.clear()
            jitter = getattr(t.receiver, "_RTCRtpReceiver__jitter_buffer", None)
            if jitter is not None and hasattr(jitter, "_packets"):
                jitter._packets = [None] * len(jitter._packets)
        for slot in self.slots:
            slot.audio_track._frames.clear()
            slot.video_track._frames.clear()
        self._video_receiver = None
        self.pc.remove_all_listeners()
