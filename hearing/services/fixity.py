"""Fixity: is every stored file still what the record says it is? Every blob is re-hashed
against its name and what the database lists (evidence originals and their copies, finished
recordings), and every recording chunk the database lists is re-hashed at its path. Missing
and changed files are reported; nothing is repaired. Blocking: for the command line. And the
server's own check before it hands out a stored file (``check_before_serving``)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.db import Database
from hearing.errors import conflict
from hearing.models import EvidenceItem, Hearing, Recording, RecordingChunk
from hearing.state import AppState
from media.blobstore import BlobStore
from media.evidence import FixityReport, check_files, check_fixity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkFile:
    path: str  # as the server wrote it (possibly relative to where it ran)
    sha256: str
    size: int | None  # None where the database does not know it


@dataclass
class Listed:
    """What the database says must exist; ``blobs`` is None when it was not asked."""
    blobs: dict[str, int | None] | None = None  # sha256 -> size where known
    chunks: list[ChunkFile] = field(default_factory=list)


def listed_in(db: Database) -> Listed:
    def work(s: Session) -> Listed:
        chunks = s.execute(select(RecordingChunk.path, RecordingChunk.sha256,
                                  RecordingChunk.size).order_by(RecordingChunk.id))
        return Listed(_referenced_blobs(s),
                      [ChunkFile(path, sha, size or None) for path, sha, size in chunks])
    return db.run_sync(work)


def _referenced_blobs(s: Session) -> dict[str, int | None]:
    expected: dict[str, int | None] = {}
    for sha, size, play, thumb, media in s.execute(select(
            EvidenceItem.sha256, EvidenceItem.size, EvidenceItem.playback_sha256,
            EvidenceItem.thumbnail_sha256, EvidenceItem.media)):
        expected[sha] = size
        preview = ((media or {}).get("preview") or {}).get("sha256")
        for copy in (play, thumb, preview):
            if copy:
                expected.setdefault(copy, None)
    for sha, size in s.execute(select(Recording.sha256, Recording.size)):
        expected[sha] = size or expected.get(sha)
    return expected


def audit(store: BlobStore, listed: Listed, data_dir: Path) -> tuple[FixityReport, int]:
    """The report (blobs and chunks together) and how many chunk files were re-hashed."""
    t0 = time.perf_counter()
    report = check_fixity(store, expected=listed.blobs)
    chunks = check_files(((_locate(c.path, data_dir), c.sha256, c.size)
                          for c in listed.chunks), report)
    report.seconds = time.perf_counter() - t0
    return report, chunks


def _locate(path: str, data_dir: Path) -> Path:
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    parts = p.parts
    if "recordings" in parts:  # <data_dir>/recordings/<hearing>/<source>/<chunk>
        return Path(data_dir, *parts[parts.index("recordings"):])
    return Path(data_dir, p)


async def check_before_serving(state: AppState, hearing_id: int, path: Path, sha256: str,
                               what: dict) -> None:
    """Refuse to hand out bytes under a hash they no longer have. Cheap while the file is as
    it was written (a stat); a changed file is re-hashed once, and a mismatch is logged and
    written to the hearing's audit log as a fixity failure (once per change)."""
    loop = asyncio.get_running_loop()
    verdict = await loop.run_in_executor(None, state.live.blobs.check, path, sha256)
    if verdict == "intact":
        return
    if verdict == "changed":
        log.error("fixity failure: %s no longer has SHA-256 %s (%s)", path, sha256, what)

        def work(s: Session) -> None:
            state.audit(s, s.get(Hearing, hearing_id), "server", "fixity.failure",
                        {"sha256": sha256, **what})
        await state.db.run(work)
    raise conflict("the stored file no longer matches its recorded SHA-256 and is not served; "
                   "the court's administrator has to restore it (run `courtroom fixity`)",
                   code="fixity_failure", sha256=sha256)
