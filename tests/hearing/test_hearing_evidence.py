"""Evidence through the hearing server: a witness uploads a phone video over a connection that
drops, resumes and gets a receipt whose hash is the file's; the judge accepts or rejects with
a reason; playback copies and the custody log; every bad input; roles without permission;
SIGKILL mid-upload; `courtroom fixity` over what the database references; and the sound of
accepted evidence transcribed as evidence (real Whisper, marked slow)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from hearing.app import make_app
from hearing.commands import fixity as fixity_command
from hearing.config import Config
from hearing.db import Database, make_engine, upgrade
from hearing.api.context import STATE
from hearing.models import AuditEvent, EvidenceItem, Hearing, Recording, RecordingChunk
from media.blobstore import BlobStore
from support.media_samples import make_image, make_media, mp4_bomb

from hearing_testlib import invite, login, make_users, schedule

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT.parent / "shared" / "speech" / "ru-dev"


def config(tmp_path, db_url, **extra) -> Config:
    return Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                  transcribe_evidence=False, evidence_min_free_bytes=0, **extra)


@pytest.fixture
def env(db_url, tmp_path):
    db = Database(db_url)
    ids = make_users(db)
    yield tmp_path, db_url, db, ids
    db.close()


class Bearer:
    """A participant's phone: every request carries the invite token."""

    def __init__(self, client, token):
        self.token = token
        self.client, self.h = client, {"Authorization": f"Bearer {token}"}

    def _kw(self, kw):
        kw["headers"] = {**self.h, **(kw.get("headers") or {})}
        return kw

    async def get(self, path, **kw):
        return await self.client.get(path, **self._kw(kw))

    async def head(self, path, **kw):
        return await self.client.head(path, **self._kw(kw))

    async def post(self, path, json=None, **kw):
        return await self.client.post(path, json=json, **self._kw(kw))

    async def patch(self, path, **kw):
        return await self.client.patch(path, **self._kw(kw))

    async def delete(self, path, **kw):
        return await self.client.delete(path, **self._kw(kw))


async def phone(aiohttp_client, app, staff, hid, role="witness", name="Сидоров С.С.", join=True):
    inv = await invite(staff, hid, role=role, name=name)
    p = Bearer(await aiohttp_client(app), inv["token"])
    p.token = inv["token"]
    p.participant_id = inv["participant"]["id"]
    if join:
        r = await p.post("/api/join")
        assert r.status == 200, await r.text()
    return p


async def upload(who, hid, data, filename="incident.mp4", sha=True, parts=1, **extra):
    """The whole protocol; returns (status of complete, body)."""
    body = {"filename": filename, "size": len(data), "content_type": "video/mp4", **extra}
    if sha:
        body["sha256"] = hashlib.sha256(data).hexdigest()
    r = await who.post(f"/api/hearings/{hid}/evidence/uploads", json=body)
    assert r.status == 201, await r.text()
    url = (await r.json())["url"]
    step = -(-len(data) // parts)
    for at in range(0, len(data), step):
        r = await who.patch(url, data=data[at:at + step], headers={"Upload-Offset": str(at)})
        assert r.status == 204, await r.text()
        assert int(r.headers["Upload-Offset"]) == min(len(data), at + step)
    r = await who.post(url + "/complete")
    return r.status, await r.json()


async def accept(judge, hid, eid, reason="относимо к делу"):
    r = await judge.post(f"/api/hearings/{hid}/evidence/{eid}/decision",
                         json={"decision": "accept", "reason": reason})
    assert r.status == 200, await r.text()
    return await r.json()


async def wait_for(fetch, check, timeout=60.0):
    t0 = time.monotonic()
    while True:
        value = await fetch()
        if check(value):
            return value
        assert time.monotonic() - t0 < timeout, f"gave up waiting; last: {value}"
        await asyncio.sleep(0.05)


async def drain(ws, quiet=0.3):
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(ws.receive_json(), quiet))
        except asyncio.TimeoutError:
            return out


async def items(who, hid):
    r = await who.get(f"/api/hearings/{hid}/evidence")
    assert r.status == 200, await r.text()
    return (await r.json())["evidence"]


async def audit_rows(db, hid, prefix="evidence."):
    def work(s):
        return [(e.action, e.actor, e.data) for e in s.execute(
            select(AuditEvent).where(AuditEvent.hearing_id == hid).order_by(AuditEvent.seq))
            .scalars() if e.action.startswith(prefix)]
    return await db.run(work)


async def test_witness_uploads_a_phone_video_in_parts_and_the_court_sees_it(aiohttp_client, env):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h = await schedule(judge, ids["secretary"])
    hid = h["id"]
    seen = []
    app[STATE].hub.listeners.append(lambda hearing, msg: seen.append((hearing, msg)))
    witness = await phone(aiohttp_client, app, judge, hid)
    other = await phone(aiohttp_client, app, judge, hid, role="plaintiff", name="Иванов")
    sockets = {"judge": await judge.client.ws_connect(f"/api/hearings/{hid}/ws")}
    for name, who in (("witness", witness), ("other", other)):
        sockets[name] = await who.client.ws_connect(f"/api/hearings/{hid}/ws")
        await sockets[name].send_json({"type": "auth", "token": who.token})
    data = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=2.0).read_bytes()

    status, receipt = await upload(witness, hid, data, filename="../../видео с места.mp4",
                                   parts=3)
    assert status == 200, receipt
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest()
    assert receipt["size"] == len(data) and receipt["kind"] == "video"
    assert receipt["received_at"] and receipt["evidence_id"] and not receipt["already_stored"]
    assert receipt["filename"] == "../../видео с места.mp4"  # data, never a path
    blob = BlobStore(tmp_path / "blobs").path_for(receipt["sha256"])
    assert blob.read_bytes() == data
    assert not blob.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)

    # the same bytes again, from the secretary: one blob, two items
    status, again = await upload(sec, hid, data, filename="copy.mp4")
    assert status == 200 and again["already_stored"] is True
    assert again["sha256"] == receipt["sha256"] and again["evidence_id"] != receipt["evidence_id"]

    # the witness sees their own item, the other party nothing, the court both
    mine = await items(witness, hid)
    assert [i["id"] for i in mine] == [receipt["evidence_id"]]
    assert mine[0]["status"] == "pending" and mine[0]["submitted_by"].endswith(":witness")
    assert await items(other, hid) == []
    assert {i["id"] for i in await items(sec, hid)} == {receipt["evidence_id"],
                                                         again["evidence_id"]}
    eid = receipt["evidence_id"]
    url = f"/api/hearings/{hid}/evidence/{eid}"
    assert (await other.get(url + "/original")).status == 403

    # nothing is converted before the judge accepts: no playback copy, no CPU spent
    await asyncio.sleep(0.5)
    assert all(i["transcode_state"] == "pending" and i["playback_url"] is None
               and i["thumbnail_url"] is None for i in await items(judge, hid))
    assert app[STATE].evidence.conversions == {}
    assert "evidence.derived" not in [a for a, _, _ in await audit_rows(db, hid)]
    await accept(judge, hid, eid)

    # then the playback copy and thumbnail are made in the background; the original is untouched
    done = await wait_for(lambda: items(judge, hid),
                          lambda xs: all(i["transcode_state"] == "done" for i in xs))
    first = next(i for i in done if i["id"] == eid)
    assert first["transcode_progress"] == 1.0 and first["playback_url"] == url + "/playback"
    r = await witness.get(first["playback_url"])
    assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
    copy = await r.read()
    assert copy != data and av.open(io.BytesIO(copy)).streams.video
    r = await judge.get(first["thumbnail_url"])
    assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert (await r.read())[:2] == b"\xff\xd8"
    r = await judge.get(url + "/original")
    assert r.status == 200 and await r.read() == data
    assert r.headers["Content-Type"] == "video/mp4"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "/" not in disposition.split(";")[1]
    assert blob.read_bytes() == data

    # custody: who, when, from which connection, the submitted name as data, the copies
    log = await audit_rows(db, hid)
    actions = [a for a, _, _ in log]
    assert actions.count("evidence.upload_started") == 2
    assert actions.count("evidence.received") == 2
    received = next(d for a, _, d in log if a == "evidence.received" and d["evidence_id"] == eid)
    assert received["sha256"] == receipt["sha256"] and received["size"] == len(data)
    assert received["filename"] == "../../видео с места.mp4"
    assert received["connection"]["remote"] == "127.0.0.1"
    assert received["submitter"]["role"] == "witness"
    assert received["media"]["kind"] == "video"
    derived = [d for a, _, d in log if a == "evidence.derived"]
    assert derived and all(d["source_sha256"] == receipt["sha256"] for d in derived)
    assert ("evidence.accessed", f"user:{ids['judge']}:judge") in [(a, w) for a, w, _ in log]
    r = await judge.get(url + "/custody")
    chain = [e["action"] for e in (await r.json())["events"]]
    assert chain[:2] == ["evidence.upload_started", "evidence.received"]
    assert "evidence.derived" in chain
    r = await judge.get(f"/api/hearings/{hid}/audit")
    assert (await r.json())["verified"] is True

    # live events: each receipt to the court and its submitter, progress to the court only
    kinds = [m.get("event") for _, m in seen if m.get("type") == "evidence"]
    assert "received" in kinds and "transcode" in kinds
    events = {name: [(m["event"], m.get("evidence", {}).get("id", m.get("evidence_id")))
                     for m in await drain(ws) if m["type"] == "evidence"]
              for name, ws in sockets.items()}
    assert events["witness"] == [("received", eid), ("decision", eid)]
    assert events["other"] == []
    assert {("received", eid), ("received", again["evidence_id"]),
            ("transcode", eid)} <= set(events["judge"])


async def test_judge_decides_with_a_reason_and_changes_only_with_a_new_one(aiohttp_client, env):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    witness = await phone(aiohttp_client, app, judge, hid)
    data = make_media(tmp_path / "a.ogg", "ogg-opus", seconds=1.0).read_bytes()
    status, receipt = await upload(witness, hid, data, filename="звонок.ogg")
    assert status == 200 and receipt["kind"] == "audio"
    url = f"/api/hearings/{hid}/evidence/{receipt['evidence_id']}/decision"

    assert (await sec.post(url, json={"decision": "accept", "reason": "x"})).status == 403
    assert (await witness.post(url, json={"decision": "accept", "reason": "x"})).status == 403
    assert (await judge.post(url, json={"decision": "accept"})).status == 400
    assert (await judge.post(url, json={"decision": "accept", "reason": "  "})).status == 400
    assert (await judge.post(url, json={"decision": "maybe", "reason": "x"})).status == 400

    r = await judge.post(url, json={"decision": "accept", "reason": "относимо к делу"})
    assert r.status == 200 and (await r.json())["status"] == "accepted"
    r = await judge.post(url, json={"decision": "accept", "reason": "относимо к делу"})
    assert r.status == 200  # a retried request decides nothing new
    r = await judge.post(url, json={"decision": "reject", "reason": "относимо к делу"})
    assert r.status == 409  # a change needs its own reason
    r = await judge.post(url, json={"decision": "reject", "reason": "получено незаконно"})
    item = await r.json()
    assert r.status == 200 and item["status"] == "rejected"
    assert item["reason"] == "получено незаконно"
    assert [i["status"] for i in await items(witness, hid)] == ["rejected"]
    decisions = [d for a, _, d in await audit_rows(db, hid) if a == "evidence.decision"]
    assert [(d["decision"], d["previous"]["status"]) for d in decisions] == [
        ("accepted", "pending"), ("rejected", "accepted")]
    # accepted items are what the stenogram vouches for
    r = await judge.post(url, json={"decision": "accept", "reason": "пересмотрено"})
    assert r.status == 200

    def accepted(s):
        return [e.sha256 for e in s.execute(select(EvidenceItem).where(
            EvidenceItem.hearing_id == hid, EvidenceItem.status == "accepted")).scalars()]
    assert await db.run(accepted) == [receipt["sha256"]]
    r = await judge.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201, await r.text()
    r = await judge.get(f"/api/hearings/{hid}/bundle?media=1")
    assert r.status == 200
    with zipfile.ZipFile(io.BytesIO(await r.read())) as z:
        names = z.namelist()
        stored = [n for n in names if n.startswith(f"media/evidence/{receipt['sha256']}")]
        assert stored and z.read(stored[0]) == data
    # once the hearing is closed, nobody submits and the decisions stand
    for to in ("open", "closed"):
        assert (await judge.post(f"/api/hearings/{hid}/transitions", json={"to": to})).status == 200
    r = await judge.post(url, json={"decision": "reject", "reason": "поздно"})
    assert r.status == 409
    r = await judge.post(f"/api/hearings/{hid}/evidence/uploads",
                         json={"filename": "late.mp4", "size": 10})
    assert r.status == 409


async def test_roles_without_permission_get_403(aiohttp_client, env):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    admin = await login(aiohttp_client, app, "admin")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    other_hid = (await schedule(judge))["id"]
    create = {"filename": "x.mp4", "size": 100}
    path = f"/api/hearings/{hid}/evidence/uploads"
    for role in ("observer", "interpreter"):
        p = await phone(aiohttp_client, app, judge, hid, role=role, name=role)
        r = await p.post(path, json=create)
        assert r.status == 403, role
        assert "cannot submit evidence" in (await r.json())["message"]
    stranger = await phone(aiohttp_client, app, judge, other_hid)
    assert (await stranger.post(path, json=create)).status == 403
    assert (await judge2.post(path, json=create)).status == 403
    assert (await judge2.get(f"/api/hearings/{hid}/evidence")).status == 403
    not_joined = await phone(aiohttp_client, app, judge, hid, join=False)
    assert (await not_joined.post(path, json=create)).status == 403
    assert (await admin.post(path, json=create)).status == 201  # court staff may submit

    # an upload belongs to whoever started it
    witness = await phone(aiohttp_client, app, judge, hid)
    expert = await phone(aiohttp_client, app, judge, hid, role="expert", name="Эксперт")
    r = await witness.post(path, json=create)
    url = (await r.json())["url"]
    assert (await expert.patch(url, data=b"x", headers={"Upload-Offset": "0"})).status == 403
    assert (await expert.post(url + "/complete")).status == 403
    assert (await expert.delete(url)).status == 403
    assert (await judge.patch(url, data=b"x", headers={"Upload-Offset": "0"})).status == 403
    # an ejected witness can no longer continue
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    r = await judge.post(f"/api/hearings/{hid}/participants/{witness.participant_id}/eject")
    assert r.status == 200, await r.text()
    r = await witness.patch(url, data=b"x", headers={"Upload-Offset": "0"})
    assert r.status in (401, 403)


async def test_every_bad_input_gets_a_clear_error_and_leaves_no_blob(aiohttp_client, env):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url, evidence_max_bytes=300_000), db)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    w = await phone(aiohttp_client, app, judge, hid)
    path = f"/api/hearings/{hid}/evidence/uploads"
    good = make_media(tmp_path / "g.webm", "webm-vp8", seconds=1.0).read_bytes()

    async def start(data, **extra):
        r = await w.post(path, json={"filename": "f.mp4", "size": len(data), **extra})
        assert r.status == 201, await r.text()
        return (await r.json())["url"]

    async def send(data, **extra):
        url = await start(data, **extra)
        r = await w.patch(url, data=data, headers={"Upload-Offset": "0"})
        assert r.status == 204, await r.text()
        r = await w.post(url + "/complete")
        return r.status, await r.json()

    # schema errors
    for body in ({"filename": "f"}, {"size": 10}, {"filename": "f", "size": -1},
                 {"filename": "f", "size": 10, "sha256": "abc"},
                 {"filename": "f", "size": 10, "extra": 1}):
        assert (await w.post(path, json=body)).status == 400, body
    r = await w.post(path, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    # too large, declared or sent
    r = await w.post(path, json={"filename": "big.mp4", "size": 300_001})
    assert r.status == 413
    # a declared hash the bytes do not match: discarded, logged, nothing stored
    status, body = await send(good, sha256="0" * 64)
    assert status == 422 and body["error"] == "hash_mismatch"
    # not media at all, a web page renamed .mp4, a truncated video
    status, body = await send(os.urandom(5000))
    assert status == 422 and body["error"] == "rejected"
    status, body = await send(b"<html><script>alert(1)</script></html>" * 20)
    assert status == 422 and body["error"] == "rejected"
    video = make_media(tmp_path / "t.mp4", "mp4-h264", seconds=1.0).read_bytes()
    status, body = await send(video[:len(video) // 2])
    assert status == 422 and body["error"] == "rejected"
    # incomplete, wrong offset, missing offset, more than declared, unknown upload
    url = await start(good)
    r = await w.patch(url, data=good[:1000], headers={"Upload-Offset": "0"})
    assert r.status == 204
    r = await w.post(url + "/complete")
    assert r.status == 409 and (await r.json())["error"] == "upload_incomplete"
    r = await w.patch(url, data=good[1000:], headers={"Upload-Offset": "5"})
    assert r.status == 409 and r.headers["Upload-Offset"] == "1000"
    assert (await w.patch(url, data=b"x")).status == 400
    r = await w.patch(url, data=good[1000:] + b"extra", headers={"Upload-Offset": "1000"})
    assert r.status == 413
    assert (await w.head(url)).headers["Upload-Offset"] == str(len(good))
    r = await w.post(url + "/complete")
    assert r.status == 200  # what was declared arrived whole; the extra was never kept
    assert (await w.head(path + "/AAAAAAAAAAAAAAAAAAAAAAAA")).status == 404
    assert (await w.get(f"/api/hearings/{hid}/evidence/999/original")).status == 404
    # the refused ones are in the custody log; only the one good file became evidence
    refused = [d["error"] for a, _, d in await audit_rows(db, hid)
               if a == "evidence.upload_refused"]
    assert refused == ["hash_mismatch", "rejected", "rejected", "rejected"]
    assert [i["sha256"] for i in await items(judge, hid)] == [hashlib.sha256(good).hexdigest()]
    blobs = {p.name for p in BlobStore(tmp_path / "blobs").iter_blobs()}
    assert hashlib.sha256(video[:len(video) // 2]).hexdigest() not in blobs
    # a photo is accepted, labelled as an image, with a display copy and a thumbnail
    photo = make_image(tmp_path / "p.png").read_bytes()
    status, body = await send(photo)
    assert status == 200 and body["kind"] == "image"


async def test_connection_dropped_mid_upload_resumes_with_the_same_hash(aiohttp_client, env):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid, role="defendant", name="Ответчик")
    w = Bearer(await aiohttp_client(app), inv["token"])
    assert (await w.post("/api/join")).status == 200
    data = make_media(tmp_path / "v.mov", "mov-h264", seconds=3.0).read_bytes()
    r = await w.post(f"/api/hearings/{hid}/evidence/uploads", json={
        "filename": "IMG_0042.MOV", "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest()})
    url = (await r.json())["url"]

    cut = len(data) * 2 // 5
    reader, writer = await asyncio.open_connection(w.client.server.host, w.client.server.port)
    writer.write((f"PATCH {url} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n"
                  f"Authorization: Bearer {inv['token']}\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:cut])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.transport.abort()  # the phone lost its network

    r = await wait_for(lambda: w.head(url), lambda r: r.headers.get("Upload-Offset") == str(cut),
                       timeout=10)
    assert r.status == 200 and r.headers["Upload-Length"] == str(len(data))
    r = await w.patch(url, data=data[cut:], headers={"Upload-Offset": str(cut)})
    assert r.status == 204
    r = await w.post(url + "/complete")
    receipt = await r.json()
    assert r.status == 200 and receipt["sha256"] == hashlib.sha256(data).hexdigest()
    r = await w.post(url + "/complete")  # the response was lost: asking again is harmless
    assert (await r.json())["evidence_id"] == receipt["evidence_id"]
    assert len(await items(judge, hid)) == 1


async def test_a_decision_and_its_audit_row_commit_together(aiohttp_client, tmp_path,
                                                            monkeypatch):
    """On SQLite only: the transaction is the database's, the same on both."""
    db_url, db, ids = sqlite_env(tmp_path)
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    data = make_media(tmp_path / "a.ogg", "ogg-opus", seconds=1.0).read_bytes()
    status, receipt = await upload(judge, hid, data, filename="a.ogg")
    assert status == 200
    state = app[STATE]
    audit = state.audit

    def failing(s, hearing, actor, action, data=None):
        if action == "evidence.decision":
            raise RuntimeError("the audit log could not be written")
        return audit(s, hearing, actor, action, data)
    monkeypatch.setattr(state, "audit", failing)
    url = f"/api/hearings/{hid}/evidence/{receipt['evidence_id']}"
    r = await judge.post(url + "/decision", json={"decision": "accept", "reason": "относимо"})
    assert r.status == 500
    assert (await (await judge.get(url)).json())["status"] == "pending"
    assert "evidence.decision" not in [a for a, _, _ in await audit_rows(db, hid)]
    db.close()


SERVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from aiohttp import web
    from hearing.app import make_app
    from hearing.config import Config
    cfg = Config(data_dir=Path(sys.argv[1]), database_url=sys.argv[2], transcribe=False,
                 transcribe_evidence=False, evidence_min_free_bytes=0)
    web.run_app(make_app(cfg), host="127.0.0.1", port=int(sys.argv[3]),
                print=lambda *a: print("ready", flush=True), handle_signals=True)
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(tmp_path, db_url):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path), db_url, str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert "ready" in line, line
    return proc, f"http://127.0.0.1:{port}"


def sqlite_env(tmp_path):
    """For the tests whose subject is not the database (a crash on disk, the model)."""
    db_url = f"sqlite:///{tmp_path / 'courtroom.sqlite3'}"
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    db = Database(db_url)
    return db_url, db, make_users(db)


async def test_sigkill_during_upload_leaves_no_referenced_half_file(tmp_path):
    """On SQLite only: what a crash leaves is on disk, and a server start costs 8 s."""
    import aiohttp
    db_url, db, ids = sqlite_env(tmp_path)
    setup = make_app(config(tmp_path, db_url), Database(db_url))  # to schedule and invite
    from aiohttp.test_utils import TestClient, TestServer
    async with TestClient(TestServer(setup)) as c:
        from hearing_testlib import PASSWORD, Staff
        r = await c.post("/api/login", json={"username": "judge", "password": PASSWORD})
        judge = Staff(c, (await r.json())["csrf_token"])
        hid = (await schedule(judge))["id"]
        inv = await invite(judge, hid)
    data = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=4.0, width=320,
                      height=240).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    auth = {"Authorization": f"Bearer {inv['token']}"}
    proc, base = _start_server(tmp_path, db_url)
    try:
        async with aiohttp.ClientSession(base, headers=auth) as http:
            assert (await http.post("/api/join")).status == 200
            r = await http.post(f"/api/hearings/{hid}/evidence/uploads",
                                json={"filename": "v.mp4", "size": len(data), "sha256": sha})
            url = (await r.json())["url"]
            first = len(data) // 3
            r = await http.patch(url, data=data[:first], headers={"Upload-Offset": "0"})
            assert r.status == 204

            async def slow():  # half the rest, then the phone stalls
                half = (len(data) + first) // 2
                for i in range(first, half, 4096):
                    yield data[i:min(half, i + 4096)]
                await asyncio.sleep(60)
                yield data[half:]
            patch = asyncio.ensure_future(http.patch(url, data=slow(),
                                                     headers={"Upload-Offset": str(first)}))
            await asyncio.sleep(0.5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            with pytest.raises(aiohttp.ClientError):
                await patch
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    store = BlobStore(tmp_path / "blobs")
    assert not store.exists(sha)
    assert all(p.name != sha and hashlib.sha256(p.read_bytes()).hexdigest() == p.name
               for p in store.iter_blobs())
    assert await db.run(lambda s: s.execute(select(EvidenceItem)).scalars().all()) == []

    # the restarted server (in this process: one server start less) resumes the upload
    async with TestClient(TestServer(make_app(config(tmp_path, db_url),
                                              Database(db_url)))) as http:
        r = await http.head(url, headers=auth)
        offset = int(r.headers["Upload-Offset"])
        assert first <= offset < len(data)  # at least what was acknowledged
        r = await http.patch(url, data=data[offset:], headers={**auth,
                                                               "Upload-Offset": str(offset)})
        assert r.status == 204
        r = await http.post(url + "/complete", headers=auth)
        assert r.status == 200 and (await r.json())["sha256"] == sha
        eid = (await r.json())["evidence_id"]

    # a server stopped before the playback copy of an accepted item was recorded makes it at
    # its next start
    def forget_copy(s):
        item = s.get(EvidenceItem, eid)
        item.status, item.reason = "accepted", "относимо к делу"
        item.transcode_state, item.playback_sha256, item.thumbnail_sha256 = "pending", None, None
    await db.run(forget_copy)
    async with TestClient(TestServer(make_app(config(tmp_path, db_url),
                                              Database(db_url)))) as http:
        async def fetch():
            return await (await http.get(f"/api/hearings/{hid}/evidence/{eid}",
                                         headers=auth)).json()
        item = await wait_for(fetch, lambda i: i["transcode_state"] == "done")
        assert item["playback_url"] and item["thumbnail_url"]
    assert store.path_for(sha).read_bytes() == data
    db.close()


def _fixity(tmp_path, capsys, monkeypatch, db_url, *extra):
    monkeypatch.setenv("COURTROOM_DATABASE_URL", db_url)
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--config")
    fixity_command.register(parser.add_subparsers())
    args = parser.parse_args(["--data-dir", str(tmp_path), "fixity", "--json", *extra])
    code = args.func(args)
    return code, json.loads(capsys.readouterr().out)


async def test_fixity_checks_what_the_database_references(aiohttp_client, env, capsys,
                                                          monkeypatch):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    data = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=1.0).read_bytes()
    status, receipt = await upload(judge, hid, data)
    assert status == 200
    await accept(judge, hid, receipt["evidence_id"])
    done = await wait_for(lambda: items(judge, hid),
                          lambda xs: xs[0]["transcode_state"] == "done")
    item = await db.run(lambda s: s.get(EvidenceItem, done[0]["id"]))
    store = BlobStore(tmp_path / "blobs")
    # a recording chunk on disk, one whose file is gone, and a finished recording never stored
    chunk_dir = tmp_path / "recordings" / str(hid) / "p1"
    chunk_dir.mkdir(parents=True)
    chunk = chunk_dir / "000001_0.ogg"
    chunk.write_bytes(b"OggS" + os.urandom(3000))
    lost = "ab" * 32

    def rows(s):
        s.add(RecordingChunk(hearing_id=hid, source_id="p1", path=str(chunk),
                             sha256=hashlib.sha256(chunk.read_bytes()).hexdigest(), size=0,
                             start_ms=0, end_ms=2000))
        s.add(RecordingChunk(hearing_id=hid, source_id="p1", path=str(chunk_dir / "x.ogg"),
                             sha256="cd" * 32, size=0, start_ms=2000, end_ms=4000))
        s.add(Recording(hearing_id=hid, source_id="p1", sha256=lost, size=10, start_ms=0,
                        end_ms=4000, content_type="audio/ogg"))
        assert s.get(Hearing, hid) is not None
    await db.run(rows)

    code, report = _fixity(tmp_path, capsys, monkeypatch, db_url)
    assert code == 1
    assert {(f["problem"], f["sha256"]) for f in report["findings"]} == {
        ("missing", lost), ("missing", "cd" * 32)}
    # original + preview + playback copy + thumbnail + the intact chunk
    assert report["checked"] == 5

    # a flipped byte in the original and a deleted playback copy are both reported
    path = store.path_for(item.sha256)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(len(data) // 2)
        b = f.read(1)
        f.seek(len(data) // 2)
        f.write(bytes([b[0] ^ 0x10]))
    os.chmod(path, stat.S_IRUSR)
    play = store.path_for(item.playback_sha256)
    os.chmod(play, stat.S_IRUSR | stat.S_IWUSR)
    play.unlink()
    chunk.write_bytes(b"OggS changed")
    code, report = _fixity(tmp_path, capsys, monkeypatch, db_url)
    found = {(f["problem"], f["sha256"]) for f in report["findings"]}
    assert code == 1 and {("changed", item.sha256), ("missing", item.playback_sha256)} <= found
    assert sum(f["problem"] == "changed" for f in report["findings"]) == 2  # blob + chunk


def phone_recording(wav: Path, out_path: Path) -> bytes:
    """A speech clip as a phone uploads a recorded call: Ogg/Opus, 48 kHz mono."""
    with av.open(str(wav)) as src, av.open(str(out_path), "w", format="ogg") as out:
        enc = out.add_stream("libopus", rate=48_000)
        enc.layout = "mono"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
        for frame in src.decode(audio=0):
            for f in resampler.resample(frame):
                out.mux(enc.encode(f))
        out.mux(enc.encode(None))
    return out_path.read_bytes()


@pytest.mark.slow
@pytest.mark.skipif(not (SPEECH / "nsh_ru_ru_0045.wav").is_file(), reason="no speech clips")
async def test_accepted_audio_is_transcribed_as_evidence(aiohttp_client, tmp_path):
    """On SQLite only: the model run is the same on every database; the rows are tested
    above on both."""
    db_url, db, ids = sqlite_env(tmp_path)
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          evidence_min_free_bytes=0), db)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge, language="ru"))["id"]
    seen = []
    app[STATE].hub.listeners.append(lambda hearing, msg: seen.append(msg))
    w = await phone(aiohttp_client, app, judge, hid)
    # "Сначала думали, что это следы бурь, в магнитных полях земли." as a phone's Ogg/Opus
    data = phone_recording(SPEECH / "nsh_ru_ru_0045.wav", tmp_path / "call.ogg")
    status, receipt = await upload(w, hid, data, filename="call.ogg")
    assert status == 200 and receipt["kind"] == "audio"
    url = f"/api/hearings/{hid}/evidence/{receipt['evidence_id']}"
    r = await judge.post(url + "/decision", json={"decision": "accept", "reason": "запись"})
    assert r.status == 200

    async def fetch():
        return await (await judge.get(url)).json()
    item = await wait_for(fetch, lambda i: i["transcription_state"] in ("done", "failed"),
                          timeout=240)
    assert item["transcription_state"] == "done", item
    segments = item["transcript"]
    assert segments and all(s["origin"] == "evidence" for s in segments)
    text = " ".join(s["text"] for s in segments).lower()
    assert sum(w in text for w in ("думали", "следы", "магнитных", "земли")) >= 3, text
    print("evidence transcript:", text)
    assert all(0 <= s["start_ms"] < s["end_ms"] <= 6500 for s in segments)
    progress = [m for m in seen if m.get("event") == "transcription"]
    assert progress[-1]["state"] == "done" and progress[-1]["segments"] == len(segments)
    actions = [a for a, _, _ in await audit_rows(db, hid)]
    assert "evidence.transcribed" in actions
    # evidence speech is not hearing speech
    r = await judge.get(f"/api/hearings/{hid}/transcript")
    if r.status == 200:
        assert (await r.json())["segments"] == []


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


async def test_a_sample_count_bomb_gets_a_clear_refusal_and_no_server_memory(aiohttp_client,
                                                                              env):
    """A few KB whose MP4 index declares 80 million samples (FFmpeg would build an entry for
    each: gigabytes) is refused with 422, and the server process barely grows."""
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    witness = await phone(aiohttp_client, app, judge, hid)
    data = mp4_bomb(tmp_path / "bomb.mp4").read_bytes()
    assert len(data) < 8192
    try:  # the peak resident size counts from here (the test server runs in this process)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        peak = "VmHWM"
    except OSError:
        peak = "VmRSS"
    before = _status_mb("VmRSS")
    status, body = await upload(witness, hid, data, filename="clip.mp4")
    grown = max(_status_mb(peak), _status_mb("VmRSS")) - before
    assert status == 422, body
    assert "80000000 samples" in body["message"]
    assert grown < 64, f"the server grew by {grown:.0f} MB"
    refused = [d for a, _, d in await audit_rows(db, hid) if a == "evidence.upload_refused"]
    assert [(d["error"], d["kind"]) for d in refused] == [("rejected", "absurd_index")]
    assert await items(judge, hid) == []


def _uhd_for_hours(path: Path, hours: float) -> Path:
    """Two black 4K pictures ``hours`` apart: a few KB that declare hours of 4K video."""
    from fractions import Fraction
    import numpy as np
    with av.open(str(path), "w", format="matroska") as out:
        s = out.add_stream("mjpeg", rate=30)
        s.width, s.height, s.pix_fmt = 3840, 2160, "yuvj420p"
        s.codec_context.time_base = Fraction(1, 1000)
        black = av.VideoFrame.from_ndarray(np.zeros((2160, 3840, 3), np.uint8), "rgb24")
        for pts in (0, int(hours * 3600_000)):
            frame = black.reformat(format="yuvj420p")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(s.encode(frame))
        out.mux(s.encode())
    return path


async def test_conversion_waits_for_acceptance_and_refuses_what_costs_too_much(aiohttp_client,
                                                                                env):
    tmp_path, db_url, db, ids = env
    app = make_app(config(tmp_path, db_url), db)
    seen = []
    app[STATE].hub.listeners.append(lambda hearing, msg: seen.append(msg))
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    witness = await phone(aiohttp_client, app, judge, hid)
    data = _uhd_for_hours(tmp_path / "night.mkv", 8).read_bytes()
    status, receipt = await upload(witness, hid, data, filename="night.mkv")
    assert status == 200 and receipt["kind"] == "video"
    assert receipt["media"]["width"] == 3840 and receipt["media"]["duration_s"] > 8 * 3600
    eid = receipt["evidence_id"]
    await asyncio.sleep(0.5)
    assert (await items(judge, hid))[0]["transcode_state"] == "pending"
    assert not [m for m in seen if m.get("event") == "transcode"]

    await accept(judge, hid, eid)
    item = await wait_for(lambda: items(judge, hid), lambda xs: xs[0]["transcode_state"]
                          == "failed", timeout=10)
    error = item[0]["transcode_error"]
    assert "No playback copy" in error and "8.0 hours" in error and item[0]["playback_url"] is None
    # refused before any decoding: the job never ran
    assert [m["state"] for m in seen if m.get("event") == "transcode"] == ["failed"]
    failed = [d for a, _, d in await audit_rows(db, hid) if a == "evidence.transcode_failed"]
    assert [d["error"] for d in failed] == [error]
