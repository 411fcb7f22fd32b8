"""What every command needs: the configuration and a migrated database."""

from __future__ import annotations

import argparse
import sys

from hearing.config import Config, load_config
from hearing.db import Database, upgrade


def config_from(args: argparse.Namespace) -> Config:
    cfg = load_config(getattr(args, "config", None), getattr(args, "data_dir", None))
    return cfg


def open_db(cfg: Config, migrate: bool = True) -> Database:
    db = Database(cfg.db_url)
    if migrate:
        upgrade(db.engine)
    return db


def fail(message: str, code: int = 1) -> int:
    print(f"courtroom: {message}", file=sys.stderr)
    return code
