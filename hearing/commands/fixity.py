"""`courtroom fixity`: re-hash every stored blob (evidence, recordings, derived copies) and every
recording chunk the database lists, and report any that changed or went missing. Exit status
1 when anything is wrong, 2 when the audit could not run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hearing.commands.common import config_from, fail, open_db
from hearing.services import fixity
from media.blobstore import BlobStore


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("fixity", help="re-hash every blob and recording chunk; report changed "
                                      "or missing files")
    p.add_argument("--blobs", help="blob store directory (default <data-dir>/blobs)")
    p.add_argument("--no-db", action="store_true",
                   help="check only the store's own consistency, not what the database lists")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    cfg = config_from(args)
    root = Path(args.blobs) if getattr(args, "blobs", None) else Path(cfg.data_dir) / "blobs"
    listed = fixity.Listed()
    # no SQLite file yet: nothing is referenced (and an audit must not create a database)
    no_sqlite = not cfg.database_url and not (Path(cfg.data_dir) / "courtroom.sqlite3").exists()
    if not getattr(args, "no_db", False) and not no_sqlite:
        try:
            db = open_db(cfg)
        except Exception as exc:  # noqa: BLE001 - unreachable server, bad URL...
            return fail(f"cannot open the database ({exc}); use --no-db to check the store "
                        f"alone", 2)
        try:
            listed = fixity.listed_in(db)
        finally:
            db.close()
    if not root.is_dir() and not listed.blobs and not listed.chunks:
        return fail(f"no blob store at {root}", 2)
    report, chunk_files = fixity.audit(BlobStore(root), listed, Path(cfg.data_dir))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for f in report.findings:
            print(f"{f.problem.upper():10} {f.sha256}  {f.detail}"
                  + (f"  ({f.path})" if f.path else ""))
        mb = report.bytes / 1e6
        problems = sum(f.problem != "writable" for f in report.findings)
        verdict = "all intact" if report.ok else f"{problems} problem(s)"
        counts = "" if listed.blobs is None else (
            f" ({len(listed.blobs)} blobs and {len(listed.chunks)} chunks listed in the "
            f"database, {len(report.unreferenced)} stored blobs not listed)")
        print(f"fixity: {report.checked - chunk_files} blobs and {chunk_files} recording chunks, "
              f"{mb:.1f} MB re-hashed in "
              f"{report.seconds:.1f} s{counts}: {verdict}", file=sys.stdout)
    return 0 if report.ok else 1
