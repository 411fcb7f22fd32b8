"""Content-addressed, write-once storage for recordings, evidence and derived files.

A blob is named by the SHA-256 of its bytes. Writing goes temp file -> fsync -> rename ->
directory fsync -> read-only, so a crash leaves either no blob or a whole one, never a
half-file under a real name. Originals are never modified; derivatives are new blobs.

Blobs are 0400 in 0700 folders. Next to the blobs, ``stat/`` keeps what each file looked like
when its hash was last known good (size, mtime, inode, ctime), so ``intact`` can tell cheaply
whether the bytes may have changed since, and re-hashes only then."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Literal

from stenogram.files import fsync_dir, publish

CHUNK = 1 << 20
Fixity = Literal["intact", "changed", "still changed"]


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
        self.stats = self.root / "stat"
        self._changed: dict[str, str] = {}  # sha256 -> fingerprint of a file found changed
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.tmp.mkdir(mode=0o700, exist_ok=True)

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
        os.chmod(temp, stat.S_IRUSR)  # read-only, and ours only, before it gets its name
        digest = sha256 or sha256_file(temp)
        size = temp.stat().st_size
        final = self.path_for(digest)
        if final.exists():  # same bytes already stored: share the blob
            temp.unlink()
            return BlobRef(digest, size, final)
        if not final.parent.is_dir():  # new fan-out folders must be durable too
            final.parent.parent.mkdir(mode=0o700, exist_ok=True)
            final.parent.mkdir(mode=0o700, exist_ok=True)
            fsync_dir(final.parent.parent)
            fsync_dir(self.root)
        publish(temp, final)  # one fsync makes both the bytes and the read-only mode durable
        self._remember(final, digest)
        return BlobRef(digest, size, final)

    @staticmethod
    def _fingerprint(path: Path) -> str:
        st = path.stat()
        return f"{st.st_size} {st.st_mtime_ns} {st.st_ino} {st.st_ctime_ns}"

    def _remember(self, path: Path, sha256: str) -> None:
        """Note how the file looks now that its hash is known good (a cache: losing it only
        costs one re-hash)."""
        entry = self.stats / sha256[:2] / sha256
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=entry.parent, prefix=".st-")
        with os.fdopen(fd, "w") as f:
            f.write(self._fingerprint(path))
        os.replace(name, entry)

    def check(self, path: Path, sha256: str) -> Fixity:
        """Are ``path``'s bytes still those hashed as ``sha256`` (a blob, or a recording chunk
        the database lists)? A stat when the file is as it was last verified; otherwise it is
        re-hashed, once per change: "changed" the first time a changed file is seen, "still
        changed" after that (blocking: run it in an executor)."""
        self.path_for(sha256)  # a real digest, so a safe name under stat/
        entry = self.stats / sha256[:2] / sha256
        now = self._fingerprint(path)
        try:
            if entry.read_text() == now:
                return "intact"
        except FileNotFoundError:
            pass
        if self._changed.get(sha256) == now:
            return "still changed"
        if sha256_file(path) != sha256:
            self._changed[sha256] = now
            return "changed"
        self._changed.pop(sha256, None)
        self._remember(path, sha256)
        return "intact"

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
