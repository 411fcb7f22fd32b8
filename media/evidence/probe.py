"""Facts about a media file, read with PyAV: container, streams, codecs, dimensions, duration.

Opening always forces the demuxer chosen by ``sniff`` and allows only the ``file`` protocol,
so nothing inside an upload can make FFmpeg open another file or a URL."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .sniff import HEAD_BYTES, Sniffed, sniff

OPEN_OPTIONS = {"protocol_whitelist": "file", "probesize": str(32 << 20)}


@dataclass(frozen=True)
class StreamInfo:
    index: int
    type: str  # "audio" | "video" | "subtitle" | "data" | "attachment"
    codec: str
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    pix_fmt: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None
    cover_art: bool = False  # a still picture attached to an audio file, not a video


@dataclass(frozen=True)
class MediaInfo:
    """What the evidence is. ``kind``: "audio", "video" (possibly with sound) or "image" (a photo,
    accepted as a document and labelled so)."""
    kind: str
    label: str  # container as recognised from its bytes, e.g. "MP4/QuickTime"
    container: str  # FFmpeg demuxer name
    duration_s: float | None
    has_audio: bool
    has_video: bool
    width: int | None
    height: int | None
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)
    # The container's own tags (creation time, phone make and model, location...): kept as
    # data for the custody record, never trusted and never used as a path.
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_document(self) -> bool:
        return self.kind == "image"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["streams"] = [asdict(s) for s in self.streams]
        d["is_document"] = self.is_document
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "MediaInfo":
        names = cls.__dataclass_fields__  # notes kept beside the facts are not facts
        d = {k: v for k, v in d.items() if k in names}
        d["streams"] = tuple(StreamInfo(**s) for s in d.get("streams", ()))
        return cls(**d)


def read_head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(HEAD_BYTES)


def open_container(path: Path, sniffed: Sniffed | None = None) -> av.container.InputContainer:
    sniffed = sniffed or sniff(read_head(path))
    return av.open(str(path), mode="r", format=sniffed.demuxer, options=dict(OPEN_OPTIONS))


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _is_cover_art(stream: av.stream.Stream) -> bool:
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def stream_info(stream: av.stream.Stream) -> StreamInfo:
    cc = stream.codec_context
    common = dict(index=stream.index, type=stream.type,
                  codec=cc.name if cc is not None else "unknown",
                  duration_s=_seconds(stream.duration, stream.time_base),
                  bit_rate=getattr(cc, "bit_rate", None) or None)
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        return StreamInfo(**common, width=cc.width or None, height=cc.height or None,
                          fps=float(rate) if rate else None,
                          pix_fmt=cc.format.name if cc.format is not None else None,
                          cover_art=_is_cover_art(stream))
    if stream.type == "audio":
        return StreamInfo(**common, sample_rate=cc.sample_rate or None,
                          channels=cc.channels or None)
    return StreamInfo(**common)


MAX_TAGS, MAX_TAG_LEN = 64, 512


def _tags(container: av.container.InputContainer) -> dict[str, str]:
    tags: dict[str, str] = {}
    sources = [("", container.metadata)] + [(f"stream{s.index}.", s.metadata)
                                           for s in container.streams]
    for prefix, meta in sources:
        for k, v in (meta or {}).items():
            if len(tags) >= MAX_TAGS:
                return tags
            tags[(prefix + str(k))[:MAX_TAG_LEN]] = str(v)[:MAX_TAG_LEN]
    return tags


def describe(container: av.container.InputContainer, sniffed: Sniffed) -> MediaInfo:
    streams = tuple(stream_info(s) for s in container.streams)
    video = [s for s in streams if s.type == "video" and not s.cover_art]
    audio = [s for s in streams if s.type == "audio"]
    duration = container.duration / av.time_base if container.duration else None
    if duration is None:
        known = [s.duration_s for s in streams if s.duration_s]
        duration = max(known) if known else None
    if sniffed.image:
        kind = "image"
    elif video:
        kind = "video"
    else:
        kind = "audio"
    first = video[0] if video else None
    return MediaInfo(kind=kind, label=sniffed.label, container=sniffed.demuxer,
                     duration_s=None if kind == "image" else duration,
                     has_audio=bool(audio), has_video=bool(video) and kind != "image",
                     width=first.width if first else None, height=first.height if first else None,
                     streams=streams, tags=_tags(container))


def probe(path: Path) -> MediaInfo:
    """Header facts only (fast; does not read the whole file). ``validate_file`` is the check
    that a file is whole and decodable."""
    sniffed = sniff(read_head(path))
    with open_container(path, sniffed) as c:
        return describe(c, sniffed)
