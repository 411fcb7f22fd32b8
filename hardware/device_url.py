"""Device URLs: one string names any courtroom audio source, so a seat map or a config line can
switch between a real interface, network audio and a replayed file without code changes.

========================================  ==============================================
``hw:1`` ``hw:1,0`` ``plughw:1`` ``alsa:NAME``  ALSA capture device (``?channels=8&rate=48000``)
``pulse:NAME`` ``pipewire:NAME``          PulseAudio / PipeWire source (``pulse:default``)
``rtp://HOST:PORT?channels=8&rate=48000&encoding=L24``  AES67-style RTP (L16/L24), multicast
                                          joined when HOST is a group address
``sdp:/path/stream.sdp``                  RTP stream described by an SDP file (AES67 style)
``file:/path/courtroom.wav?speed=1``      multi-channel WAV/FLAC replayed at real-time pace;
                                          ``speed=4`` four times faster, ``speed=0`` unpaced
``lavfi:GRAPH``                           FFmpeg lavfi test source, e.g. ``lavfi:sine=f=440``
========================================  ==============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit


class DeviceUrlError(ValueError):
    """The device URL cannot be understood; the message lists the accepted forms."""


KINDS = ("alsa", "pulse", "rtp", "sdp", "file", "lavfi")
_HELP = ("use hw:N, alsa:NAME, pulse:NAME, pipewire:NAME, rtp://HOST:PORT?channels=N&rate=R"
         "&encoding=L16|L24, sdp:PATH, file:PATH[?speed=S] or lavfi:GRAPH")
_ALSA_BARE = re.compile(r"^(plug)?hw:[^?]+$|^(default|dsnoop|sysdefault)(:[^?]*)?$")


@dataclass(frozen=True)
class DeviceSpec:
    kind: str  # one of KINDS
    target: str  # what the backend opens: ALSA name, file path, "host:port", lavfi graph
    params: dict[str, str] = field(default_factory=dict)
    url: str = ""

    def int_param(self, name: str, default: int | None = None) -> int | None:
        v = self.params.get(name)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise DeviceUrlError(f"{self.url}: {name}={v!r} is not a whole number") from None

    def float_param(self, name: str, default: float) -> float:
        v = self.params.get(name)
        if v is None:
            return default
        try:
            return float(v)
        except ValueError:
            raise DeviceUrlError(f"{self.url}: {name}={v!r} is not a number") from None


def _split_query(rest: str) -> tuple[str, dict[str, str]]:
    if "?" not in rest:
        return rest, {}
    target, query = rest.split("?", 1)
    return target, dict(parse_qsl(query, keep_blank_values=True))


def parse_device_url(url: str) -> DeviceSpec:
    if not isinstance(url, str) or not url.strip():
        raise DeviceUrlError(f"empty device URL; {_HELP}")
    url = url.strip()
    base = url.split("?", 1)[0]
    if _ALSA_BARE.match(base):
        target, params = _split_query(url)
        return DeviceSpec("alsa", target, params, url)
    scheme, sep, rest = url.partition(":")
    if not sep:
        raise DeviceUrlError(f"{url!r} has no scheme; {_HELP}")
    scheme = scheme.lower()
    if scheme == "alsa":
        target, params = _split_query(rest)
        return DeviceSpec("alsa", target or "default", params, url)
    if scheme in ("pulse", "pipewire"):
        target, params = _split_query(rest)
        return DeviceSpec("pulse", target or "default", params, url)
    if scheme == "lavfi":
        if not rest:
            raise DeviceUrlError(f"{url!r}: lavfi needs a filter graph, e.g. lavfi:sine=f=440")
        return DeviceSpec("lavfi", rest, {}, url)
    if scheme == "file":
        target, params = _split_query(rest)
        if target.startswith("//"):
            target = target[2:]
        if not target:
            raise DeviceUrlError(f"{url!r}: file: needs a path")
        return DeviceSpec("file", target, params, url)
    if scheme == "sdp":
        target, params = _split_query(rest)
        if not target:
            raise DeviceUrlError(f"{url!r}: sdp: needs the path of an SDP file")
        return DeviceSpec("sdp", target, params, url)
    if scheme == "rtp":
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or not port:
            raise DeviceUrlError(f"{url!r}: rtp needs rtp://HOST:PORT (HOST 0.0.0.0 for unicast)")
        return DeviceSpec("rtp", f"{parts.hostname}:{port}", dict(parse_qsl(parts.query)), url)
    raise DeviceUrlError(f"{url!r}: unknown device scheme {scheme!r}; {_HELP}")
