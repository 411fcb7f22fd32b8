"""Network audio over RTP: linear PCM, L16 or L24 big-endian, interleaved (RFC 3551/3190),
which is what AES67 devices (Dante in AES67 mode, Ravenna, Livewire+) send.

The receiver runs in the capture thread with a blocking socket and a short timeout, and decodes
a whole block of payloads at once so that a 1 ms packet time (1000 packets a second) costs one
numpy conversion per block rather than one per packet."""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENCODINGS = {"L16": 2, "L24": 3}
_HDR = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A packet or an SDP description that cannot be used."""


@dataclass(frozen=True)
class RtpFormat:
    channels: int = 2
    rate: int = 48_000
    encoding: str = "L24"  # "L16" or "L24"
    payload_type: int | None = None  # None = accept any dynamic payload type

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise RtpError(f"unsupported RTP encoding {self.encoding!r}; use L16 or L24")
        if not 1 <= self.channels <= 64:
            raise RtpError(f"channels={self.channels}: must be 1..64")
        if not 8000 <= self.rate <= 192_000:
            raise RtpError(f"rate={self.rate}: must be 8000..192000")

    @property
    def frame_bytes(self) -> int:
        return ENCODINGS[self.encoding] * self.channels


def parse_packet(data: bytes) -> tuple[int, int, int, int, memoryview]:
    """(payload_type, sequence, timestamp, ssrc, payload) of one RTP packet."""
    if len(data) < 12:
        raise RtpError("packet shorter than an RTP header")
    b0, b1, seq, ts, ssrc = _HDR.unpack_from(data)
    if b0 >> 6 != 2:
        raise RtpError("not RTP version 2")
    off = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension
        if len(data) < off + 4:
            raise RtpError("truncated header extension")
        off += 4 + 4 * struct.unpack_from("!H", data, off + 2)[0]
    end = len(data)
    if b0 & 0x20:  # padding
        end -= data[-1]
    if end < off:
        raise RtpError("truncated packet")
    return b1 & 0x7F, seq, ts, ssrc, memoryview(data)[off:end]


def decode_pcm(payload: bytes, fmt: RtpFormat) -> np.ndarray:
    """Big-endian interleaved PCM -> float32 (channels, samples) in [-1, 1)."""
    width = ENCODINGS[fmt.encoding]
    n = len(payload) // fmt.frame_bytes
    raw = np.frombuffer(payload, dtype=np.uint8, count=n * fmt.frame_bytes)
    if width == 2:
        v = raw.view(">i2").astype(np.float32) * (1.0 / 32768.0)
    else:
        b = raw.reshape(-1, 3).astype(np.int32)
        v = ((b[:, 0] << 24) | (b[:, 1] << 16) | (b[:, 2] << 8)) >> 8
        v = v.astype(np.float32) * (1.0 / 8388608.0)
    return v.reshape(n, fmt.channels).T


def encode_pcm(samples: np.ndarray, fmt: RtpFormat) -> bytes:
    """float (channels, samples) -> big-endian interleaved PCM (clipped to full scale)."""
    x = np.clip(np.asarray(samples, dtype=np.float64).T, -1.0, 1.0)
    if fmt.encoding == "L16":
        return np.clip(np.round(x * 32768), -32768, 32767).astype(">i2").tobytes()
    v = np.clip(np.round(x * 8388608), -8388608, 8388607).astype(np.int32).reshape(-1)
    b = np.empty((v.size, 3), dtype=np.uint8)
    b[:, 0] = (v >> 16) & 0xFF
    b[:, 1] = (v >> 8) & 0xFF
    b[:, 2] = v & 0xFF
    return b.tobytes()


def parse_sdp(text: str) -> tuple[str, int, RtpFormat]:
    """(address, port, format) of the first L16/L24 audio stream of an SDP description."""
    address, port, pt, fmt = "0.0.0.0", None, None, None
    session_addr = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("c=") and len(line.split()) >= 3:
            addr = line.split()[2].split("/")[0]
            if port is None:
                session_addr = addr
            else:
                address = addr
        elif line.startswith("m=audio") and port is None:
            f = line.split()
            if len(f) < 4:
                raise RtpError(f"bad media line: {line!r}")
            port, pt = int(f[1]), int(f[3])
        elif line.startswith("a=rtpmap:") and pt is not None and fmt is None:
            num, _, enc = line[len("a=rtpmap:"):].partition(" ")
            if int(num) != pt:
                continue
            bits = enc.split("/")
            if bits[0].upper() not in ENCODINGS:
                raise RtpError(f"SDP stream is {bits[0]}, only L16/L24 are supported")
            fmt = RtpFormat(channels=int(bits[2]) if len(bits) > 2 else 1, rate=int(bits[1]),
                            encoding=bits[0].upper(), payload_type=pt)
    if port is None or fmt is None:
        raise RtpError("SDP has no m=audio line with an L16/L24 a=rtpmap")
    if address == "0.0.0.0" and session_addr:
        address = session_addr
    return address, port, fmt


def make_sdp(address: str, port: int, fmt: RtpFormat, name: str = "courtroom") -> str:
    pt = fmt.payload_type or 96
    return (f"v=0\r\no=- 0 0 IN IP4 {address}\r\ns={name}\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {fmt.encoding}/{fmt.rate}/"
            f"{fmt.channels}\r\na=ptime:1\r\n")


def load_sdp(path: str | Path) -> tuple[str, int, RtpFormat]:
    try:
        return parse_sdp(Path(path).read_text(encoding="utf-8", errors="replace"))
    except OSError as e:
        raise RtpError(f"cannot read SDP file {path}: {e}") from None


def open_receiver(address: str, port: int, timeout_s: float) -> socket.socket:
    """A UDP socket bound to port; joins the group when address is multicast."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    ip = ipaddress.ip_address(socket.gethostbyname(address))
    if ip.is_multicast:
        sock.bind(("", port))
        mreq = struct.pack("4s4s", ip.packed, socket.inet_aton("0.0.0.0"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    else:
        sock.bind((str(ip), port))
    sock.settimeout(timeout_s)
    return sock


class RtpReceiver:
    """Collects packets of one stream into blocks of decoded audio.

    Lost packets (a forward jump of the RTP timestamp up to ``max_fill_ms``) are filled with
    silence so the channel keeps its time; a longer jump, a new SSRC or a backwards timestamp
    ends the block early and is reported through ``discontinuities`` so the capture re-anchors
    on the hearing clock. Late and duplicate packets are dropped."""

    def __init__(self, sock: socket.socket, fmt: RtpFormat, max_fill_ms: int = 200) -> None:
        self.sock, self.fmt = sock, fmt
        self.max_fill = fmt.rate * max_fill_ms // 1000
        self.next_ts: int | None = None
        self.ssrc: int | None = None
        self.discontinuities = 0
        self.filled_samples = 0
        self.bad_packets = 0
        self._carry: tuple[int, bytes] | None = None  # a packet that starts the next block

    def read_block(self, block_samples: int, deadline: float) -> tuple[np.ndarray, bool]:
        """(audio (channels, n), continuous): n may be 0 when nothing arrived before deadline;
        continuous is False when this block does not follow the previous one in time."""
        parts: list[bytes] = []
        have = 0
        fb = self.fmt.frame_bytes
        continuous = True
        if self._carry is not None:
            ts, data = self._carry
            self._carry = None
            parts.append(data)
            have += len(data) // fb
            self.next_ts = (ts + len(data) // fb) & 0xFFFFFFFF
            continuous = False
        while have < block_samples and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            try:
                pt, _seq, ts, ssrc, payload = parse_packet(data)
            except RtpError:
                self.bad_packets += 1
                continue
            if self.fmt.payload_type is not None and pt != self.fmt.payload_type:
                continue
            n = len(payload) // fb
            if n == 0:
                continue
            payload = bytes(payload[: n * fb])
            if self.ssrc is None or ssrc != self.ssrc:
                new_stream = self.ssrc is not None
                self.ssrc, self.next_ts = ssrc, ts
                if new_stream:
                    self.discontinuities += 1
                    if parts:
                        self._carry = (ts, payload)
                        break
                    continuous = False
            assert self.next_ts is not None
            delta = (ts - self.next_ts) & 0xFFFFFFFF
            if delta >= 0x80000000:  # earlier than expected: late or duplicate
                continue
            if delta > 0:
                if delta <= self.max_fill:
                    parts.append(bytes(delta * fb))
                    have += delta
                    self.filled_samples += delta
                else:
                    self.discontinuities += 1
                    self.next_ts = (ts + n) & 0xFFFFFFFF
                    if parts:
                        self._carry = (ts, payload)
                        break
                    continuous = False
                    parts.append(payload)
                    have += n
                    continue
            parts.append(payload)
            have += n
            self.next_ts = (ts + n) & 0xFFFFFFFF
        if not parts:
            return np.zeros((self.fmt.channels, 0), dtype=np.float32), True
        return decode_pcm(b"".join(parts), self.fmt), continuous


class RtpSender:
    """Sends multi-channel audio as an RTP stream at real-time pace (tests, demos, the
    simulator feeding a receiver on loopback)."""

    def __init__(self, address: str, port: int, fmt: RtpFormat, ptime_ms: float = 1.0,
                 ssrc: int = 0x5EA7C0DE, ttl: int = 1) -> None:
        self.fmt, self.dest = fmt, (address, port)
        self.samples_per_packet = max(1, int(fmt.rate * ptime_ms / 1000))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        self.seq, self.ts, self.ssrc = 0, 0, ssrc
        self.pt = fmt.payload_type or 96

    def packets(self, samples: np.ndarray) -> list[bytes]:
        out = []
        spp = self.samples_per_packet
        for i in range(0, samples.shape[1], spp):
            block = samples[:, i:i + spp]
            out.append(_HDR.pack(0x80, self.pt, self.seq & 0xFFFF, self.ts & 0xFFFFFFFF,
                                 self.ssrc) + encode_pcm(block, self.fmt))
            self.seq += 1
            self.ts += block.shape[1]
        return out

    def send(self, samples: np.ndarray, paced: bool = True, stop=None) -> None:
        """Send (channels, n) float audio; paced sends at the sample rate's real time."""
        t0 = time.monotonic()
        sent = 0
        for pkt in self.packets(np.asarray(samples)):
            if stop is not None and stop.is_set():
                return
            self.sock.sendto(pkt, self.dest)
            sent += self.samples_per_packet
            if paced:
                ahead = t0 + sent / self.fmt.rate - time.monotonic()
                if ahead > 0.002:
                    time.sleep(ahead)

    def skip(self, samples: int) -> None:
        """Advance the timestamp as if samples had been sent (a lost stretch)."""
        self.ts += samples
        self.seq += max(1, samples // self.samples_per_packet)

    def close(self) -> None:
        self.sock.close()
