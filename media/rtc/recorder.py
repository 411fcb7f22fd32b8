"""Per-source recording of a hearing: the participants' Opus packets muxed (never re-encoded)
into Ogg chunks of about two seconds, so a SIGKILL of the server loses at most the open chunk.

Layout under ``recording_dir``::

    <source_id>/<seq:06d>_<start_ms>.ogg        closed chunk (fsynced, SHA-256 in the audit log)
    <source_id>/<seq:06d>_<start_ms>.ogg.part   the chunk being written

A chunk never spans a gap: a mute, a drop or a reconnect closes it, and the next packet opens a
new one whose name carries its hearing-clock start. ``finalise`` joins a source's chunks into one
Ogg Opus blob in which every gap is filled with silent frames, so that offset t in the file is
hearing-clock ``start_ms + t``; the gaps are listed next to it.

All file work (muxing, fsync, hashing) runs on one writer thread per room. Its queue is large
(about a minute of a full hearing) and, unlike the transcriber's, never drops quietly: if it ever
fills, the packet is lost and a ``recording.overflow`` event says so."""

from __future__ import annotations

import asyncio
import fractions
import logging
import os
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection

import av

from media.blobstore import BlobRef, BlobStore, sha256_file
from stenogram.files import publish

from .opus import SILENCE_20MS, packet_samples_48k

log = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 48_000)
CHUNK_NAME = re.compile(r"^(\d{6})_(\d+)\.ogg(\.part)?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _check_source_id(source_id: str) -> str:
    if not _SAFE_ID.match(source_id) or source_id in (".", ".."):
        raise ValueError(f"source id not usable as a directory name: {source_id!r}")
    return source_id


@dataclass(frozen=True)
class RecordingBlob:
    """One source's finished recording: blob in the store plus how it maps to the hearing clock."""

    source_id: str
    blob: BlobRef
    start_ms: int
    end_ms: int
    gaps: list[tuple[int, int]]  # hearing-clock [start, end) filled with silence
    chunks: list[str]  # SHA-256 of the chunks it was built from, in order

    def to_event(self) -> dict:
        return {
            "type": "recording.final", "source_id": self.source_id, "sha256": self.blob.sha256,
            "size": self.blob.size, "content_type": "audio/ogg", "start_ms": self.start_ms, "end_ms": self.end_ms,
            "gaps": [list(g) for g in self.gaps], "chunks": list(self.chunks),
        }


class _ChunkWriter:
    def __init__(self, path: Path, start48: int) -> None:
        self.final_path = path
        self.part_path = path.with_name(path.name + ".part")
        self.start48 = start48
        self.container = av.open(str(self.part_path), "w", format="ogg")
        self.stream = self.container.add_stream("libopus", rate=48_000, layout="stereo")
        self.last_pts = -1
        self.end48 = start48

    def write(self, payload: bytes, pos48: int) -> None:
        pts = pos48 - self.start48
        if pts <= self.last_pts:
            return  # duplicate or late packet: the chunk's timeline only moves forward
        packet = av.Packet(payload)
        packet.pts = packet.dts = pts
        packet.duration = packet_samples_48k(payload)
        packet.time_base = TIME_BASE
        packet.stream = self.stream
        self.container.mux(packet)
        self.last_pts = pts
        self.end48 = pos48 + packet.duration

    def close(self) -> tuple[Path, str]:
        self.container.close()
        os.chmod(self.part_path, 0o600)  # the court's recording: this account's only
        publish(self.part_path, self.final_path)
        return self.final_path, sha256_file(self.final_path)


class Recorder:
    """Records every source of one room. Call ``packet``/``gap`` from the event loop;
    chunk events arrive through ``on_event`` on the loop."""

    def __init__(self, root: Path, on_event: Callable[[dict], None], chunk_ms: int = 2000,
                 max_queue: int = 50 * 60 * 8) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.chunk48 = chunk_ms * 48
        self._on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._q: queue.Queue = queue.Queue(maxsize=max_queue)
        self._writers: dict[str, _ChunkWriter] = {}
        self._seq: dict[str, int] = {}
        self.overflows = 0
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    # -- event loop side -------------------------------------------------------------------
    def packet(self, source_id: str, payload: bytes, pos48: int) -> None:
        """An Opus packet of ``source_id`` whose first sample is at hearing-clock pos48/48 ms."""
        try:
            self._q.put_nowait(("p", source_id, payload, pos48))
        except queue.Full:
            self.overflows += 1
            self._on_event({"type": "recording.overflow", "source_id": source_id, "at_ms": pos48 // 48})

    def gap(self, source_id: str) -> None:
        """Close the source's open chunk: what follows is after a gap."""
        self._q.put(("g", source_id, None, 0))

    async def close(self) -> None:
        self._q.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    # -- writer thread ---------------------------------------------------------------------
    def _emit(self, event: dict) -> None:
        try:
            self._loop.call_soon_threadsafe(self._on_event, event)
        except RuntimeError:  # the loop is gone (process shutting down): the chunk is on disk
            log.warning("recording event lost, loop closed: %s", event)

    def _close_chunk(self, source_id: str) -> None:
        writer = self._writers.pop(source_id, None)
        if writer is None:
            return
        try:
            path, digest = writer.close()
        except Exception as exc:  # disk full, ...: say so, keep recording the others
            log.exception("closing recording chunk %s failed", writer.part_path)
            self._emit({"type": "recording.error", "source_id": source_id, "error": str(exc)})
            return
        self._emit({
            "type": "recording.chunk", "source_id": source_id, "path": str(path), "sha256": digest,
            "size": path.stat().st_size, "start_ms": writer.start48 // 48, "end_ms": writer.end48 // 48,
            "content_type": "audio/ogg",
        })

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                for source_id in list(self._writers):
                    self._close_chunk(source_id)
                return
            kind, source_id, payload, pos48 = item
            if kind == "g":
                self._close_chunk(source_id)
                continue
            writer = self._writers.get(source_id)
            if writer is not None and pos48 - writer.start48 >= self.chunk48:
                self._close_chunk(source_id)
                writer = None
            if writer is None:
                try:
                    folder = self.root / _check_source_id(source_id)
                    folder.mkdir(mode=0o700, exist_ok=True)
                    seq = self._seq.get(source_id)
                    if seq is None:
                        seq = 1 + max((int(m.group(1)) for p in folder.iterdir()
                                       if (m := CHUNK_NAME.match(p.name))), default=0)
                    self._seq[source_id] = seq + 1
                    writer = _ChunkWriter(folder / f"{seq:06d}_{pos48 // 48}.ogg", pos48)
                except Exception as exc:
                    log.exception("opening recording chunk for %s failed", source_id)
                    self._emit({"type": "recording.error", "source_id": source_id, "error": str(exc)})
                    continue
                self._writers[source_id] = writer
            try:
                writer.write(payload, pos48)
            except Exception as exc:
                log.warning("recording packet of %s dropped: %s", source_id, exc)


def chunk_files(source_dir: Path, include_open: bool = True) -> list[tuple[int, int, Path]]:
    """(seq, start_ms, path) of a source's chunks, in order. An open ``.part`` chunk left by a
    crash is included (what the muxer had written is readable up to the last whole page)."""
    out = []
    for p in Path(source_dir).iterdir():
        m = CHUNK_NAME.match(p.name)
        if m and (include_open or not m.group(3)):
            out.append((int(m.group(1)), int(m.group(2)), p))
    return sorted(out)


def read_chunk_packets(path: Path) -> list[tuple[int, bytes]]:
    """(pts in 1/48000 s from the chunk's first packet, payload) of a chunk; a truncated chunk
    yields what is readable. (The demuxer reports pts shifted by the Opus pre-skip; the writer
    put the first packet at 0, so positions are taken relative to it.)"""
    packets: list[tuple[int, bytes]] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                pts = int(packet.pts * stream.time_base * 48_000)
                packets.append((pts, bytes(packet)))
    except (av.FFmpegError, IndexError, EOFError) as exc:
        log.warning("chunk %s readable only in part: %s", path, exc)
    if packets:
        first = packets[0][0]
        packets = [(pts - first, payload) for pts, payload in packets]
    return packets


def _finalise_source(source_dir: Path, blobs: BlobStore) -> RecordingBlob | None:
    chunks = chunk_files(source_dir)
    if not chunks:
        return None
    out_file, temp = blobs.new_temp()
    out_file.close()
    container = av.open(str(temp), "w", format="ogg")
    stream = container.add_stream("libopus", rate=48_000, layout="stereo")
    origin48 = chunks[0][1] * 48
    cursor = 0  # next free position in the output, 1/48000 s
    gaps: list[tuple[int, int]] = []
    digests: list[str] = []

    def mux(payload: bytes, pts: int) -> int:
        packet = av.Packet(payload)
        packet.pts = packet.dts = pts
        packet.duration = packet_samples_48k(payload)
        packet.time_base = TIME_BASE
        packet.stream = stream
        container.mux(packet)
        return pts + packet.duration

    for _seq, start_ms, path in chunks:
        digests.append(sha256_file(path))
        for pts, payload in read_chunk_packets(path):
            at = start_ms * 48 - origin48 + pts
            if at < cursor:
                continue
            if at - cursor >= 960:
                gap_start = cursor
                while at - cursor >= 960:
                    cursor = mux(SILENCE_20MS, cursor)
                if at - gap_start >= 960 * 10:  # report gaps of 200 ms and more
                    gaps.append(((origin48 + gap_start) // 48, (origin48 + cursor) // 48))
            cursor = mux(payload, max(at, cursor))
    container.close()
    ref = blobs.commit_temp(temp)
    return RecordingBlob(
        source_id=source_dir.name, blob=ref, start_ms=origin48 // 48,
        end_ms=(origin48 + cursor) // 48, gaps=gaps, chunks=digests,
    )


def finalise_recordings(recording_dir: Path, blobs: BlobStore,
                        skip: Collection[str] = ()) -> list[RecordingBlob]:
    """Join each source's chunks into one blob (blocking: run it in an executor), except the
    sources in ``skip``. Also the way to recover a hearing whose server was killed or
    restarted: the chunks on disk are all it needs."""
    root = Path(recording_dir)
    out = []
    if not root.is_dir():
        return out
    for source_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in skip):
        rec = _finalise_source(source_dir, blobs)
        if rec is not None:
            out.append(rec)
    return out
