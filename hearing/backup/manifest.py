"""A backup directory and its manifest.

Layout of a backup::

    manifest.json      canonical JSON (RFC 8785): the database dump, every file and every
                       blob with its SHA-256 and size, and the earlier backups it builds on
    manifest.sha256    the manifest's SHA-256 in ``sha256sum`` format (so `sha256sum -c`
                       works too). A hash, not a signature: it catches damage, and tampering
                       only when the operator keeps the printed hash somewhere else and
                       passes it to ``verify-backup --expect``
    database/          courtroom.sqlite3 (self-contained) or courtroom.pgdump (custom format)
    files/             audit-heads/, keys/, recordings/, courtroom.toml, as in the data dir
    blobs/aa/bb/<sha256>   the blobs this backup copied; the others are in the backup a blob
                       entry's ``in`` names (relative to this one)

Every copy hashes the bytes it writes; with an expected hash a mismatch leaves no file."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from stenogram.canonical import canonical_bytes
from stenogram.files import fsync_dir

FORMAT = "courtroom-backup/1"
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
CHUNK = 1 << 20


class HashMismatch(Exception):
    def __init__(self, actual: str, size: int) -> None:
        super().__init__(actual)
        self.actual, self.size = actual, size


def blob_rel(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def make_dirs(path: Path) -> None:
    """``path`` and its missing parents, each 0700 whatever the umask."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700)
        os.chmod(d, 0o700)


def sha256_of(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


def copy_hashed(src: Path, dest: Path, mode: int, expect: str | None = None,
                whole_lines: bool = False) -> tuple[str, int]:
    """Copy ``src`` to ``dest`` (temp file, fsync, rename) with ``mode``; returns the SHA-256
    and size of what was written. ``whole_lines`` drops a last line still being appended (a
    head file). With ``expect``, a different hash raises HashMismatch and leaves no file."""
    make_dirs(dest.parent)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    h, n = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            data = f.read() if whole_lines else None
            if data is not None:
                data = data[:data.rfind(b"\n") + 1]
                out.write(data)
                h.update(data)
                n = len(data)
            else:
                while block := f.read(CHUNK):
                    out.write(block)
                    h.update(block)
                    n += len(block)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if expect is not None and digest != expect:
            raise HashMismatch(digest, n)
        os.chmod(name, mode)
        os.replace(name, dest)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return digest, n


def write_manifest(root: Path, manifest: dict) -> str:
    """Write the manifest, then its hash (the backup is whole only once both exist); returns
    the hash."""
    data = canonical_bytes(manifest)
    digest = hashlib.sha256(data).hexdigest()
    for name, content in ((MANIFEST, data), (MANIFEST_HASH, f"{digest}  {MANIFEST}\n".encode())):
        fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, root / name)
    fsync_dir(root)
    return digest


def read_manifest(root: Path) -> tuple[dict, str, list[str]]:
    """(manifest, its SHA-256, problems). An unreadable manifest raises ValueError."""
    try:
        data = (root / MANIFEST).read_bytes()
    except OSError as exc:
        raise ValueError(f"{root} is not a backup: no readable {MANIFEST} ({exc.strerror})") \
            from None
    digest = hashlib.sha256(data).hexdigest()
    problems = []
    try:
        recorded = (root / MANIFEST_HASH).read_text().split()[0]
    except (OSError, IndexError):
        recorded = None
        problems.append(f"{root / MANIFEST_HASH} is missing: the backup was not finished")
    if recorded is not None and recorded != digest:
        problems.append(f"{root / MANIFEST}: SHA-256 {digest} is not the {recorded} recorded in "
                        f"{MANIFEST_HASH}")
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ValueError(f"{root / MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{root / MANIFEST} is not a {FORMAT} manifest")
    return manifest, digest, problems
