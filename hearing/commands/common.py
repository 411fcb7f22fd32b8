"""What every command needs: the configuration, a migrated database, and a way to run the
same service workflows the server runs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Awaitable, Callable, TypeVar

from hearing.config import Config, load_config
from hearing.db import Database, upgrade
from hearing.state import AppState

T = TypeVar("T")


def config_from(args: argparse.Namespace) -> Config:
    cfg = load_config(getattr(args, "config", None), getattr(args, "data_dir", None))
    return cfg


def open_db(cfg: Config, migrate: bool = True) -> Database:
    db = Database(cfg.db_url)
    if migrate:
        upgrade(db.engine)
    return db


def run_service(cfg: Config, call: Callable[[AppState], Awaitable[T]]) -> T:
    """Run one service call on the server's runtime over the migrated database; the runtime is
    never started (no media, no transcription) and is closed after."""
    async def main() -> T:
        state = AppState(config=cfg, db=open_db(cfg))
        try:
            return await call(state)
        finally:
            await state.close()
    return asyncio.run(main())


def fail(message: str, code: int = 1) -> int:
    print(f"courtroom: {message}", file=sys.stderr)
    return code
