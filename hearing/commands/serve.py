"""`courtroom serve`: run the server. On an empty database it creates the court administrator
account once and prints how to get in."""

from __future__ import annotations

import logging
import os
import ssl
import sys
from pathlib import Path
from typing import TextIO

from hearing.commands.common import config_from, open_db
from hearing.services.accounts import first_admin
from stenogram.files import write_private


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("serve", help="run the courtroom server")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8080)")
    p.set_defaults(func=run)


def bootstrap_admin(db, cfg) -> str | None:  # noqa: ANN001
    """First start: create 'admin' with a random password, saved 0600 in the data directory."""
    password = db.run_sync(first_admin)
    if password:
        write_private(cfg.data_dir / "initial-admin-password", (password + "\n").encode())
    return password


def private_files() -> int:
    """Everything the server creates from here on (database, recordings, evidence, keys,
    logs) is readable by its own account only: files 0600, directories 0700. Returns the
    previous umask."""
    return os.umask(0o077)


def announce_admin(password: str | None, secret_file: Path, out: TextIO) -> None:
    """Tell the operator how to get in. The password itself goes only to a terminal: when the
    output is a service's log (journald, a file), it says where the 0600 file is instead."""
    if password:
        print("First start: a court administrator account was created.", file=out)
        if out.isatty():
            print(f"  user: admin   password: {password}   (also saved in {secret_file}, "
                  "mode 0600)", file=out)
        else:
            print(f"  user: admin   password in {secret_file} (mode 0600)", file=out)
    elif secret_file.exists():
        print(f"Court administrator: user 'admin', password in {secret_file}", file=out)


def run(args) -> int:  # noqa: ANN001
    private_files()
    cfg = config_from(args)
    if args.host:
        cfg.host = args.host
    if args.port:
        cfg.port = args.port
    cfg.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    db = open_db(cfg)
    password = bootstrap_admin(db, cfg)
    secret_file = cfg.data_dir / "initial-admin-password"
    print(f"Electronic courtroom at {cfg.base_url}/")
    announce_admin(password, secret_file, sys.stdout)
    cli = ".venv/bin/courtroom" + ("" if str(cfg.data_dir) in ("var", "./var")
                                   else f" --data-dir {cfg.data_dir}")
    print("Sign in as admin and create the judges and secretaries, or from a shell:")
    print(f"  {cli} user add JUDGE_NAME --role judge --generate")
    print(f"  {cli} user add SECRETARY_NAME --role secretary --generate")
    print(f"Participants join by invite link or QR code: {cli} invite HEARING --role witness "
          "--name 'Full Name'")
    from aiohttp import web

    from hearing.app import make_app
    ctx = None
    if cfg.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key or None)
    app = make_app(cfg, db)
    web.run_app(app, host=cfg.host, port=cfg.port, ssl_context=ctx, print=None,
                access_log_format='%a "%r" %s %b %Tf')
    return 0
