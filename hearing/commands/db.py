"""`courtroom db upgrade|current`: schema migrations."""

from __future__ import annotations

from hearing.commands.common import config_from, open_db
from hearing.db import current_revision


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("db", help="database schema migrations")
    s = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = s.add_parser("upgrade", help="create or migrate the database to the latest schema")
    up.set_defaults(func=run_upgrade)
    cur = s.add_parser("current", help="print the schema revision of the database")
    cur.set_defaults(func=run_current)


def run_upgrade(args) -> int:  # noqa: ANN001
    cfg = config_from(args)
    db = open_db(cfg)
    print(f"database at schema {current_revision(db.engine)} ({db.engine.url.render_as_string()})")
    db.close()
    return 0


def run_current(args) -> int:  # noqa: ANN001
    db = open_db(config_from(args), migrate=False)
    print(current_revision(db.engine) or "empty (run `courtroom db upgrade`)")
    db.close()
    return 0
