"""`courtroom serve`: run the server. The configuration is checked against the machine first
(hearing.preflight): any error ends the start with one line per problem, naming the setting,
and exit code 2, before anything is created. On an empty database it creates the court
administrator account once and prints how to get in. /metrics is served on its own address
(metrics_host:metrics_port) unless disabled."""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path
from typing import TextIO

from hearing import logs, preflight
from hearing.commands.common import fail, open_db
from hearing.config import load_config
from hearing.services.accounts import first_admin
from stenogram.files import write_private


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("serve", help="run the courtroom server")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8080)")
    p.add_argument("--log-format", choices=logs.FORMATS,
                   help="json (one event per line), text, or auto: text on a terminal "
                   "(default: log_format in the configuration, auto)")
    p.add_argument("--log-level", choices=logs.LEVELS,
                   help="default: log_level in the configuration, info")
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
    messages: list[str] = []
    cfg = load_config(args.config, args.data_dir, problems=messages)
    if args.host:
        cfg.host = args.host
    if args.port:
        cfg.port = args.port
    cfg.log_format = args.log_format or cfg.log_format
    cfg.log_level = args.log_level or cfg.log_level
    problems = [preflight.Problem("config", m) for m in messages] + preflight.check(cfg)
    for problem in problems:
        print(f"courtroom: {'' if problem.fatal else 'warning: '}{problem}", file=sys.stderr)
    if any(p.fatal for p in problems):
        return 2
    logs.setup(cfg.log_format, cfg.log_level)
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
    # `invite` is another process: it knows this address only from the configuration
    url = "" if cfg.public_url else f"COURTROOM_PUBLIC_URL={cfg.base_url} "
    print(f"Participants join by invite link or QR code: {url}{cli} invite HEARING "
          "--role witness --name 'Full Name'")
    from aiohttp import web

    from hearing.app import make_app, serve_metrics
    ctx = None
    if cfg.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key or None)
    app = make_app(cfg, db, warm_up=True)
    if cfg.metrics_port and (cfg.metrics_host, cfg.metrics_port) != (cfg.host, cfg.port):
        serve_metrics(app, cfg.metrics_host, cfg.metrics_port)
        print(f"Metrics for Prometheus at http://{cfg.metrics_host}:{cfg.metrics_port}/metrics")
    try:
        web.run_app(app, host=cfg.host, port=cfg.port, ssl_context=ctx, print=None,
                    access_log=None)  # hearing.http writes one line per request
    except OSError as exc:  # the address is taken or not ours
        return fail(f"host/port: cannot listen on {cfg.host}:{cfg.port} "
                    f"({exc.strerror or exc})", 2)
    return 0
