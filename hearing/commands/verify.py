"""`courtroom verify OUT.zip`: check an exported stenogram bundle offline (no database, no
network). Prints every check; exits 1 if any failed, 2 if the file is not a bundle at all."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stenogram.verify import format_report, verify_bundle


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify an exported stenogram bundle offline",
                       description="Check the versions, signatures, revision chain, audit-log "
                       "proofs and media hashes of a bundle made by `courtroom export`.")
    p.add_argument("bundle", type=Path, help="the bundle zip (OUT.zip)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = verify_bundle(args.bundle)
    if args.json:
        for c in checks:
            print(json.dumps({"check": c.name, "ok": c.ok, "detail": c.detail},
                             ensure_ascii=False))
    else:
        print(format_report(checks))
    if len(checks) == 1 and not checks[0].ok:
        return 2
    return 0 if all(c.ok for c in checks) else 1
