"""Small real media files made with PyAV (a sine tone, moving test-pattern frames), so the
tests and ``bench/`` make their evidence inputs the same way instead of committing binary
files."""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Recipe:
    suffix: str
    format: str  # FFmpeg muxer
    audio_codec: str | None
    video_codec: str | None = None
    sample_rate: int = 48_000
    pix_fmt: str = "yuv420p"


RECIPES: dict[str, Recipe] = {
    "wav": Recipe(".wav", "wav", "pcm_s16le", sample_rate=16_000),
    "ogg-opus": Recipe(".ogg", "ogg", "libopus"),
    "mp3": Recipe(".mp3", "mp3", "libmp3lame", sample_rate=44_100),
    "m4a-aac": Recipe(".m4a", "ipod", "aac", sample_rate=44_100),
    "flac": Recipe(".flac", "flac", "flac"),
    "mp4-h264": Recipe(".mp4", "mp4", "aac", "libx264"),
    "mp4-h264-silent": Recipe(".mp4", "mp4", None, "libx264"),
    "webm-vp8": Recipe(".webm", "webm", "libopus", "libvpx"),
    "mov-h264": Recipe(".mov", "mov", "aac", "libx264"),
    "mov-hevc": Recipe(".mov", "mov", "aac", "libx265"),  # what an iPhone records
    "mkv-mjpeg": Recipe(".mkv", "matroska", "pcm_s16le", "mjpeg", pix_fmt="yuvj420p"),
}


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def pattern_frame(width: int, height: int, i: int) -> np.ndarray:
    """RGB frame: colour bars that scroll with ``i`` plus a moving white square."""
    x = (np.arange(width)[None, :] + 4 * i) % width
    bars = (x * 8 // max(width, 1)).astype(np.uint8)
    palette = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
                        [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]], np.uint8)
    img = np.repeat(palette[bars], height, axis=0)
    s = max(4, min(width, height) // 6)
    ox, oy = (7 * i) % max(1, width - s), (5 * i) % max(1, height - s)
    img[oy:oy + s, ox:ox + s] = 255
    return np.ascontiguousarray(img)


def make_media(path: Path, recipe: str | Recipe, seconds: float = 1.0, width: int = 160,
               height: int = 120, fps: int = 15, options: dict[str, str] | None = None) -> Path:
    r = RECIPES[recipe] if isinstance(recipe, str) else recipe
    path = Path(path)
    with av.open(str(path), "w", format=r.format, options=options or {}) as out:
        vs = as_ = None
        if r.video_codec:
            vs = out.add_stream(r.video_codec, rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, r.pix_fmt
            if r.video_codec == "libx264":
                vs.options = {"preset": "ultrafast"}
            elif r.video_codec == "libx265":
                vs.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
            elif r.video_codec == "libvpx":
                vs.options = {"deadline": "realtime", "cpu-used": "8"}
        if r.audio_codec:
            as_ = out.add_stream(r.audio_codec, rate=r.sample_rate)
            as_.layout = "mono"
        if vs is not None:
            for i in range(int(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(pattern_frame(width, height, i), format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                out.mux(vs.encode(frame))
            out.mux(vs.encode())
        if as_ is not None:
            samples = tone(seconds, r.sample_rate)
            step = 1024
            fmt = "s16" if r.audio_codec.startswith("pcm") else as_.codec_context.format.name
            for start in range(0, len(samples), step):
                block = samples[start:start + step]
                if fmt.startswith("s16"):
                    arr = (block * 32767).astype(np.int16)[None, :]
                    frame = av.AudioFrame.from_ndarray(arr, format="s16", layout="mono")
                else:
                    frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
                frame.sample_rate = r.sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, r.sample_rate)
                out.mux(as_.encode(frame))
            out.mux(as_.encode())
    return path


def make_image(path: Path, codec: str = "png", width: int = 320, height: int = 240) -> Path:
    """A still photo (PNG or JPEG) of the test pattern."""
    codec = {"jpeg": "mjpeg", "jpg": "mjpeg"}.get(codec, codec)
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height = width, height
    ctx.pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
    ctx.time_base = Fraction(1, 1)
    frame = av.VideoFrame.from_ndarray(pattern_frame(width, height, 3), format="rgb24")
    frame = frame.reformat(format=ctx.pix_fmt)
    data = b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))
    Path(path).write_bytes(data)
    return Path(path)


def wav_header(data_bytes: int, rate: int = 48_000, channels: int = 2, bits: int = 16) -> bytes:
    """A canonical 44-byte WAV header for ``data_bytes`` of PCM that follow it (for making very
    large valid files from random bytes without encoding anything)."""
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
            + b"data" + struct.pack("<I", data_bytes))


def _boxes(data: bytes, start: int, end: int):
    """(type, offset of the box, offset of its body, end) of the boxes between two offsets."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, pos, pos + 8, pos + size
        pos += size


def mp4_bomb(path: Path, samples: int = 80_000_000) -> Path:
    """A small real MP4 whose index then claims ``samples`` one-byte samples, all in one chunk:
    a few kilobytes that make FFmpeg's MOV demuxer build an index entry for each."""
    make_media(path, "mp4-h264-silent", seconds=0.2, width=64, height=48, fps=10)
    data = bytearray(path.read_bytes())

    def patch(start: int, end: int) -> None:
        for kind, _, body, box_end in _boxes(data, start, end):
            if kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
                patch(body, box_end)
            elif kind == b"stsz":  # constant size 1, ``samples`` of them
                data[body + 4:body + 12] = struct.pack(">II", 1, samples)
            elif kind == b"stts":  # one run: every sample one tick long
                data[body + 4:body + 16] = struct.pack(">III", 1, samples, 1)
            elif kind == b"stsc":  # one chunk holds them all
                data[body + 4:body + 20] = struct.pack(">IIII", 1, 1, samples, 1)
    patch(0, len(data))
    path.write_bytes(bytes(data))
    return path


def opus_packets(wav_path: Path) -> list[bytes]:
    """The clip encoded as WebRTC sends it: Opus, 20 ms packets, 48 kHz."""
    with wave.open(str(wav_path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        rate = w.getframerate()
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48_000, "stereo", "s16"
    frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48_000, frame_size=960)
    out = []
    for f in resampler.resample(frame) + resampler.resample(None):
        out += [bytes(p) for p in enc.encode(f)]
    out += [bytes(p) for p in enc.encode(None)]
    return out
