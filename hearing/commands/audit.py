"""`courtroom audit verify HEARING` (or `--case CASE`): check an audit chain and its signed tree
heads (those kept outside the database first) and name every broken row, cut tail or re-hash."""

from __future__ import annotations

from hearing.audit import case_chain
from hearing.commands.common import config_from, open_db
from hearing.services import audit


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("audit", help="the audit log")
    s = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = s.add_parser("verify", help="verify the hash chain of a hearing's audit log "
                                    "(0 = the server's own log) and its signed tree heads, "
                                    "or with --case that of a case's own events")
    which = v.add_mutually_exclusive_group(required=True)
    which.add_argument("hearing", type=int, nargs="?")
    which.add_argument("--case", type=int, metavar="CASE",
                       help="a case's chain (its file, parties and late evidence decisions)")
    v.set_defaults(func=run_verify)


def run_verify(args) -> int:  # noqa: ANN001
    cfg = config_from(args)
    chain = case_chain(args.case) if args.case is not None else args.hearing
    name = f"case {args.case}" if args.case is not None else f"hearing {args.hearing}"
    db = open_db(cfg, migrate=False)
    try:
        rep = audit.verify_log(db, cfg, chain)
    finally:
        db.close()
    for p in rep.problems:
        print(f"FAIL {p}")
    for note in rep.notes:
        print(f"note: {note}")
    if rep.problems:
        print(f"audit log of {name}: {rep.rows} rows, {len(rep.problems)} problem(s)")
        return 1
    heads = (f", matches {rep.heads} signed tree head(s) (the latest covers "
             f"{rep.latest['tree_size']} rows, signed {rep.latest.get('timestamp')})"
             if rep.latest else "")
    print(f"audit log of {name}: {rep.rows} rows, chain intact{heads}")
    return 0
