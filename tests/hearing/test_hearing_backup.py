"""Backup and restore of a court while a hearing runs: a backup taken while a phone is being
recorded, with evidence and a signed stenogram version, is restored into an empty directory
(and, on PostgreSQL, a freshly created database) on a "new machine" (the old data directory
is gone), and the restored server's bundle, fixity and audit log verify. One flipped byte in a
backed-up blob makes verify-backup fail naming that file; an incremental backup copies only
the blobs the earlier one lacks."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hearing.api.context import STATE
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import RecordingChunk
from support.media_samples import make_image

from hearing_testlib import OwnServer, login, make_users, schedule, sign_first_version
from test_hearing_evidence import upload
from test_hearing_restart_recording import count, recorded_witness
from test_hearing_stenogram import PASS, final

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args, env=None) -> tuple[int, str]:
    """The command line in its own process, without blocking the server in this loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hearing.cli", *map(str, args), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("COURTROOM_")},
             **(env or {})})
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


def local_blobs(backup: Path) -> set[str]:
    return {p.name for p in backup.glob("blobs/??/??/*")}


def manifest(backup: Path) -> dict:
    return json.loads((backup / "manifest.json").read_bytes())


class FreshDatabase:
    """Where the restore goes: SQLite in the new data directory, or a new PostgreSQL database
    (with the source's search_path, so the restored schema is the one the server sees)."""

    def __init__(self, db_url: str) -> None:
        self.source = db_url
        self.name = f"test_restore_{secrets.token_hex(4)}"
        self.url = ""
        if not db_url.startswith("sqlite"):
            self.url = make_url(db_url).set(database=self.name).render_as_string(
                hide_password=False)
            self._admin().execute(text(f'CREATE DATABASE "{self.name}"'))

    def _admin(self):  # noqa: ANN202
        return create_engine(self.source, isolation_level="AUTOCOMMIT").connect()

    def env(self) -> dict:
        return {"COURTROOM_DATABASE_URL": self.url} if self.url else {}

    def drop(self) -> None:
        if self.url:
            with self._admin() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


async def test_backup_during_a_hearing_restores_and_verifies(db_url, tmp_path):
    data = tmp_path / "data"
    opts = dict(transcribe=False, transcribe_evidence=False, evidence_min_free_bytes=0,
                rtc_bind="127.0.0.1", reconnect_window_s=30)
    cfg = Config(data_dir=data, database_url=db_url, **opts)
    src_env = {"COURTROOM_DATABASE_URL": db_url}
    db = Database(db_url)
    ids = make_users(db)
    app = make_app(cfg, db)
    own = await OwnServer(app).start()
    judge = await login(own.client, app, "judge")
    sec = await login(own.client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    phone, peer, witness = await recorded_witness(own, judge, db, hid)
    photo = make_image(tmp_path / "photo.png").read_bytes()
    status, receipt = await upload(phone, hid, photo, filename="photo.png",
                                   content_type="image/png")
    assert status == 200, receipt
    # a signed version of the transcript
    await app[STATE].transcripts.add_final(hid, final(witness, 1000, "Я видел его у суда",
                                                      ["Я", "видел", "его", "у", "суда"]))
    await sign_first_version(sec, judge, hid, PASS)
    restored_db = FreshDatabase(db_url)
    own2 = None
    try:
        # the backup, while the phone is still being recorded
        chunks_before = count(db, RecordingChunk, hid)
        b1 = tmp_path / "b1"
        rc, out = await cli("--data-dir", data, "backup", b1, env=src_env)
        assert rc == 0, out
        listed = {f["path"] for f in manifest(b1)["files"]}
        assert {f"audit-heads/{hid}.jsonl", "keys/server-audit.pem",
                f"keys/user-{ids['judge']}.key.json"} <= listed, listed
        assert len([p for p in listed if p.startswith(f"recordings/{hid}/")]) >= chunks_before
        assert hashlib.sha256(photo).hexdigest() in local_blobs(b1)
        for _ in range(100):  # the hearing went on recording
            if count(db, RecordingChunk, hid) > chunks_before:
                break
            await asyncio.sleep(0.1)
        assert count(db, RecordingChunk, hid) > chunks_before

        # more evidence, then an incremental backup: only the new blobs are copied
        photo2 = make_image(tmp_path / "photo2.png", width=160, height=120).read_bytes()
        status, receipt2 = await upload(phone, hid, photo2, filename="photo2.png",
                                        content_type="image/png")
        assert status == 200, receipt2
        b2 = tmp_path / "b2"
        rc, out = await cli("--data-dir", data, "backup", b2, "--since", b1, "--json",
                            env=src_env)
        assert rc == 0, out
        result = json.loads(out)
        new = {p.name for p in (data / "blobs").glob("??/??/*")} - local_blobs(b1)
        assert hashlib.sha256(photo2).hexdigest() in new
        assert local_blobs(b2) == new and result["copied"] == len(new)
        assert result["referenced"] == len(local_blobs(b1))
        # the same directory again: nothing new to copy
        b3 = tmp_path / "b3"
        shutil.copytree(b2, b3)
        rc, out = await cli("--data-dir", data, "backup", b3, "--since", b1, "--json",
                            env=src_env)
        assert rc == 0 and json.loads(out)["copied"] == 0, out

        await own.server.close()
        await peer.close()
        await own.close_clients()
        db.close()
        shutil.move(data, tmp_path / "old-machine")  # what the restore has is the backup only

        rc, out = await cli("verify-backup", b2)
        assert rc == 0 and "intact" in out, out
        busy = tmp_path / "busy"
        busy.mkdir()
        (busy / "notes.txt").write_text("mine")
        rc, out = await cli("restore", b2, "--data-dir", busy, env=restored_db.env())
        assert rc == 2 and "not empty" in out, out
        new_dir = tmp_path / "restored"
        rc, out = await cli("restore", b2, "--data-dir", new_dir, env=restored_db.env())
        assert rc == 0, out
        modes = {p.relative_to(new_dir).as_posix(): stat.S_IMODE(p.stat().st_mode)
                 for p in [new_dir, *new_dir.rglob("*")]}
        wrong = {p: oct(m) for p, m in modes.items()
                 if m != (0o700 if (new_dir / p).is_dir() else
                          0o400 if p.startswith("blobs/") else 0o600)}
        assert not wrong, wrong

        # the restored server serves the hearing: bundle, recordings, evidence
        cfg2 = Config(data_dir=new_dir, database_url=restored_db.url, **opts)
        db2 = Database(cfg2.db_url)
        app2 = make_app(cfg2, db2)
        own2 = await OwnServer(app2).start()
        judge = await login(own2.client, app2, "judge")
        r = await judge.get(f"/api/hearings/{hid}/bundle")
        assert r.status == 200, await r.text()
        (tmp_path / "bundle.zip").write_bytes(await r.read())
        rc, out = await cli("verify", tmp_path / "bundle.zip")
        assert rc == 0, out
        recs = (await (await judge.get(f"/api/hearings/{hid}/recordings")).json())["recordings"]
        r = await judge.get(recs[0]["url"])
        assert r.status == 200 and hashlib.sha256(await r.read()).hexdigest() == recs[0]["sha256"]
        r = await judge.get(f"/api/hearings/{hid}/evidence/{receipt2['evidence_id']}/original")
        assert r.status == 200 and await r.read() == photo2
        # the judge closes the hearing: its recording is finalised from the restored chunks
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200, await r.text()
        recs = (await (await judge.get(f"/api/hearings/{hid}/recordings")).json())["recordings"]
        assert recs and all(x["id"].startswith("r") for x in recs)
        env2 = {"COURTROOM_DATA_DIR": str(new_dir), **restored_db.env()}
        rc, out = await cli("fixity", env=env2)
        assert rc == 0 and "all intact" in out, out
        rc, out = await cli("audit", "verify", hid, env=env2)
        assert rc == 0 and "chain intact" in out, out

        # one flipped byte in a blob of the first backup: both backups that hold it fail
        victim = b1 / "blobs" / hashlib.sha256(photo).hexdigest()[:2]
        victim = next(victim.glob(f"*/{hashlib.sha256(photo).hexdigest()}"))
        os.chmod(victim, 0o600)
        with open(victim, "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0x01]))
        for backup in (b1, b2):
            rc, out = await cli("verify-backup", backup)
            assert rc == 1 and str(victim) in out, out
    finally:
        if own2 is not None:
            await own2.server.close()
            await own2.close_clients()
            db2.close()
        restored_db.drop()


async def test_refusals_are_clear(db_url, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    env = {"COURTROOM_DATABASE_URL": db_url, "COURTROOM_DATA_DIR": str(data)}
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("not a backup")
    rc, out = await cli("backup", full, env=env)
    assert rc == 2 and "neither empty nor an earlier backup" in out, out
    rc, out = await cli("verify-backup", full)
    assert rc == 1 and "not a backup" in out, out
    if not db_url.startswith("sqlite"):  # PostgreSQL without its client tools
        rc, out = await cli("backup", tmp_path / "b", env={**env, "PATH": "/nonexistent"})
        assert rc == 2 and "pg_dump not found on PATH" in out, out
        old = tmp_path / "old-tools"  # a pg_dump older than the server refuses
        old.mkdir()
        (old / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
        os.chmod(old / "pg_dump", 0o700)
        rc, out = await cli("backup", tmp_path / "b", env={**env, "PATH": str(old)})
        assert rc == 2 and "version 9, older than the server" in out, out
        assert not (tmp_path / "b").exists()  # refused before anything was written
