"""WebRTC configuration: ICE servers (STUN, TURN with short-lived REST credentials), the
addresses ICE binds to, UDP buffer size, and the limits and windows of a hearing's media.

TURN credentials follow the TURN REST API draft (draft-uberti-behave-turn-rest-00), as coturn's
``use-auth-secret`` implements it: username ``"<expiry unix time>:<user>"``, password
``base64(HMAC-SHA1(shared secret, username))``. A phone gets credentials that stop working after
``turn_ttl_s``, so a leaked invite page cannot be used as a free relay for long."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer


def turn_rest_credentials(secret: str, user: str, ttl_s: int, now: float | None = None) -> tuple[str, str]:
    """(username, password) valid until now + ttl_s for a TURN server sharing ``secret``."""
    if ":" in user:
        raise ValueError("TURN REST user must not contain ':'")
    expiry = int(now if now is not None else time.time()) + int(ttl_s)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


@dataclass
class RtcOptions:
    """Media options of a hearing. Defaults suit one server on 127.0.0.1 with no NAT."""

    stun_urls: list[str] = field(default_factory=list)
    """e.g. ["stun:stun.example.org:3478"]. Empty: host candidates only (LAN / loopback)."""
    turn_urls: list[str] = field(default_factory=list)
    """e.g. ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"]."""
    turn_secret: str | None = None
    """Shared secret of the TURN server (coturn ``static-auth-secret``)."""
    turn_ttl_s: int = 3600
    """Lifetime of the TURN credentials handed to a participant."""
    bind_addresses: list[str] | None = None
    """Addresses ICE gathers host candidates on; None = every non-loopback interface (aioice's
    default). ["127.0.0.1"] keeps tests and benchmarks on loopback."""
    port_range: tuple[int, int] | None = None
    """UDP ports ICE host candidates bind to, e.g. (40000, 40999); None = any free port."""
    udp_rcvbuf_bytes: int = 4 << 20
    """SO_RCVBUF asked for each media socket; the kernel caps it at net.core.rmem_max (the
    effective size is reported in the ``rtc.udp_buffer`` event). aioice asks for 256 KiB, which
    drops video packets when several 640x360 streams arrive in one burst."""
    max_message_bytes: int = 64 * 1024
    """Largest SDP / signalling message accepted; larger ones get an error reply."""
    reconnect_window_s: float = 60.0
    """A participant whose connection drops keeps their seat (source id, recording, slots at the
    others) for this long; after it they are removed as if ejected (without revoking the invite)."""
    ice_failed_grace_s: float = 5.0
    """A peer connection in state ``failed`` (or ``disconnected`` that long) is closed and the
    participant treated as dropped."""
    recording_chunk_ms: int = 2000
    """Length of a recording chunk; a SIGKILL loses at most about this much audio."""
    tap_queue_chunks: int = 250
    """Bound of the queue towards the transcriber, in 100 ms chunks (25 s). When full the oldest
    chunk is dropped and counted: the transcriber lags, forwarding and recording never wait."""
    tap_chunk_ms: int = 100
    """Size of the AudioChunks the tap emits."""
    forward_queue_frames: int = 64
    """Frames buffered per forwarded track; a receiver that cannot keep up loses the oldest
    (video then waits for the next keyframe), the sender is never slowed."""
    keyframe_interval_s: float = 0.5
    """Minimum interval between keyframe requests forwarded to one sender."""

    def rtc_configuration(self, user: str = "server") -> RTCConfiguration:
        """The aiortc configuration of the server's peer connections."""
        return RTCConfiguration(iceServers=[RTCIceServer(**s) for s in self.ice_servers(user)])

    def ice_servers(self, user: str) -> list[dict]:
        """The ``iceServers`` list for a client's RTCPeerConnection (JSON-ready), with fresh
        TURN credentials for ``user``. Always a list: aiortc falls back to a public Google STUN
        server when given None, which a court server must not contact."""
        servers: list[dict] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            if not self.turn_secret:
                raise ValueError("turn_urls need turn_secret")
            username, credential = turn_rest_credentials(self.turn_secret, user, self.turn_ttl_s)
            servers.append({"urls": list(self.turn_urls), "username": username, "credential": credential})
        return servers


_original_get_host_addresses = aioice.ice.get_host_addresses


def apply_bind_addresses(addresses: list[str] | None) -> None:
    """Make ICE gather host candidates only on ``addresses`` (process-wide: aioice has no
    per-connection setting). None restores aioice's default (every non-loopback interface)."""
    if addresses is None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    fixed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
