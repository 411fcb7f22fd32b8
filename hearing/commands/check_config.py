"""`courtroom check-config [--config FILE]`: every problem of a configuration on this machine
at once (unknown keys, values of the wrong type, TLS files, the public URL, the data
directory, the database, the speech model and device), one line each; exit 1 if any is an
error. Nothing is created or migrated."""

from __future__ import annotations

import argparse
import sys

from hearing import preflight
from hearing.config import load_config


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("check-config", help="check a configuration and report every problem")
    # SUPPRESS: `courtroom --config F check-config` keeps the global option's value
    p.add_argument("--config", default=argparse.SUPPRESS,
                   help="TOML configuration file (default: as for serve)")
    p.add_argument("--no-database", action="store_true",
                   help="do not try to connect to the database")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    messages: list[str] = []
    cfg = load_config(getattr(args, "config", None), getattr(args, "data_dir", None),
                      problems=messages)
    problems = [preflight.Problem("config", m) for m in messages]
    problems += preflight.check(cfg, database=not args.no_database)
    errors = [p for p in problems if p.fatal]
    for p in problems:
        print(f"{'error' if p.fatal else 'warning'}: {p}", file=sys.stdout)
    if errors:
        print(f"{len(errors)} error(s) in the configuration", file=sys.stderr)
        return 1
    print(f"configuration OK: {cfg.base_url}/ (data in {cfg.data_dir}"
          f"{', metrics on ' + cfg.metrics_host + ':' + str(cfg.metrics_port) if cfg.metrics_port else ''})")
    return 0
