"""A cheap look at an MP4/QuickTime index before any demuxer reads it.

FFmpeg's MOV demuxer allocates an index entry (tens of bytes) for every sample a track's tables
declare, before it reads any media: a few kilobytes whose ``stsz``/``stts`` claim 80 million
samples cost gigabytes. Here the boxes are walked in pure Python, reading only box headers and
the counts at the head of the index tables, and a file is refused when its tables declare more
samples than it could hold.

The bound: every sample of every track is at least one byte of media data stored in this
file (external data references are never opened), so the samples declared over all tracks
cannot exceed the file's size in bytes; a table whose entries (4, 8 or 12 bytes each) would not
fit in its own box is damaged. A constant ``stsz`` sample size times the count must also fit.
The walk is bounded in boxes visited and nesting depth, so it costs at most a few milliseconds
whatever the file claims."""

from __future__ import annotations

import struct
from typing import BinaryIO

from .errors import EvidenceRejected

#: Boxes that hold other boxes on the way to the sample tables (and fragments).
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"edts", b"mvex"}
MAX_BOXES = 100_000
MAX_DEPTH = 8


def _refuse(message: str) -> EvidenceRejected:
    return EvidenceRejected(message, kind="absurd_index")


class _Walk:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size
        self.boxes = 0
        self.declared = 0  # samples over all tracks and fragments

    def _read(self, at: int, n: int) -> bytes:
        self.f.seek(at)
        return self.f.read(n)

    def walk(self, start: int, end: int, depth: int) -> None:
        pos = start
        while pos + 8 <= end:
            self.boxes += 1
            if self.boxes > MAX_BOXES:
                raise _refuse("The file's index has too many parts to be a recording.")
            head = self._read(pos, 16)
            if len(head) < 8:
                return
            length, kind = struct.unpack(">I4s", head[:8])
            body = pos + 8
            if length == 1:
                if len(head) < 16:
                    return
                length = struct.unpack(">Q", head[8:16])[0]
                body = pos + 16
            elif length == 0:
                length = end - pos  # to the end of the enclosing box (or file)
            if length < body - pos:
                return  # damaged: FFmpeg stops here too
            box_end = min(pos + length, end)
            if kind in _CONTAINERS and depth < MAX_DEPTH:
                self.walk(body, box_end, depth + 1)
            else:
                self._table(kind, body, box_end)
            pos += length

    def _table(self, kind: bytes, body: int, end: int) -> None:
        room = end - body  # bytes of this box after its header
        if kind == b"stsz":  # version/flags, sample_size, sample_count, [sizes]
            h = self._read(body, 12)
            if len(h) < 12:
                return
            sample_size, count = struct.unpack(">II", h[4:12])
            if sample_size == 0 and count > (room - 12) // 4:
                raise _refuse(f"The file's index lists {count} sample sizes in a table too "
                              f"small for them (the file is damaged or crafted).")
            if sample_size and sample_size * count > self.size:
                raise _refuse(f"The file's index declares {count} samples of {sample_size} "
                              f"bytes, more than its {self.size} bytes can hold (the file is "
                              f"damaged or crafted).")
            self._add(count)
        elif kind == b"stz2":  # version/flags, reserved(3) field_size(1), sample_count
            h = self._read(body, 12)
            if len(h) < 12:
                return
            field_bits, count = h[7], struct.unpack(">I", h[8:12])[0]
            if field_bits and count > (room - 12) * 8 // field_bits:
                raise _refuse("The file's index lists more sample sizes than its table holds "
                              "(the file is damaged or crafted).")
            self._add(count)
        elif kind in (b"stts", b"stsc", b"stco", b"co64", b"ctts", b"stss"):
            h = self._read(body, 8)
            if len(h) < 8:
                return
            entries = struct.unpack(">I", h[4:8])[0]
            width = {b"stts": 8, b"stsc": 12, b"co64": 8, b"ctts": 8}.get(kind, 4)
            if entries > (room - 8) // width:
                raise _refuse(f"The file's index declares {entries} entries in a table too "
                              f"small for them (the file is damaged or crafted).")
            if kind == b"stts":  # (sample_count, delta) pairs: the samples they time
                table = self._read(body + 8, entries * 8)
                timed = sum(c for c, _ in struct.iter_unpack(">II", table[:len(table) // 8 * 8]))
                if timed > self.size:
                    raise _refuse(f"The file's index times {timed} samples, more than its "
                                  f"{self.size} bytes can hold (the file is damaged or "
                                  f"crafted).")
        elif kind == b"trun":  # version/flags, sample_count (fragmented MP4)
            h = self._read(body, 8)
            if len(h) == 8:
                self._add(struct.unpack(">I", h[4:8])[0])

    def _add(self, count: int) -> None:
        self.declared += count
        if self.declared > self.size:
            raise _refuse(f"The file's index declares {self.declared} samples, more than its "
                          f"{self.size} bytes can hold (the file is damaged or crafted).")


def check_mp4_index(f: BinaryIO, size: int) -> int:
    """Raise EvidenceRejected when the index declares more samples than ``size`` bytes can
    hold; otherwise the number of samples declared."""
    w = _Walk(f, size)
    w.walk(0, size, 0)
    return w.declared
