"""Fixity audit: re-hash every blob and compare with its name (and with what the database
says should exist). A changed byte, a missing file, a wrong size or a blob left writable is
reported; nothing is repaired here, because a court must see the fault, not a silent fix."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..blobstore import BlobStore

READ_CHUNK = 1 << 20
#: Only "writable" is a warning (the bytes are intact); every other problem fails the audit.
Problem = Literal["changed", "missing", "size", "unreadable", "writable", "misplaced"]


@dataclass(frozen=True)
class Finding:
    sha256: str  # the name the blob is stored (or expected) under
    problem: Problem
    detail: str
    path: str | None = None


@dataclass
class FixityReport:
    checked: int = 0  # blobs re-hashed
    bytes: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)  # stored but not expected (info)

    @property
    def ok(self) -> bool:
        return not any(f.problem != "writable" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "bytes": self.bytes,
                "seconds": round(self.seconds, 3),
                "findings": [f.__dict__ for f in self.findings],
                "unreferenced": self.unreferenced}


def _hash(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while block := f.read(READ_CHUNK):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


def check(store: BlobStore, expected: Mapping[str, int | None] | None = None,
          progress: Callable[[int, int], None] | None = None) -> FixityReport:
    """Blocking (run it in an executor or a CLI). ``expected`` maps SHA-256 to size (or None
    when the size is unknown) for every blob the database references; without it only the
    store's own consistency is checked. ``progress(done, total)`` is called after each blob."""
    t0 = time.perf_counter()
    report = FixityReport()
    expected = {k.lower(): v for k, v in (expected or {}).items()}
    paths = list(store.iter_blobs())
    seen: set[str] = set()
    for i, path in enumerate(paths):
        name = path.name
        try:
            home = store.path_for(name)
        except ValueError:
            home = None
        if home != path:
            report.findings.append(Finding(name, "misplaced", "file in the blob tree whose name "
                                           "or folder is not its SHA-256", str(path)))
            continue
        seen.add(name)
        try:
            digest, size = _hash(path)
            mode = os.stat(path).st_mode
        except OSError as e:
            report.findings.append(Finding(name, "unreadable", str(e), str(path)))
            continue
        report.checked += 1
        report.bytes += size
        if digest != name:
            report.findings.append(Finding(name, "changed", f"content now hashes to {digest}",
                                           str(path)))
        want = expected.get(name)
        if want is not None and want != size:
            report.findings.append(Finding(name, "size", f"{size} bytes, expected {want}",
                                           str(path)))
        if mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            report.findings.append(Finding(name, "writable", "blob is not read-only", str(path)))
        if expected and name not in expected:
            report.unreferenced.append(name)
        if progress:
            progress(i + 1, len(paths))
    for name in sorted(set(expected) - seen):
        report.findings.append(Finding(name, "missing", "referenced but not in the store",
                                       str(store.path_for(name)) if len(name) == 64 else None))
    report.seconds = time.perf_counter() - t0
    return report


def check_files(files: Iterable[tuple[Path, str, int | None]], report: FixityReport) -> int:
    """Blocking. Files kept outside the store (recording chunks), each re-hashed at its path
    against the SHA-256 and size (None: unknown) listed for it; counts and findings go into
    ``report``. Returns how many were re-hashed."""
    checked = 0
    for path, sha256, want in files:
        if not path.is_file():
            report.findings.append(Finding(sha256, "missing", "listed in the database but not "
                                           "on disk", str(path)))
            continue
        try:
            digest, size = _hash(path)
        except OSError as e:
            report.findings.append(Finding(sha256, "unreadable", str(e), str(path)))
            continue
        checked += 1
        report.checked += 1
        report.bytes += size
        if digest != sha256:
            report.findings.append(Finding(sha256, "changed", f"content now hashes to {digest}",
                                           str(path)))
        elif want is not None and want != size:
            report.findings.append(Finding(sha256, "size", f"{size} bytes, expected {want}",
                                           str(path)))
    return checked
