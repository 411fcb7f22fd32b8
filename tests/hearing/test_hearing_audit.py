"""The audit chain: `courtroom audit verify` names every edited, deleted or reordered row, and,
against the signed tree heads kept outside the database, a cut tail or a re-hashed chain."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from sqlalchemy import delete, select, update

from hearing import audit, stenograms
from hearing.api.context import STATE
from hearing.app import make_app
from hearing.config import Config, load_config
from hearing.db import Database
from hearing.models import AuditEvent, TreeHead
from stenogram.merkle import tree_head_problems
from stenogram.signing import SigningError

from hearing_testlib import login, make_users, schedule


def fill(db, n=6, hearing_id=7):
    def work(s):
        for i in range(n):
            audit.append(s, hearing_id, "user:1:judge", "mute", {"participant_id": i,
                                                                 "note": "Әділет"}, i * 1000)
    db.run_sync(work)


def cli_verify(db_url, data_dir, hearing_id=7):
    env = {"COURTROOM_DATABASE_URL": db_url, "COURTROOM_DATA_DIR": str(data_dir),
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "hearing.cli", "audit", "verify",
                           str(hearing_id)], capture_output=True, text=True, env=env)


def rows(db, hearing_id=7):
    return db.run_sync(lambda s: s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hearing_id).order_by(AuditEvent.id)).scalars().all())


def test_intact_chain_passes(database, db_url, tmp_path):
    fill(database)
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 rows, chain intact" in out.stdout


def test_edited_row_is_named(database, db_url, tmp_path):
    fill(database)
    target = rows(database)[2]
    database.run_sync(lambda s: s.execute(update(AuditEvent).where(AuditEvent.id == target.id)
                                          .values(data={"participant_id": 99})))
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1
    assert f"row seq 3 (id {target.id}): content was edited" in out.stdout


def test_deleted_row_is_named(database, db_url, tmp_path):
    fill(database)
    target = rows(database)[3]
    database.run_sync(lambda s: s.execute(delete(AuditEvent).where(AuditEvent.id == target.id)))
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1
    assert "seq 4 missing before it (deleted)" in out.stdout


def test_reordered_rows_are_named(database, db_url, tmp_path):
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
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1
    assert "reordered" in out.stdout or "out of order" in out.stdout


def test_key_order_and_whitespace_do_not_change_a_hash():
    a = {"b": 1, "a": [1, 2, {"y": "ә", "x": 0.5}]}
    b = {"a": [1, 2, {"x": 0.5, "y": "ә"}], "b": 1}
    assert audit.row_hash(a) == audit.row_hash(b)
    assert audit.row_hash(a) != audit.row_hash({**a, "b": 2})


# -- signed tree heads outside the database ----------------------------------------------------

def sign_head(db, cfg, hearing_id=7):
    return db.run_sync(lambda s: stenograms.sign_tree_head_now(s, cfg, hearing_id))


def truncate(db, keep, hearing_id=7):
    """What an operator with the database alone can do: cut the tail and the heads over it."""
    def work(s):
        s.execute(delete(AuditEvent).where(AuditEvent.hearing_id == hearing_id,
                                           AuditEvent.seq > keep))
        s.execute(delete(TreeHead).where(TreeHead.hearing_id == hearing_id,
                                         TreeHead.tree_size > keep))
    db.run_sync(work)


def test_heads_leave_the_database(database, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url)
    fill(database, 3)
    sign_head(database, cfg)
    fill(database, 2)
    sign_head(database, cfg)
    path = tmp_path / "audit-heads" / "7.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    in_file, bad = stenograms.read_heads(path)
    assert not bad and [h["tree_size"] for h in in_file] == [3, 5]
    assert in_file == database.run_sync(lambda s: stenograms.tree_heads(s, 7))
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "5 rows, chain intact, matches 2 signed tree head(s)" in out.stdout


def test_rolled_back_head_is_not_written(database, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url)
    fill(database, 3)

    def sign_then_fail(s):
        stenograms.sign_tree_head_now(s, cfg, 7)
        raise RuntimeError("the transaction fails after the head")
    with pytest.raises(RuntimeError):
        database.run_sync(sign_then_fail)
    assert stenograms.read_heads(tmp_path / "audit-heads" / "7.jsonl") == ([], [])


def test_truncation_with_its_heads_is_named(database, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url)
    fill(database, 20)
    sign_head(database, cfg)
    fill(database, 20)
    sign_head(database, cfg)
    fill(database, 17)
    last = sign_head(database, cfg)
    truncate(database, 40)
    n, chain = database.run_sync(lambda s: audit.verify(s, 7))
    assert (n, chain) == (40, [])  # the chain alone cannot see a cut tail
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1, out.stdout
    assert (f"FAIL rows 41-57 missing: the signed head of {last['timestamp']} covers 57 rows, "
            "the log has 40") in out.stdout


def test_rehashed_chain_is_named(database, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url)
    fill(database, 2)
    sign_head(database, cfg)
    fill(database, 4)
    sign_head(database, cfg)

    def edit_and_rehash(s):
        prev = audit.GENESIS
        for r in s.execute(select(AuditEvent).where(AuditEvent.hearing_id == 7)
                           .order_by(AuditEvent.seq)).scalars():
            if r.seq == 3:
                r.data = {"participant_id": 99}
            r.prev_hash = prev
            r.hash = prev = audit.row_hash(audit.row_document(r))
        s.execute(delete(TreeHead).where(TreeHead.hearing_id == 7))
    database.run_sync(edit_and_rehash)
    assert database.run_sync(lambda s: audit.verify(s, 7))[1] == []  # "intact" by the chain
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1, out.stdout
    assert "FAIL re-hashed: the hash chain is intact but rows 1-6 no longer hash" in out.stdout
    assert "the change is in rows 3-6" in out.stdout


def test_deleted_row_hidden_by_renumbering_is_named(database, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url)
    fill(database, 6)
    sign_head(database, cfg)

    def delete_renumber_rehash(s):
        s.execute(delete(AuditEvent).where(AuditEvent.hearing_id == 7, AuditEvent.seq == 4))
        prev = audit.GENESIS
        for i, r in enumerate(s.execute(select(AuditEvent).where(AuditEvent.hearing_id == 7)
                                        .order_by(AuditEvent.seq)).scalars(), 1):
            r.seq, r.prev_hash = i, prev
            r.hash = prev = audit.row_hash(audit.row_document(r))
        s.execute(delete(TreeHead).where(TreeHead.hearing_id == 7))
    database.run_sync(delete_renumber_rehash)
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1, out.stdout
    assert "FAIL row 6 missing: the signed head of" in out.stdout


def test_forged_head_in_the_file_is_named(database, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url)
    fill(database, 3)
    head = sign_head(database, cfg)
    path = tmp_path / "audit-heads" / "7.jsonl"
    stenograms.append_head(path, {**head, "tree_size": 2})
    out = cli_verify(db_url, tmp_path)
    assert out.returncode == 1
    assert "signature does not verify" in out.stdout


async def test_bundle_carries_the_heads_from_the_file(aiohttp_client, db_url, tmp_path):
    cfg = Config(data_dir=tmp_path, database_url=db_url, transcribe=False)
    db = Database(db_url)
    ids = make_users(db)
    app = make_app(cfg, db)
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    passphrase = "a long signing passphrase"
    for who in (sec, judge):
        assert (await who.post("/api/me/signing-key", json={"passphrase": passphrase})).status == 201
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 201
    for who in (sec, judge):
        r = await who.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                           json={"passphrase": passphrase})
        assert r.status == 200, await r.text()

    async def export(name):
        r = await sec.get(f"/api/hearings/{hid}/bundle")
        assert r.status == 200
        (tmp_path / name).write_bytes(await r.read())
        return subprocess.run([sys.executable, "-m", "hearing.cli", "verify",
                               str(tmp_path / name)], capture_output=True, text=True)

    before = await export("before.zip")
    assert before.returncode == 0, before.stdout + before.stderr
    kept = len(db.run_sync(lambda s: stenograms.audit_rows(s, hid)))
    fill(db, 5, hid)  # the log goes on; the server signs it
    sign_head(db, app[STATE].config, hid)
    truncate(db, kept, hid)
    again = subprocess.run([sys.executable, "-m", "hearing.cli", "verify",
                            str(tmp_path / "before.zip")], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout
    after = await export("after.zip")
    assert after.returncode != 0
    assert "FAIL  audit log: not truncated" in after.stdout
    assert f"covers {kept + 5}" in after.stdout
    out = cli_verify(db_url, tmp_path, hid)
    assert out.returncode == 1 and f"rows {kept + 1}-{kept + 5} missing" in out.stdout
    db.close()


# -- the audit key's passphrase ----------------------------------------------------------------

def test_audit_key_encrypted_under_a_passphrase(database, db_url, tmp_path):
    secret = tmp_path / "audit-passphrase"
    secret.write_text("correct audit passphrase\n")
    cfg = Config(data_dir=tmp_path, database_url=db_url, audit_key_passphrase_file=str(secret))
    fill(database, 4)
    head = sign_head(database, cfg)
    pem = tmp_path / "keys" / "server-audit.pem"
    assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    key = stenograms.server_public_key(cfg)
    assert tree_head_problems(head, {key["key_id"]: key}) == []
    # the environment variable names the same passphrase; the command line checks the heads
    env_cfg = load_config(env={"COURTROOM_AUDIT_KEY_PASSPHRASE": "correct audit passphrase",
                               "COURTROOM_DATA_DIR": str(tmp_path)})
    assert stenograms.server_signer(env_cfg).key_id == key["key_id"]
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "audit", "verify", "7"],
                         capture_output=True, text=True,
                         env={"COURTROOM_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin",
                              "COURTROOM_DATA_DIR": str(tmp_path),
                              "COURTROOM_AUDIT_KEY_PASSPHRASE_FILE": str(secret)})
    assert out.returncode == 0, out.stdout + out.stderr


def test_plain_audit_key_is_encrypted_when_a_passphrase_is_set(tmp_path):
    plain = stenograms.server_signer(Config(data_dir=tmp_path))
    pem = tmp_path / "keys" / "server-audit.pem"
    assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    cfg = Config(data_dir=tmp_path, audit_key_passphrase="now with a passphrase")
    assert stenograms.server_signer(cfg).key_id == plain.key_id
    assert pem.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    stenograms._server_signer.cache_clear()  # a new process without the passphrase
    with pytest.raises(SigningError, match="is encrypted: set audit_key_passphrase_file"):
        stenograms.server_signer(Config(data_dir=tmp_path))


async def test_wrong_audit_passphrase_stops_the_start(aiohttp_client, db_url, tmp_path):
    stenograms.server_signer(Config(data_dir=tmp_path, audit_key_passphrase="the right one"))
    db = Database(db_url)
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          audit_key_passphrase="not the right one"), db)
    with pytest.raises(SigningError, match="does not open with the configured passphrase"):
        await aiohttp_client(app)
    db.close()
