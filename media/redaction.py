"""Redacted copies of a recording: the audio silenced over declared hearing-clock ranges, at
the level of Opus packets, so the copy can be checked exactly against its original.

The copy is made without decoding: every packet of the original is read (PyAV demux) and
written again into a new Ogg Opus file at the same position; a packet that overlaps a range is
replaced by silent CELT frames of the same total duration, every other packet is kept byte for
byte. The silence therefore covers whole packets (up to one packet, 20 ms as WebRTC sends
them, beyond each end of a range), and the first packets after a range decode slightly
differently for a few milliseconds while the decoder's state settles; what a verifier compares
is the packets, which are identical outside the ranges. The original file is never touched:
the copy is a new file (the caller stores it as a new blob linked to the original).

A file's offset t is hearing-clock ``start_ms + t`` (as the recorder finalises it), so ranges
on the hearing clock map to packet positions through the recording's ``start_ms``."""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import av

from media.rtc.opus import SILENCE_20MS, packet_samples_48k
from media.rtc.recorder import read_chunk_packets

TIME_BASE = fractions.Fraction(1, 48_000)
#: Silent CELT-only frames by duration in 48 kHz samples (TOC configs 31, 30, 29, 28).
SILENT_FRAMES = {960: SILENCE_20MS, 480: b"\xf0\xff\xfe", 240: b"\xe8\xff\xfe",
                 120: b"\xe0\xff\xfe"}


@dataclass(frozen=True)
class Packet:
    pts: int  # in 1/48000 s from the file's start
    payload: bytes

    @property
    def duration(self) -> int:
        return packet_samples_48k(self.payload)


def read_packets(path: Path) -> list[Packet]:
    """The Opus packets of an Ogg Opus file, positioned from its first packet."""
    return [Packet(pts, payload) for pts, payload in read_chunk_packets(Path(path))]


def silence(duration: int) -> list[bytes]:
    """Silent frames that together last ``duration`` samples (48 kHz), largest first."""
    out = []
    left = duration
    for size in sorted(SILENT_FRAMES, reverse=True):
        while left >= size:
            out.append(SILENT_FRAMES[size])
            left -= size
    if left:
        out.append(SILENT_FRAMES[120])  # a 2.5 ms tail at most: never shorter than the packet
    return out


def _ranges48(ranges: Sequence[Sequence[int]], start_ms: int) -> list[tuple[int, int]]:
    return [((int(a) - start_ms) * 48, (int(b) - start_ms) * 48) for a, b in ranges]


def _hit(p: Packet, ranges48: Sequence[tuple[int, int]]) -> bool:
    return any(p.pts < b and a < p.pts + p.duration for a, b in ranges48)


def _write(path: Path, packets: Sequence[Packet]) -> None:
    container = av.open(str(path), "w", format="ogg")
    try:
        stream = container.add_stream("libopus", rate=48_000, layout="stereo")
        for p in packets:
            packet = av.Packet(p.payload)
            packet.pts = packet.dts = p.pts
            packet.duration = p.duration
            packet.time_base = TIME_BASE
            packet.stream = stream
            container.mux(packet)
    finally:
        container.close()


def redacted_packets(packets: Sequence[Packet], ranges: Sequence[Sequence[int]],
                     start_ms: int = 0) -> list[Packet]:
    """The packets of the copy: each one that overlaps a range replaced by silence of the
    same duration at the same place, the others unchanged."""
    r48 = _ranges48(ranges, start_ms)
    out: list[Packet] = []
    for p in packets:
        if not _hit(p, r48):
            out.append(p)
            continue
        at = p.pts
        for frame in silence(p.duration):
            out.append(Packet(at, frame))
            at += packet_samples_48k(frame)
    return out


def redact_recording(original: Path, out: Path, ranges: Sequence[Sequence[int]],
                     start_ms: int = 0) -> int:
    """Write the silenced copy of ``original`` to ``out`` (blocking: run it in an executor).
    ``ranges`` are hearing-clock [start, end) ms; ``start_ms`` is where the file starts on the
    hearing clock. Returns how many packets were silenced."""
    packets = read_packets(original)
    copy = redacted_packets(packets, ranges, start_ms)
    _write(Path(out), copy)
    r48 = _ranges48(ranges, start_ms)
    return sum(1 for p in packets if _hit(p, r48))


def _clock(pts: int, start_ms: int) -> str:
    ms = start_ms + pts // 48
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def check_audio_redaction(original_path: Path, redacted_path: Path,
                          spans: Sequence[Sequence[int]], start_ms: int = 0) -> list[str]:
    """Every way the copy differs from the original other than silence over the declared
    ranges (empty: it differs only inside them). Packet by packet: outside the ranges each
    packet must be the original's, byte for byte, at the same place; a packet that overlaps a
    range must be replaced by silent frames covering exactly its time."""
    orig, got = read_packets(original_path), read_packets(redacted_path)
    if not orig:
        return ["the original recording has no readable packets"]
    r48 = _ranges48(spans, start_ms)
    problems: list[str] = []
    by_pts = {p.pts: p for p in got}
    used: set[int] = set()
    for p in orig:
        where = f"packet at {_clock(p.pts, start_ms)}"
        if not _hit(p, r48):
            q = by_pts.get(p.pts)
            if q is None:
                problems.append(f"{where} is missing from the copy")
            elif q.payload != p.payload:
                problems.append(f"{where} differs outside the declared ranges")
            used.add(p.pts)
            continue
        at, end = p.pts, p.pts + p.duration
        while at < end:
            q = by_pts.get(at)
            if q is None:
                problems.append(f"{where}: the copy has no silence in its place")
                break
            if q.payload not in SILENT_FRAMES.values():
                problems.append(f"{where}: inside a declared range but not silenced")
            used.add(at)
            at += q.duration
        if at > end:
            problems.append(f"{where}: its silence runs past the packet")
    extra = [p for p in got if p.pts not in used]
    if extra:
        problems.append(f"{len(extra)} packet(s) in the copy that the original does not have "
                        f"(first at {_clock(extra[0].pts, start_ms)})")
    return problems


def check_bundle_audio(redacted_zip: Path, original_zip: Path
                       ) -> list[tuple[str, list[str], str]]:
    """For each silenced recording of a redacted bundle whose original is in the original
    bundle (both exported with their media): (check name, problems, detail). A recording
    missing from either bundle is reported as not compared, not as a failure."""
    import json
    import tempfile
    import zipfile

    from stenogram.redaction import REDACTED_MEMBER, audio_ranges, original_version

    with zipfile.ZipFile(redacted_zip) as rz:
        doc = json.loads(rz.read(REDACTED_MEMBER))["document"]
        orig = original_version(Path(original_zip), str((doc.get("redacts") or {}).get("sha256")))
        if orig is None:
            return []
        red_media = {n.split("/")[2].split(".")[0]: n for n in rz.namelist()
                     if n.startswith("media/recordings/")}
        out = []
        with zipfile.ZipFile(original_zip) as oz, tempfile.TemporaryDirectory() as tmp:
            orig_media = {n.split("/")[2].split(".")[0]: n for n in oz.namelist()
                          if n.startswith("media/recordings/")}
            for sha, (orig_sha, ranges, start_ms) in sorted(audio_ranges(doc, orig.document)
                                                            .items()):
                name = (f"recording {sha[:12]}…: differs from {orig_sha[:12]}… only by "
                        f"silence inside the declared ranges")
                if sha not in red_media or orig_sha not in orig_media:
                    out.append((name, [], "not compared: export both bundles with their "
                                          "media (?media=1)"))
                    continue
                a, b = Path(tmp) / "original.ogg", Path(tmp) / "copy.ogg"
                a.write_bytes(oz.read(orig_media[orig_sha]))
                b.write_bytes(rz.read(red_media[sha]))
                out.append((name, check_audio_redaction(a, b, ranges, start_ms),
                            f"{len(ranges)} range(s), packet by packet"))
        return out
