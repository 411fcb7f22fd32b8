"""`courtroom` command line. Each subcommand lives in its own module under hearing/commands/
and registers itself through ``register(subparsers)``; the parser sets ``func(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

# One module per command group; each module defines register(subparsers).
COMMAND_MODULES = [
    "hearing.commands.serve",
    "hearing.commands.check_config",
    "hearing.commands.db",
    "hearing.commands.users",
    "hearing.commands.hearings",
    "hearing.commands.audit",
    "hearing.commands.export",
    "hearing.commands.verify",
    "hearing.commands.devices",
    "hearing.commands.simulate",
    "hearing.commands.fixity",
    "hearing.commands.backup",
    "hearing.commands.transcribe",
    "hearing.commands.search",
    "hearing.commands.asr_worker",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courtroom", description="Electronic courtroom server and tools.")
    parser.add_argument("--config", help="TOML configuration file (default: $COURTROOM_CONFIG "
                        "or <data-dir>/courtroom.toml if it exists)")
    parser.add_argument("--data-dir", help="directory for the database, blobs and keys "
                        "(default ./var, or $COURTROOM_DATA_DIR)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
