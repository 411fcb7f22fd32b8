"""Database access: engine set-up (SQLite pragmas for durability), migrations, and a small
async facade that runs blocking SQLAlchemy work in a thread so the event loop never waits."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # the court's record is this account's only (SQLite gives -wal/-shm the same mode)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            # WAL lets readers work while the hearing writes; FULL makes every commit durable
            # before we acknowledge it (an acknowledged audit event must survive SIGKILL/power loss).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(engine: Engine):  # noqa: ANN201 - alembic is imported only when migrating
    from alembic.config import Config as AlembicConfig
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Database:
    """Runs session work in worker threads. SQLite gets one writer thread (it serialises writes
    anyway, and one thread avoids 'database is locked' retries); PostgreSQL gets a small pool."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        workers = 1 if self.engine.dialect.name == "sqlite" else 8
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")

    def _call(self, fn: Callable[[Session], T]) -> T:
        with self.sessions() as session:
            try:
                result = fn(session)
                session.commit()
                return result
            except BaseException:
                session.rollback()
                raise

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in a worker thread inside one transaction, committed on success."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, fn)

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        return self._call(fn)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()
