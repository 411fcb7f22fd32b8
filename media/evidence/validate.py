"""Is this file acceptable as audio/video evidence? Rejects, with a message a participant can
act on, what is not media (archives, programs, web pages renamed to .mp4), what is truncated or
damaged, and what claims absurd dimensions or durations. Photos pass, labelled as documents.

The check demuxes every packet (cheap: no decoding) so that a file cut short in transit is
caught even when its header looks whole, and decodes the first frames of each stream so that
garbage behind a valid header is caught too."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import av

from .boxes import check_mp4_index
from .errors import EvidenceRejected
from .probe import MediaInfo, describe, open_container, read_head
from .sniff import sniff


@dataclass(frozen=True)
class ValidationLimits:
    max_side_px: int = 8192  # 8K is 7680; anything wider is not a camera
    min_side_px: int = 8
    max_pixels: int = 8192 * 4320
    max_duration_s: float = 24 * 3600.0  # a whole day of recording
    max_channels: int = 32
    max_sample_rate: int = 384_000
    min_whole_ratio: float = 0.9  # demuxed duration / duration the header claims
    decode_packets: int = 64  # per stream, at most, to prove the codec data decodes


def _reject(message: str, kind: str) -> EvidenceRejected:
    return EvidenceRejected(message, kind=kind)


def _check_limits(info: MediaInfo, limits: ValidationLimits) -> None:
    for s in info.streams:
        if s.type == "video" and not s.cover_art:
            w, h = s.width or 0, s.height or 0
            if (w > limits.max_side_px or h > limits.max_side_px or w * h > limits.max_pixels
                    or w < limits.min_side_px or h < limits.min_side_px):
                what = f"The picture size {w}x{h} is not plausible" if w and h else \
                    "The picture size cannot be read"
                raise _reject(f"{what} (the file is damaged or crafted).", "absurd_dimensions")
        if s.type == "audio":
            if (s.channels or 0) > limits.max_channels or (s.sample_rate or 0) > limits.max_sample_rate:
                raise _reject(f"The sound format ({s.channels} channels at {s.sample_rate} Hz) "
                              f"is not plausible (the file is damaged or crafted).", "absurd_audio")
    d = info.duration_s
    if d is not None and d > limits.max_duration_s:
        raise _reject(f"The file claims to last {d / 3600:.1f} hours, more than the "
                      f"{limits.max_duration_s / 3600:.0f} allowed.", "absurd_duration")


def _tail_truncated(path: Path, demuxer: str, size: int) -> bool:
    """Containers whose end is not described by their header: WAV says how long its data chunk
    is, and a finished Ogg stream ends with an end-of-stream page."""
    with open(path, "rb") as f:
        if demuxer == "wav":
            pos = 12
            while pos + 8 <= min(size, 1 << 20):
                f.seek(pos)
                cid, clen = f.read(4), int.from_bytes(f.read(4), "little")
                if cid == b"data":
                    return clen not in (0, 0xFFFFFFFF) and pos + 8 + clen > size
                pos += 8 + clen + (clen & 1)
            return False
        if demuxer == "ogg":
            f.seek(max(0, size - 65_536))
            tail = f.read()
            last = tail.rfind(b"OggS")
            return last < 0 or len(tail) < last + 6 or not tail[last + 5] & 0x04
    return False


def _whole_pass(container: av.container.InputContainer, file_size: int, limits: ValidationLimits,
                ) -> tuple[float, dict[int, int]]:
    """Demux every packet; decode the first few of each stream. Returns the media end time
    actually present in the file and the frames decoded per stream."""
    wanted = [s for s in container.streams if s.type in ("audio", "video")]
    decoded = {s.index: 0 for s in wanted}
    tried = {s.index: 0 for s in wanted}
    end = 0.0
    for packet in container.demux(wanted):
        if packet.size == 0 and packet.pts is None:
            continue  # flush packet at end of stream
        if packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > file_size:
            raise _reject("The file is truncated: it ends before its media data does.",
                          "truncated")
        tb = packet.time_base
        if packet.pts is not None and tb is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * tb))
        i = packet.stream.index
        if decoded[i] == 0 and tried[i] < limits.decode_packets:
            tried[i] += 1
            try:
                decoded[i] += len(packet.decode())
            except av.error.FFmpegError:
                pass  # a damaged first packet is tolerated if a later one decodes
    for s in wanted:  # drain decoders that buffer (B-frames, codec delay)
        if decoded[s.index] == 0 and tried[s.index]:
            try:
                decoded[s.index] += len(s.codec_context.decode(None))
            except av.error.FFmpegError:
                pass
    return end, decoded


def validate_file(path: Path, limits: ValidationLimits = ValidationLimits()) -> MediaInfo:
    """Blocking (run it in an executor). Returns the facts of an acceptable file, or raises
    EvidenceRejected with a message for the submitter."""
    path = Path(path)
    size = os.stat(path).st_size
    if size == 0:
        raise _reject("The file is empty (0 bytes).", "empty")
    sniffed = sniff(read_head(path))
    if sniffed.demuxer == "mov":  # before FFmpeg builds an index entry per declared sample
        with open(path, "rb") as f:
            check_mp4_index(f, size)
    try:
        with open_container(path, sniffed) as c:
            info = describe(c, sniffed)
            if not info.has_audio and not info.has_video and info.kind != "image":
                raise _reject("The file holds no audio or video.", "no_media")
            _check_limits(info, limits)
            if info.kind == "image":
                c.streams.video[0].thread_type = "NONE"
                frames = 0
                for frame in c.decode(video=0):
                    frames += 1
                    break
                if not frames:
                    raise _reject("The picture cannot be decoded: the file is damaged.", "corrupt")
                return info
            end, decoded = _whole_pass(c, size, limits)
    except EvidenceRejected:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise _reject(f"The file is damaged or truncated ({sniffed.label}: "
                      f"{getattr(e, 'strerror', None) or e}).", "corrupt") from e
    if _tail_truncated(path, sniffed.demuxer, size):
        raise _reject("The file is truncated: it ends before its last block of media.",
                      "truncated")
    undecodable = [i for i, n in decoded.items() if n == 0]
    if undecodable:
        raise _reject("The file is damaged: its media data cannot be decoded.", "corrupt")
    claimed = info.duration_s
    if claimed and end < claimed * limits.min_whole_ratio - 0.5:
        raise _reject(f"The file is truncated: it holds {end:.1f} s of the {claimed:.1f} s its "
                      f"header announces.", "truncated")
    if end > limits.max_duration_s:
        raise _reject(f"The file's timestamps run to {end / 3600:.1f} hours, more than the "
                      f"{limits.max_duration_s / 3600:.0f} allowed.", "absurd_duration")
    if end <= 0:
        raise _reject("The file holds no audio or video frames.", "no_media")
    if claimed is None or claimed <= 0:
        info = replace(info, duration_s=end)
    return info
