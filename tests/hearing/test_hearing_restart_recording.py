"""A hearing whose server restarts mid-hearing and that the judge closes before anyone rejoins
media: the recordings are still finalised from the chunks written before the restart. What the
server wrote is readable by its own account only, and a stored file whose bytes changed on disk
is refused (and reported), never served under its old hash."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import stat

import av
from sqlalchemy import func, select

from hearing.api.context import STATE
from hearing.app import make_app
from hearing.commands.serve import private_files
from hearing.config import Config
from hearing.db import Database, upgrade
from hearing.models import AuditEvent, Recording, RecordingChunk
from media.blobstore import BlobStore
from support.media_samples import make_image
from support.testpeer import SignalTrack, tone

from hearing_testlib import OwnServer, invite, login, make_users, schedule
from test_hearing_evidence import Bearer, upload
from test_hearing_media import WsPeer, connect


def count(db, model, hid, **where):
    def work(s):
        q = select(func.count()).select_from(model).where(model.hearing_id == hid)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.execute(q).scalar()
    return db.run_sync(work)


async def witness_on_the_line(own, judge, hid, name, track):
    """Open the hearing with a witness (named ``name``) admitted and sending ``track`` over
    WebRTC. Returns the phone's client, its peer and its source id."""
    inv = await invite(judge, hid, "witness", name)
    source = f"p{inv['participant']['id']}"
    assert (await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})).status == 200
    phone = Bearer(await own.client(), inv["token"])
    assert (await phone.post("/api/join")).status == 200
    r = await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
    assert r.status == 200
    peer = WsPeer(await connect(phone.client, hid, inv["token"]), "W", track)
    await peer.peer.join()
    return phone, peer, source


async def recorded_witness(own, judge, db, hid):
    """Open the hearing with a witness whose phone, admitted, sends a tone; wait until two of
    its recording chunks are stored. Returns the phone's client, its peer and its source id."""
    phone, peer, source = await witness_on_the_line(own, judge, hid, "Witness A",
                                                    SignalTrack(tone(440, 1.0)))
    for _ in range(200):
        if count(db, RecordingChunk, hid, source_id=source) >= 2:
            break
        await asyncio.sleep(0.1)
    assert count(db, RecordingChunk, hid, source_id=source) >= 2
    return phone, peer, source


async def test_close_after_restart_finalises_recordings_and_files_are_private(db_url, tmp_path):
    umask = private_files()  # what `courtroom serve` does first
    try:
        await _restart_then_close(db_url, tmp_path)
    finally:
        os.umask(umask)


async def _restart_then_close(db_url, tmp_path):
    data = tmp_path / "data"
    cfg = Config(data_dir=data, database_url=db_url, transcribe=False,
                 transcribe_evidence=False, evidence_min_free_bytes=0, rtc_bind="127.0.0.1",
                 reconnect_window_s=30)
    db = Database(db_url)
    make_users(db)
    app = make_app(cfg, db)
    own = await OwnServer(app).start()
    judge = await login(own.client, app, "judge")
    hid = (await schedule(judge))["id"]
    phone, peer, source = await recorded_witness(own, judge, db, hid)
    photo = make_image(tmp_path / "photo.png")
    status, receipt = await upload(phone, hid, photo.read_bytes(), filename="photo.png",
                                   content_type="image/png")
    assert status == 200, receipt
    await own.server.close()  # the restart: nobody rejoins media afterwards
    await peer.close()
    await own.close_clients()

    db2 = Database(db_url)
    app2 = make_app(cfg, db2)
    own2 = await OwnServer(app2).start()
    try:
        judge = await login(own2.client, app2, "judge")
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200, await r.text()
        assert count(db2, Recording, hid, source_id=source) == 1
        listed = (await (await judge.get(f"/api/hearings/{hid}/recordings")).json())["recordings"]
        rec = next(x for x in listed if x["source_id"] == source)
        assert rec["id"].startswith("r") and rec["end_ms"] - rec["start_ms"] >= 2000
        r = await judge.get(rec["url"])
        body = await r.read()
        assert r.status == 200 and hashlib.sha256(body).hexdigest() == rec["sha256"]
        with av.open(io.BytesIO(body)) as container:  # playable: it decodes
            frames = sum(1 for _ in container.decode(audio=0))
        assert frames >= 50

        # every file and folder the server wrote is its own account's only
        exposed = [f"{p} {stat.filemode(p.stat().st_mode)}" for p in [data, *data.rglob("*")]
                   if p.stat().st_mode & 0o077]
        assert not exposed, exposed

        # a recording whose bytes changed on disk is refused, reported once, never served
        blob = app2[STATE].live.blobs.path_for(rec["sha256"])
        os.chmod(blob, 0o600)
        with open(blob, "r+b") as f:
            f.seek(200)
            byte = f.read(1)
            f.seek(200)
            f.write(bytes([byte[0] ^ 0xFF]))
        for _ in range(2):
            r = await judge.get(rec["url"], headers={"Range": "bytes=0-99"})
            assert r.status == 409 and (await r.json())["error"] == "fixity_failure"
        failures = db2.run_sync(lambda s: s.execute(select(AuditEvent.data).where(
            AuditEvent.hearing_id == hid, AuditEvent.action == "fixity.failure")).scalars().all())
        assert [f["sha256"] for f in failures] == [rec["sha256"]]
        # the untouched evidence photo is still served, with its tag
        r = await judge.get(f"/api/hearings/{hid}/evidence/{receipt['evidence_id']}/original")
        assert r.status == 200 and r.headers.get("ETag")
        assert await r.read() == photo.read_bytes()
    finally:
        await own2.server.close()
        await own2.close_clients()


def test_blobs_and_database_are_private_even_under_a_lax_umask(tmp_path):
    """The store and the database set their modes themselves (a server started some other way
    than `courtroom serve`)."""
    umask = os.umask(0o022)
    try:
        store = BlobStore(tmp_path / "blobs")
        ref = store.put_bytes(b"evidence")
        db = Database(f"sqlite:///{tmp_path / 'db' / 'court.sqlite3'}")
        upgrade(db.engine)
        make_users(db)
        db.close()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(ref.path.stat().st_mode) == 0o400
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in
             [ref.path.parent, ref.path.parent.parent, tmp_path / "blobs",
              *(tmp_path / "db").iterdir()]}
    assert all(m & 0o077 == 0 for m in modes.values()), modes
