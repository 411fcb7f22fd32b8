"""What the recorder needs to know about an Opus packet without decoding it (RFC 6716 3.1)."""

from __future__ import annotations

SILENCE_20MS = b"\xf8\xff\xfe"
"""A CELT-only 20 ms frame that decodes to silence (the packet WebRTC itself uses for DTX
comfort); fills gaps so that an offset in a finished recording maps linearly to the hearing clock."""

_FRAME_US = [10_000, 20_000, 40_000, 60_000] * 3 + [10_000, 20_000] * 2 + [2_500, 5_000, 10_000, 20_000] * 4


def packet_samples_48k(packet: bytes) -> int:
    """Duration of an Opus packet in 48 kHz samples; 960 (20 ms) when it cannot be parsed."""
    if not packet:
        return 960
    toc = packet[0]
    frame_us = _FRAME_US[toc >> 3]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        frames = (packet[1] & 0x3F) if len(packet) > 1 else 1
    samples = frame_us * frames * 48 // 1000
    return samples if 0 < samples <= 5760 else 960
