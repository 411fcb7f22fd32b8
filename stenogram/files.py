"""Durable files: a file gets its name only once its bytes are on disk, so a crash leaves the
old file or the whole new one under that name, never a torn one.

One definition for every package: signing keys, the server's secrets and upload state
(``write_private``), blobs and recording chunks (``publish``). It lives here because stenogram
imports nothing else of ours, so every other package may import it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a new or renamed name in it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temp: Path, final: Path) -> None:
    """Give a finished file its name: its bytes (and mode) fsynced, renamed over ``final`` in
    one step (same filesystem), the directory entry fsynced."""
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    fsync_dir(Path(final).parent)


def create_private(path: Path, data: bytes) -> bool:
    """Write ``data`` as ``path`` (0600, durable) unless ``path`` exists: of several processes
    creating it at once (the nodes of a court starting on one shared data directory) exactly
    one gives it its bytes and gets True; the others get False and read the winner's file."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(name, path)  # unlike a rename, never replaces a file already there
        except FileExistsError:
            return False
        fsync_dir(path.parent)
        return True
    finally:
        Path(name).unlink(missing_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` as ``path``, readable and writable by this account only (0600), with
    ``publish``. The temp file is created 0600 and exclusively, so the secret is never readable
    by others, not even for a moment; a failed write leaves no temp file behind."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        publish(Path(name), path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
