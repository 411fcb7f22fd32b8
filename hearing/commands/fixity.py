"""`courtroom fixity`: re-hash every stored blob (evidence, recordings, derived copies) and
report any that changed or went missing. Exit status 1 when anything is wrong."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hearing.commands.common import config_from
from media.blobstore import BlobStore
from media.evidence.fixity import check


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("fixity", help="re-hash every blob and report changed or missing files")
    p.add_argument("--blobs", help="blob store directory (default <data-dir>/blobs)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    root = Path(args.blobs) if getattr(args, "blobs", None) else config_from(args).data_dir / "blobs"
    if not root.is_dir():
        print(f"courtroom: no blob store at {root}", file=sys.stderr)
        return 2
    report = check(BlobStore(root), expected=None)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for f in report.findings:
            print(f"{f.problem.upper():10} {f.sha256}  {f.detail}" + (f"  ({f.path})" if f.path else ""))
        mb = report.bytes / 1e6
        verdict = "all intact" if report.ok else f"{sum(f.problem != 'writable' for f in report.findings)} problem(s)"
        print(f"fixity: {report.checked} blobs, {mb:.1f} MB re-hashed in {report.seconds:.1f} s: {verdict}")
    return 0 if report.ok else 1
