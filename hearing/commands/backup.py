"""`courtroom backup OUT [--since PREVIOUS]`, `courtroom restore BACKUP --data-dir NEW` and
`courtroom verify-backup BACKUP`: a consistent backup while hearings run, brought back on a
fresh machine, and checked without restoring it. Exit status 1 when something is wrong with
the backup, 2 when the command could not run."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from hearing.commands.common import config_from, fail
from hearing.errors import DomainError
from hearing.services import backup


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("backup", help="back up the database, blobs, keys, audit heads and "
                                      "recordings while the server runs",
                       description="Write a backup into OUT (new, empty, or an earlier backup "
                       "to bring up to date). Blobs already in a --since backup are referenced, "
                       "not copied.")
    p.add_argument("out", type=Path, help="backup directory")
    p.add_argument("--since", type=Path, action="append", default=[], metavar="PREVIOUS",
                   help="an earlier backup whose blobs this one references (repeatable); it "
                   "must stay beside this one")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_backup)

    r = sub.add_parser("restore", help="restore a backup into an empty data directory",
                       description="Restore BACKUP into an empty --data-dir and the configured "
                       "database (SQLite in the data dir, or an empty PostgreSQL database).")
    r.add_argument("backup", type=Path)
    r.add_argument("--data-dir", default=argparse.SUPPRESS,
                   help="the new data directory (empty or not yet there)")
    r.set_defaults(func=run_restore)

    v = sub.add_parser("verify-backup", help="check a backup without restoring it")
    v.add_argument("backup", type=Path)
    v.add_argument("--expect", metavar="SHA256",
                   help="the manifest hash `courtroom backup` printed, kept elsewhere")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=run_verify)


def run_backup(args) -> int:  # noqa: ANN001
    cfg = config_from(args)
    try:
        res = backup.backup(cfg, args.out, args.since)
    except DomainError as exc:
        return fail(exc.message, 2)
    if args.json:
        print(json.dumps({**asdict(res), "out": str(res.out)}, indent=2))
    else:
        for p in res.problems:
            print(f"FAIL {p}")
        db = res.database
        print(f"backup {res.out}: {db['kind']} database ({db['size'] / 1e6:.1f} MB), "
              f"{res.files} files, {res.blobs} blobs ({res.copied} copied, "
              f"{res.copied_bytes / 1e6:.1f} MB; {res.referenced} in earlier backups) in "
              f"{res.seconds:.1f} s")
        print(f"manifest sha256 {res.manifest_sha256}")
    return 1 if res.problems else 0


def run_restore(args) -> int:  # noqa: ANN001
    if not getattr(args, "data_dir", None):
        return fail("say where to restore: --data-dir NEW", 2)
    cfg = config_from(args)
    try:
        res = backup.restore(cfg, args.backup)
    except DomainError as exc:
        return fail(exc.message, 2)
    for p in res.problems:
        print(f"FAIL {p}")
    print(f"restored {args.backup} into {res.data_dir}: {res.database} database, {res.files} "
          f"files, {res.blobs} blobs, {res.chunk_paths_moved} recording chunk paths updated, "
          f"in {res.seconds:.1f} s" + (f"; {len(res.problems)} problem(s)" if res.problems
                                       else ""))
    return 1 if res.problems else 0


def run_verify(args) -> int:  # noqa: ANN001
    res = backup.verify(args.backup, args.expect)
    if args.json:
        print(json.dumps({**asdict(res), "backup": str(res.backup), "ok": res.ok}, indent=2))
    else:
        for p in res.problems:
            print(f"FAIL {p}")
        verdict = "intact" if res.ok else f"{len(res.problems)} problem(s)"
        print(f"backup {res.backup}: {res.files} files and {res.blobs} blobs re-hashed "
              f"({res.bytes / 1e6:.1f} MB), {res.referenced} blobs and chunks the database "
              f"names checked: {verdict}")
    return 0 if res.ok else 1
