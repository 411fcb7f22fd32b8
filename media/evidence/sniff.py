"""Decide from the first bytes what a file is, before any demuxer sees it.

FFmpeg's own probing would pick any of its demuxers, including playlist and concat formats
that open further files or URLs named inside the upload; so the container is chosen here from
magic bytes, from a short allow-list, and the demuxer is then forced. The file name and the
client's content type are never trusted: an HTML page renamed to .mp4 is still HTML."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import EvidenceRejected

HEAD_BYTES = 4096


@dataclass(frozen=True)
class Sniffed:
    demuxer: str  # FFmpeg input format to force
    label: str  # what the bytes look like, for messages and the receipt
    image: bool = False


_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_MOV_ATOMS = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _is_mpeg_audio_sync(b: bytes) -> bool:
    return len(b) >= 2 and b[0] == 0xFF and (b[1] & 0xE0) == 0xE0


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a multi-byte character cut at the end is still text
            return False
    return True


def sniff(head: bytes) -> Sniffed:
    """Identify the container from its first bytes or raise EvidenceRejected with a message
    that says what the file appears to be instead."""
    if not head:
        raise EvidenceRejected("The file is empty (0 bytes).", kind="empty")
    h = head
    if h[4:8] in _MOV_ATOMS:
        if h[4:8] == b"ftyp" and h[8:12] in _IMAGE_BRANDS:
            return Sniffed("mov", f"HEIF/AVIF image ({h[8:12].decode('ascii', 'replace')})", image=True)
        return Sniffed("mov", "MP4/QuickTime")
    if h.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("matroska", "WebM/Matroska")
    if h.startswith(b"OggS"):
        return Sniffed("ogg", "Ogg")
    if h[:4] in (b"RIFF", b"RF64") and h[8:12] == b"WAVE":
        return Sniffed("wav", "WAV")
    if h[:4] == b"RIFF" and h[8:12] == b"AVI ":
        return Sniffed("avi", "AVI")
    if h[:4] == b"RIFF" and h[8:12] == b"WEBP":
        return Sniffed("webp_pipe", "WebP image", image=True)
    if h.startswith(b"fLaC"):
        return Sniffed("flac", "FLAC")
    if h.startswith(b"#!AMR"):
        return Sniffed("amr", "AMR")
    if h.startswith(b"caff"):
        return Sniffed("caf", "Core Audio")
    if h.startswith(_ASF_GUID):
        return Sniffed("asf", "Windows Media")
    if h.startswith(b"\xff\xd8\xff"):
        return Sniffed("jpeg_pipe", "JPEG image", image=True)
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("png_pipe", "PNG image", image=True)
    if len(h) >= 377 and h[0] == 0x47 and h[188] == 0x47 and h[376] == 0x47:
        return Sniffed("mpegts", "MPEG transport stream")
    if h.startswith(b"ID3"):
        return Sniffed("mp3", "MP3")
    if _is_mpeg_audio_sync(h):
        layer = (h[1] >> 1) & 0x3
        return Sniffed("aac", "AAC (ADTS)") if layer == 0 else Sniffed("mp3", "MP3")
    # Known non-media, named so the submitter understands the refusal.
    if h.startswith(b"PK\x03\x04") or h.startswith(b"PK\x05\x06"):
        raise EvidenceRejected("This is a ZIP archive (or an office document), not audio or video.",
                               kind="archive")
    for magic, what in ((b"Rar!", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
                        (b"\x1f\x8b", "a gzip archive"), (b"BZh", "a bzip2 archive"),
                        (b"\xfd7zXZ\x00", "an XZ archive")):
        if h.startswith(magic):
            raise EvidenceRejected(f"This is {what}, not audio or video.", kind="archive")
    if h.startswith(b"\x7fELF") or h.startswith(b"MZ") or h[:4] in (
            b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
            b"\xca\xfe\xba\xbe"):
        raise EvidenceRejected("This is an executable program, not audio or video.",
                               kind="executable")
    if h.startswith(b"%PDF"):
        raise EvidenceRejected("This is a PDF document, not audio or video.", kind="document")
    if _looks_like_text(h):
        low = h.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")) or b"<html" in low:
            raise EvidenceRejected("This is an HTML web page, not audio or video (whatever its "
                                   "file name says).", kind="text")
        raise EvidenceRejected("This is a text file, not audio or video (whatever its file "
                               "name says).", kind="text")
    raise EvidenceRejected("Unrecognised file format: not a supported audio, video or image file.",
                           kind="unknown")
