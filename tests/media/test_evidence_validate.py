"""Validation of evidence files: real media made with PyAV is accepted in every container we
expect from phones and browsers; everything that is not audio/video, or is cut short, damaged
or absurd, is refused with a message that says why."""

import os
import sys
import zipfile
from fractions import Fraction

import av
import numpy as np
import pytest

from media.evidence import EvidenceRejected, ValidationLimits, probe, validate_file
from support.media_samples import RECIPES, make_image, make_media

AUDIO = ["wav", "ogg-opus", "mp3", "m4a-aac", "flac"]
VIDEO = ["mp4-h264", "mp4-h264-silent", "webm-vp8", "mov-h264", "mov-hevc", "mkv-mjpeg"]


@pytest.mark.parametrize("recipe", AUDIO + VIDEO)
def test_real_media_is_accepted_with_its_facts(tmp_path, recipe):
    path = make_media(tmp_path / f"clip{RECIPES[recipe].suffix}", recipe, seconds=1.0)
    info = validate_file(path)
    assert info.kind == ("video" if recipe in VIDEO else "audio")
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.has_audio == (RECIPES[recipe].audio_codec is not None)
    if info.kind == "video":
        assert (info.width, info.height) == (160, 120)
    assert not info.is_document


@pytest.mark.parametrize("codec", ["png", "jpeg"])
def test_photo_is_accepted_as_a_document(tmp_path, codec):
    path = make_image(tmp_path / f"photo.{codec}", codec, 320, 240)
    info = validate_file(path)
    assert info.kind == "image" and info.is_document
    assert (info.width, info.height) == (320, 240)
    assert info.to_json()["is_document"] is True


def _reject(path, kind=None):
    with pytest.raises(EvidenceRejected) as e:
        validate_file(path)
    if kind:
        assert e.value.details["kind"] == kind, e.value.message
    assert e.value.http_status == 422
    return e.value.message


def test_non_media_is_refused_by_content_not_by_name(tmp_path):
    z = tmp_path / "video.mp4"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("a.txt", "hello")
    assert "ZIP" in _reject(z, "archive")

    elf = tmp_path / "clip.mp4"
    elf.write_bytes(open(sys.executable, "rb").read(65536))
    assert "executable" in _reject(elf, "executable")

    html = tmp_path / "incident.mp4"
    html.write_text("<!DOCTYPE html>\n<html><body><video src=x></video></body></html>")
    assert "HTML" in _reject(html, "text")

    text = tmp_path / "call.m4a"
    text.write_text("Протокол судебного заседания\n" * 20)
    assert "text" in _reject(text, "text")

    pdf = tmp_path / "scan.mp4"
    pdf.write_bytes(b"%PDF-1.7\n" + os.urandom(500))
    assert "PDF" in _reject(pdf, "document")

    noise = tmp_path / "noise.webm"
    noise.write_bytes(b"\x00\x01" + os.urandom(4000))
    _reject(noise, "unknown")

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty" in _reject(empty, "empty")


def test_playlist_that_would_open_other_files_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    m3u8 = tmp_path / "evil.mp4"
    m3u8.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{secret}\n#EXT-X-ENDLIST\n")
    _reject(m3u8, "text")


@pytest.mark.parametrize("recipe,options", [
    ("mp4-h264", None),  # index (moov) at the end: cut off with the tail
    ("mp4-h264", {"movflags": "+faststart"}),  # index first: media data short
    ("webm-vp8", None), ("ogg-opus", None), ("wav", None), ("m4a-aac", None),
    ("mkv-mjpeg", None), ("flac", None),
])
def test_truncated_files_are_refused(tmp_path, recipe, options):
    whole = make_media(tmp_path / f"whole{RECIPES[recipe].suffix}", recipe, seconds=3.0,
                       options=options)
    validate_file(whole)
    cut = tmp_path / f"cut{RECIPES[recipe].suffix}"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    msg = _reject(cut)
    assert "truncated" in msg or "damaged" in msg


def test_garbage_behind_a_valid_header_is_refused(tmp_path):
    whole = make_media(tmp_path / "a.mp4", "mp4-h264-silent", seconds=2.0,
                       options={"movflags": "+faststart"})
    data = whole.read_bytes()
    at = data.index(b"mdat") + 8
    bad = tmp_path / "b.mp4"
    bad.write_bytes(data[:at] + os.urandom(len(data) - at))
    assert "damaged" in _reject(bad, "corrupt")


def test_absurd_dimensions_are_refused(tmp_path):
    tall = make_media(tmp_path / "tall.mkv", "mkv-mjpeg", seconds=0.2, width=16, height=10000)
    assert "16x10000" in _reject(tall, "absurd_dimensions")


def test_absurd_dimensions_in_a_crafted_photo_header_are_refused(tmp_path):
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    png = tmp_path / "huge.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                    + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    _reject(png)


def test_absurd_duration_is_refused(tmp_path):
    path = tmp_path / "jump.mka"
    with av.open(str(path), "w", format="matroska") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        s.layout = "mono"
        for pts in (0, 8000 * 3600 * 30):  # a second packet stamped 30 hours later
            f = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
            f.sample_rate, f.pts, f.time_base = 8000, pts, Fraction(1, 8000)
            out.mux(s.encode(f))
        out.mux(s.encode())
    assert "hours" in _reject(path, "absurd_duration")
    # the same file is fine for a court that allows longer evidence
    validate_file(path, ValidationLimits(max_duration_s=40 * 3600))


def test_probe_reads_header_facts_without_judging(tmp_path):
    path = make_media(tmp_path / "v.webm", "webm-vp8", seconds=1.0)
    info = probe(path)
    assert info.container == "matroska" and info.label == "WebM/Matroska"
    assert [s.codec for s in info.streams] == ["vp8", "opus"]


def test_container_metadata_is_kept_as_data(tmp_path):
    from media.evidence import MediaInfo
    path = tmp_path / "call.mov"
    with av.open(str(path), "w", format="mov") as out:
        out.metadata["creation_time"] = "2026-11-20T10:00:00Z"
        out.metadata["title"] = "../../etc/passwd"
        s = out.add_stream("pcm_s16le", rate=8000)
        s.layout = "mono"
        f = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        f.sample_rate, f.pts = 8000, 0
        out.mux(s.encode(f))
        out.mux(s.encode())
    info = validate_file(path)
    assert info.tags["creation_time"].startswith("2026-11-20T10:00:00")
    assert info.tags["title"] == "../../etc/passwd"
    assert MediaInfo.from_json(info.to_json()) == info
