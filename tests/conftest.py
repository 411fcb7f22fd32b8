"""Shared fixtures. Every database test runs twice: on SQLite (a fresh file) and on PostgreSQL
(a fresh schema in COURTROOM_TEST_POSTGRES_URL, default the CI machines' 127.0.0.1:5432/test).
On CI (CI=true) an unreachable PostgreSQL fails the run instead of skipping it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hearing.api import registry
from hearing.db import Database, make_engine, upgrade

# Every JSON answer in every test is checked against the schema its endpoint publishes.
registry.CHECK_RESPONSES = True

PG_URL = os.environ.get("COURTROOM_TEST_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "speech"
_pg_state: dict[str, object] = {"ran": 0}


def _postgres_reachable() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A migrated, empty database; yields its SQLAlchemy URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'courtroom.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    reason = _postgres_reachable()
    if reason:
        if ON_CI:
            pytest.fail(f"PostgreSQL is required on CI but unreachable at {PG_URL}: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    # application_name marks this test's connections, so teardown can end any a background
    # task still holds before the schema goes.
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    _pg_state["ran"] = int(_pg_state["ran"]) + 1
    yield url
    with admin.begin() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                  {"name": schema})
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


NATS_URL = os.environ.get("COURTROOM_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
def nats_url():
    """The NATS server the nodes of a several-server court share (make test starts one where
    none runs); required on CI like PostgreSQL."""
    import socket
    from urllib.parse import urlparse
    u = urlparse(NATS_URL)
    try:
        socket.create_connection((u.hostname, u.port or 4222), timeout=3).close()
    except OSError as exc:
        if ON_CI:
            pytest.fail(f"NATS is required on CI but unreachable at {NATS_URL}: {exc}")
        pytest.skip(f"NATS unreachable at {NATS_URL}: {exc}")
    return NATS_URL


@pytest.fixture
def bus_prefix(nats_url):
    """A fresh bus_prefix per test, so its nodes and workers meet nothing of another test (or
    a court) on the shared NATS server; its JetStream streams and buckets go at teardown."""
    import asyncio
    import threading

    from support.bus_prefix import delete_prefix, fresh_prefix
    prefix = fresh_prefix()
    yield prefix
    # a thread of its own: a test's event loop (Playwright's) may still run on this one
    cleanup = threading.Thread(target=lambda: asyncio.run(delete_prefix(nats_url, prefix)))
    cleanup.start()
    cleanup.join()


@pytest.fixture
def database(db_url):
    db = Database(db_url)
    yield db
    db.close()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """A test worker (pytest-xdist) ended: add up its PostgreSQL tests here."""
    ran = int(getattr(node, "workeroutput", {}).get("postgres_ran", 0))
    _pg_state["ran"] = int(_pg_state["ran"]) + ran


def pytest_sessionfinish(session, exitstatus):
    """On CI the PostgreSQL half must really have run, or the run fails (a worker of a
    parallel run reports its count to the controller, which decides)."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["postgres_ran"] = int(_pg_state["ran"])
        return
    if ON_CI and exitstatus == 0 and _pg_state["ran"] == 0 and session.testscollected:
        print("\nFAILED: no test ran against PostgreSQL on CI")
        session.exitstatus = 1
