"""The audit chain: `courtroom audit verify` names every edited, deleted or reordered row."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import delete, select, update

from hearing import audit
from hearing.models import AuditEvent


def fill(db, n=6, hearing_id=7):
    def work(s):
        for i in range(n):
            audit.append(s, hearing_id, "user:1:judge", "mute", {"participant_id": i,
                                                                 "note": "Әділет"}, i * 1000)
    db.run_sync(work)


def cli_verify(db_url, hearing_id=7):
    env = {"COURTROOM_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "hearing.cli", "audit", "verify",
                           str(hearing_id)], capture_output=True, text=True, env=env)


def rows(db, hearing_id=7):
    return db.run_sync(lambda s: s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hearing_id).order_by(AuditEvent.id)).scalars().all())


def test_intact_chain_passes(database, db_url):
    fill(database)
    out = cli_verify(db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 rows, chain intact" in out.stdout


def test_edited_row_is_named(database, db_url):
    fill(database)
    target = rows(database)[2]
    database.run_sync(lambda s: s.execute(update(AuditEvent).where(AuditEvent.id == target.id)
                                          .values(data={"participant_id": 99})))
    out = cli_verify(db_url)
    assert out.returncode == 1
    assert f"row seq 3 (id {target.id}): content was edited" in out.stdout


def test_deleted_row_is_named(database, db_url):
    fill(database)
    target = rows(database)[3]
    database.run_sync(lambda s: s.execute(delete(AuditEvent).where(AuditEvent.id == target.id)))
    out = cli_verify(db_url)
    assert out.returncode == 1
    assert "seq 4 missing before it (deleted)" in out.stdout


def test_reordered_rows_are_named(database, db_url):
    fill(database)
    r = rows(database)
    a, b = r[1], r[4]
    # swap the whole content of two rows (as if rows had been re-inserted in another order)
    cols = ["seq", "at", "clock_ms", "actor", "action", "data", "prev_hash", "hash"]

    def swap(s):
        va = {c: getattr(a, c) for c in cols}
        vb = {c: getattr(b, c) for c in cols}
        s.execute(update(AuditEvent).where(AuditEvent.id == a.id).values(seq=-1))
        s.execute(update(AuditEvent).where(AuditEvent.id == b.id).values(**va))
        s.execute(update(AuditEvent).where(AuditEvent.id == a.id).values(**vb))
    database.run_sync(swap)
    out = cli_verify(db_url)
    assert out.returncode == 1
    assert "reordered" in out.stdout or "out of order" in out.stdout


def test_key_order_and_whitespace_do_not_change_a_hash():
    a = {"b": 1, "a": [1, 2, {"y": "ә", "x": 0.5}]}
    b = {"a": [1, 2, {"x": 0.5, "y": "ә"}], "b": 1}
    assert audit.row_hash(a) == audit.row_hash(b)
    assert audit.row_hash(a) != audit.row_hash({**a, "b": 2})
