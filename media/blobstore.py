"""Content-addressed, write-once storage for recordings, evidence and derived files.

A blob is named by the SHA-256 of its bytes. Writing goes temp file -> fsync -> rename ->
directory fsync -> read-only, so a crash leaves either no blob or a whole one, never a
half-file under a real name. Originals are never modified; derivatives are new blobs."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from stenogram.files import fsync_dir, publish

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int
    path: Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def new_temp(self) -> tuple[BinaryIO, Path]:
        """An open temp file inside the store (same filesystem, so the final rename is atomic)."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        return os.fdopen(fd, "wb"), Path(name)

    def commit_temp(self, temp: Path, sha256: str | None = None) -> BlobRef:
        """Move a finished temp file into place under its hash. The caller may pass the hash it
        computed while streaming; otherwise it is computed here."""
        os.chmod(temp, stat.S_IRUSR | stat.S_IRGRP)  # read-only before it gets its name
        digest = sha256 or sha256_file(temp)
        size = temp.stat().st_size
        final = self.path_for(digest)
        if final.exists():  # same bytes already stored: share the blob
            temp.unlink()
            return BlobRef(digest, size, final)
        if not final.parent.is_dir():  # new fan-out folders must be durable too
            final.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(final.parent.parent)
            fsync_dir(self.root)
        publish(temp, final)  # one fsync makes both the bytes and the read-only mode durable
        return BlobRef(digest, size, final)

    def put_file(self, src: Path) -> BlobRef:
        """Copy an existing file into the store (the source is left as it is)."""
        out, temp = self.new_temp()
        h = hashlib.sha256()
        with out, open(src, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
                out.write(block)
        return self.commit_temp(temp, h.hexdigest())

    def put_bytes(self, data: bytes) -> BlobRef:
        out, temp = self.new_temp()
        with out:
            out.write(data)
        return self.commit_temp(temp, hashlib.sha256(data).hexdigest())

    def iter_blobs(self) -> Iterator[Path]:
        for p in sorted(self.root.glob("??/??/*")):
            if p.is_file():
                yield p

    def clean_temp(self) -> int:
        """Remove temp files left by a crash; they were never referenced."""
        n = 0
        for p in self.tmp.iterdir():
            p.unlink(missing_ok=True) if p.is_file() else shutil.rmtree(p, ignore_errors=True)
            n += 1
        return n
