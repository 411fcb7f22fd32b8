"""Backup, restore and verification of a court's whole record: the database, the blob store and
the files of the data directory that matter (signed audit heads, signing keys as stored —
encrypted with their owners' passphrases —, recording chunks, courtroom.toml). Blocking: for
the command line, run while the server works.

A backup is consistent because of the order it is taken in, which follows the order the
server writes in:

1. the audit head files, first: a head is appended only after the rows it covers committed,
   so every head copied is covered by the dump taken after (heads signed in between are in
   the dump only, which `courtroom audit verify` notes but does not fail);
2. the database, in one snapshot (SQLite online backup API, or pg_dump);
3. keys, recording chunks and blobs, after: a blob, a chunk file or a key file is written
   before the row that names it commits, so everything the dump names already exists; what
   was written after the dump is a harmless extra.

Blobs are content-addressed, so a backup made ``since`` earlier ones (or into the directory of
an earlier one) copies only the blobs they lack and references the rest. Nothing here opens the
server's runtime: a backup reads the store's files and the database, a restore writes an empty
directory and an empty database."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from hearing.backup import database
from hearing.backup.manifest import (FORMAT, MANIFEST, MANIFEST_HASH, HashMismatch, blob_rel,
                                     copy_hashed, make_dirs, read_manifest, sha256_of,
                                     write_manifest)
from hearing.config import Config
from hearing.errors import Unavailable, bad_request, conflict

HEX = frozenset("0123456789abcdef")
#: What of the data directory, besides the database and the blobs, a backup holds.
FILE_TREES = ("keys", "recordings")
FILE_NAMES = ("courtroom.toml",)
#: What a backup directory holds (anything else there is not ours to overwrite).
PARTS = frozenset({"database", "files", "blobs", MANIFEST, MANIFEST_HASH})


@dataclass
class BackupResult:
    out: Path
    manifest_sha256: str = ""
    database: dict = field(default_factory=dict)
    files: int = 0
    blobs: int = 0
    copied: int = 0  # blobs copied into this backup
    copied_bytes: int = 0
    referenced: int = 0  # blobs already in an earlier backup
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # what could not be backed up


@dataclass
class RestoreResult:
    data_dir: Path
    database: str = ""
    files: int = 0
    blobs: int = 0
    chunk_paths_moved: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    backup: Path
    manifest_sha256: str = ""
    files: int = 0  # files and blobs the manifest lists, each re-hashed
    blobs: int = 0
    bytes: int = 0
    referenced: int = 0  # blobs and chunk files the database names
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- backup ------------------------------------------------------------------------------------

def backup(cfg: Config, out: Path, since: Iterable[Path] = ()) -> BackupResult:
    """Back up ``cfg``'s data directory and database into ``out`` (new, empty, or an earlier
    backup brought up to date), referencing the blobs the ``since`` backups hold."""
    t0 = time.perf_counter()
    data = Path(cfg.data_dir)
    out = Path(out)
    res = BackupResult(out)
    if not data.is_dir():
        raise bad_request(f"no data directory at {data}")
    if out.exists() and (not out.is_dir() or any(
            p.name not in PARTS and not p.name.startswith(".") for p in out.iterdir())):
        raise conflict(f"{out} is neither empty nor an earlier backup: choose another directory")
    # an earlier backup's blobs are kept; an unfinished one's are copied again
    reuse = (out / MANIFEST).is_file() and (out / MANIFEST_HASH).is_file()
    known, bases = _known_blobs([*since, *([out] if reuse else [])])
    try:
        database.check_source(cfg.db_url)  # before anything is written
    except database.ToolError as exc:
        raise Unavailable(str(exc)) from None
    make_dirs(out)
    for name in (MANIFEST_HASH, MANIFEST):  # not whole again until the new manifest is written
        (out / name).unlink(missing_ok=True)
    for part in ("files", "database"):
        shutil.rmtree(out / part, ignore_errors=True)

    files: list[dict] = []
    for src in sorted((data / "audit-heads").glob("*.jsonl")):  # 1. heads, before the dump
        files.append(_copy_file(data, src, out, whole_lines=True))
    try:  # 2. the database, one snapshot
        facts = database.dump(cfg.db_url, out / "database")
    except database.ToolError as exc:
        raise Unavailable(str(exc)) from None
    dump_file = out / "database" / facts["file"]
    sha, size = sha256_of(dump_file)
    res.database = {**facts, "file": f"database/{facts['file']}", "sha256": sha, "size": size}
    for src in _data_files(data):  # 3. what the dump may name, after it
        try:
            files.append(_copy_file(data, src, out))
        except FileNotFoundError:  # an open chunk published (renamed) meanwhile: not listed
            continue
    blobs = []
    used_bases: set[Path] = set()
    store = data / "blobs"
    here = out.resolve()
    for path in sorted(store.glob("??/??/*")):
        name = path.name
        if len(name) != 64 or not set(name) <= HEX or not path.is_file():
            continue
        size = path.stat().st_size
        where = known.get(name)
        if where is not None and where[1] == size:
            if where[0] != here:
                used_bases.add(where[0])
                res.referenced += 1
            blobs.append({"sha256": name, "size": size, "in": _rel(where[0], here)})
            continue
        try:
            _, n = copy_hashed(path, out / blob_rel(name), 0o400, expect=name)
        except HashMismatch as exc:
            res.problems.append(f"blob {path} no longer has its SHA-256 (it hashes to "
                                f"{exc.actual}): not backed up; run `courtroom fixity`")
            continue
        res.copied += 1
        res.copied_bytes += n
        blobs.append({"sha256": name, "size": n, "in": "."})
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"data_dir": str(data.resolve()), "database": facts["kind"]},
        "database": res.database,
        "files": sorted(files, key=lambda f: f["path"]),
        "blobs": blobs,
        "bases": [{"path": _rel(b, here), "manifest_sha256": bases[b]}
                  for b in sorted(used_bases)],
    }
    res.manifest_sha256 = write_manifest(out, manifest)
    res.files, res.blobs = len(files), len(blobs)
    res.seconds = time.perf_counter() - t0
    return res


def _known_blobs(previous: list[Path]) -> tuple[dict[str, tuple[Path, int]], dict[Path, str]]:
    """sha256 -> (backup directory holding it, size) over earlier backups, and the manifest
    hash of every backup directory that holds some."""
    known: dict[str, tuple[Path, int]] = {}
    bases: dict[Path, str] = {}
    for prev in previous:
        try:
            manifest, digest, problems = read_manifest(Path(prev))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        if problems:
            raise bad_request(f"cannot build on {prev}: {'; '.join(problems)}")
        root = Path(prev).resolve()
        bases[root] = digest
        for b in manifest.get("bases", []):
            bases.setdefault((root / b["path"]).resolve(), b["manifest_sha256"])
        for entry in manifest["blobs"]:
            known.setdefault(entry["sha256"], ((root / entry["in"]).resolve(), entry["size"]))
    return known, bases


def _data_files(data: Path) -> list[Path]:
    found = [data / n for n in FILE_NAMES if (data / n).is_file()]
    for tree in FILE_TREES:
        found += sorted(p for p in (data / tree).rglob("*")
                        if p.is_file() and not p.name.startswith("."))
    return found


def _copy_file(data: Path, src: Path, out: Path, whole_lines: bool = False) -> dict:
    rel = src.relative_to(data).as_posix()
    sha, size = copy_hashed(src, out / "files" / rel, 0o600, whole_lines=whole_lines)
    return {"path": rel, "sha256": sha, "size": size}


def _rel(target: Path, here: Path) -> str:
    return "." if target == here else os.path.relpath(target, here)


# -- restore -----------------------------------------------------------------------------------

def restore(cfg: Config, src: Path) -> RestoreResult:
    """Into an empty (or new) data directory and an empty database: the dump, then every file
    (0600) and blob (0400) in 0700 folders, each hash checked while it is copied. The recording
    chunks' rows are pointed at the restored files."""
    t0 = time.perf_counter()
    target = Path(cfg.data_dir)
    res = RestoreResult(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise conflict(f"{target} is not empty: restore into an empty or new directory")
    try:
        manifest, _digest, problems = read_manifest(Path(src))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    problems += _base_problems(Path(src), manifest)
    if problems:
        raise bad_request("the backup is damaged (" + "; ".join(problems) + "); run "
                          "`courtroom verify-backup`")
    db = manifest["database"]
    res.database = db["kind"]
    try:
        database.check_target(db["kind"], cfg.db_url)
        make_dirs(target)
        os.chmod(target, 0o700)
        dump = Path(src) / db["file"]
        if db["kind"] == "sqlite":
            copy_hashed(dump, database.sqlite_path(cfg.db_url), 0o600, expect=db["sha256"])
        else:
            if sha256_of(dump)[0] != db["sha256"]:
                raise bad_request(f"{dump} does not have the SHA-256 in the manifest")
            database.restore_postgres(dump, db["schema"], cfg.db_url)
    except HashMismatch as exc:
        raise bad_request(f"{Path(src) / db['file']} hashes to {exc.actual}, not the "
                          f"{db['sha256']} in the manifest: not restored") from None
    except database.ToolError as exc:
        raise Unavailable(str(exc)) from None
    for f in manifest["files"]:
        if _restore_one(Path(src) / "files" / f["path"], target, f["path"], 0o600,
                        f["sha256"], res.problems):
            res.files += 1
    for b in manifest["blobs"]:
        if _restore_one(Path(src) / b["in"] / blob_rel(b["sha256"]), target,
                        blob_rel(b["sha256"]), 0o400, b["sha256"], res.problems):
            res.blobs += 1
    res.chunk_paths_moved = database.move_chunk_paths(cfg.db_url, target.resolve())
    res.seconds = time.perf_counter() - t0
    return res


def _restore_one(src: Path, target: Path, rel: str, mode: int, sha256: str,
                 problems: list[str]) -> bool:
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        problems.append(f"{rel}: not a path inside the data directory; skipped")
        return False
    try:
        copy_hashed(src, target / rel, mode, expect=sha256)
        return True
    except HashMismatch as exc:
        problems.append(f"{src} hashes to {exc.actual}, not {sha256}: not restored")
    except FileNotFoundError:
        problems.append(f"{src} is missing: not restored")
    return False


def _base_problems(root: Path, manifest: dict) -> list[str]:
    out = []
    for base in manifest.get("bases", []):
        where = root / base["path"]
        try:
            _, digest, problems = read_manifest(where)
        except ValueError as exc:
            out.append(f"the earlier backup {where} it builds on: {exc}")
            continue
        out += problems
        if digest != base["manifest_sha256"]:
            out.append(f"the earlier backup {where} is not the one this backup builds on "
                       f"(manifest SHA-256 {digest}, expected {base['manifest_sha256']})")
    return out


# -- verify ------------------------------------------------------------------------------------

def verify(src: Path, expect: str | None = None) -> VerifyResult:
    """Check a backup without restoring it; every problem is reported, none stops the rest."""
    src = Path(src)
    res = VerifyResult(src)
    try:
        manifest, digest, problems = read_manifest(src)
    except ValueError as exc:
        res.problems.append(str(exc))
        return res
    res.manifest_sha256 = digest
    res.problems += problems
    if expect and expect.strip().lower() != digest:
        res.problems.append(f"{src / MANIFEST}: SHA-256 {digest} is not the expected {expect}")
    res.problems += _base_problems(src, manifest)
    db = manifest["database"]
    dump = src / db["file"]
    if _check(dump, db["sha256"], db["size"], res, "database dump"):
        problems, refs = database.inspect(db["kind"], dump)
        res.problems += problems
    else:
        refs = database.Refs()
    for f in manifest["files"]:
        _check(src / "files" / f["path"], f["sha256"], f["size"], res, "file")
    for b in manifest["blobs"]:
        _check(Path(os.path.normpath(src / b["in"] / blob_rel(b["sha256"]))), b["sha256"],
               b["size"], res, "blob")
    res.files, res.blobs = len(manifest["files"]), len(manifest["blobs"])
    listed = {b["sha256"] for b in manifest["blobs"]}
    for sha, what in sorted(refs.blobs.items(), key=lambda kv: kv[1]):
        res.referenced += 1
        if sha not in listed:
            res.problems.append(f"{what} names blob {sha}, which is not in the backup")
    files = {f["path"]: f["sha256"] for f in manifest["files"]}
    for path, sha in refs.chunks:
        res.referenced += 1
        parts = Path(path).parts
        rel = "/".join(parts[parts.index("recordings"):]) if "recordings" in parts else path
        if rel not in files:
            res.problems.append(f"recording chunk {rel} (SHA-256 {sha}) is in the database but "
                                "not in the backup")
        elif files[rel] != sha:
            res.problems.append(f"recording chunk {rel}: the backup holds other bytes than the "
                                f"database lists (SHA-256 {sha})")
    return res


def _check(path: Path, sha256: str, size: int, res: VerifyResult, what: str) -> bool:
    try:
        actual, n = sha256_of(path)
    except OSError as exc:
        res.problems.append(f"{what} {path} is missing or unreadable ({exc.strerror})")
        return False
    res.bytes += n
    if actual != sha256 or n != size:
        res.problems.append(f"{what} {path}: SHA-256 {actual} ({n} bytes), the manifest says "
                            f"{sha256} ({size} bytes)")
        return False
    return True
