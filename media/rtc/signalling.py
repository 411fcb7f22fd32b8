"""Checks on what a participant's browser sends before any of it reaches aiortc, so that a
malformed message gets a clear error reply and changes nothing (the participant stays
connected with the session they had).

Messages (JSON objects over the hearing WebSocket; the hearing server adds authentication).
The server always offers, the client always answers::

    client -> server  {"type": "join"}                           join, or rejoin on a new
                                                                 RTCPeerConnection after a drop
    client -> server  {"type": "receive", "video": false|true}   audio only for this receiver
                                                                 (kept across reconnects);
                                                                 true resumes from a fresh
                                                                 keyframe
    client -> server  {"type": "listen", "channel": "floor"}     everyone but the interpreters
                                                                 ("all", the default: everyone)
    client -> server  {"type": "listen", "channel": "interpretation", "language": "kk"}
                                                                 the interpreters into kk; the
                                                                 floor's audio paused while one
                                                                 is connected (kept across
                                                                 reconnects; Room.set_listen)
    server -> client  {"type": "tracks", "tracks": [{"mid": "2", "kind": "audio",
                       "source_id": "p-17"}, ...]}               which slot carries whom (sent
                                                                 before each offer and whenever
                                                                 a slot changes hands)
    server -> client  {"type": "offer", "sdp": "..."}            first offer: m-sections 0 and 1
                                                                 are the client's own audio and
                                                                 video (attach with addTrack
                                                                 after setRemoteDescription),
                                                                 the rest are slots; later
                                                                 offers add slots
    client -> server  {"type": "answer", "sdp": "..."}
    client -> server  {"type": "candidate", "candidate": "candidate:...", "sdpMid": "0",
                       "sdpMLineIndex": 0}                       trickle ICE (null: end)
    server -> client  {"type": "error", "error": "...", "in_reply_to": "answer"}
    server -> client  {"type": "closed", "reason": "ejected" | "hearing closed" | ...}

The server's own ICE candidates are inside its SDP (aiortc gathers before answering)."""

from __future__ import annotations

from aiortc import RTCIceCandidate
from aiortc.sdp import SessionDescription, candidate_from_sdp


class SignallingError(ValueError):
    """Bad input from a client: reply with ``str(err)``, keep the session as it was."""


def check_size(text: object, max_bytes: int, what: str) -> str:
    if not isinstance(text, str):
        raise SignallingError(f"{what} must be a string")
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise SignallingError(f"{what} larger than {max_bytes} bytes")
    return text


def check_sdp(sdp: object, max_bytes: int, kind: str) -> str:
    """A parseable SDP with at least one audio/video section, each with ICE and DTLS
    parameters; returns it as given."""
    text = check_size(sdp, max_bytes, f"{kind} SDP")
    if not text.startswith("v=0"):
        raise SignallingError(f"{kind} SDP must start with v=0")
    try:
        parsed = SessionDescription.parse(text)
    except Exception as exc:  # aiortc raises assorted errors on garbage
        raise SignallingError(f"{kind} SDP does not parse: {exc}") from None
    media = [m for m in parsed.media if m.kind in ("audio", "video")]
    if not media:
        raise SignallingError(f"{kind} SDP has no audio or video section")
    for m in media:
        if m.ice is None or not m.ice.usernameFragment or not m.ice.password:
            raise SignallingError(f"{kind} SDP section {m.rtp.muxId} lacks ICE credentials")
        if m.dtls is None or not m.dtls.fingerprints:
            raise SignallingError(f"{kind} SDP section {m.rtp.muxId} lacks a DTLS fingerprint")
    return text


def parse_candidate(message: dict) -> RTCIceCandidate | None:
    """The candidate of a ``{"type": "candidate"}`` message; None means end of candidates."""
    text = message.get("candidate")
    if text is None or text == "":
        return None
    text = check_size(text, 1024, "candidate")
    if text.startswith("candidate:"):
        text = text[len("candidate:"):]
    try:
        candidate = candidate_from_sdp(text)
    except Exception as exc:
        raise SignallingError(f"candidate does not parse: {exc}") from None
    mid, index = message.get("sdpMid"), message.get("sdpMLineIndex")
    if mid is None and index is None:
        raise SignallingError("candidate needs sdpMid or sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise SignallingError("sdpMid must be a string")
    if index is not None and not isinstance(index, int):
        raise SignallingError("sdpMLineIndex must be an integer")
    candidate.sdpMid, candidate.sdpMLineIndex = mid, index
    return candidate
