"""`courtroom audit verify HEARING`: check a hearing's audit chain and name every broken row."""

from __future__ import annotations

from hearing import audit
from hearing.commands.common import config_from, open_db


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("audit", help="the audit log")
    s = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = s.add_parser("verify", help="verify the hash chain of a hearing's audit log "
                                    "(0 = the server's own log)")
    v.add_argument("hearing", type=int)
    v.set_defaults(func=run_verify)


def run_verify(args) -> int:  # noqa: ANN001
    db = open_db(config_from(args), migrate=False)
    try:
        n, problems = db.run_sync(lambda s: audit.verify(s, args.hearing))
    finally:
        db.close()
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        print(f"audit log of hearing {args.hearing}: {n} rows, {len(problems)} problem(s)")
        return 1
    print(f"audit log of hearing {args.hearing}: {n} rows, chain intact")
    return 0
