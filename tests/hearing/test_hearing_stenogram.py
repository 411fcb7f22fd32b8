"""The stenogram through the server: machine segments, the secretary's corrections, versions,
signatures in order, court documents with the corrected text, and a bundle that `courtroom
verify` accepts offline and rejects after one byte changes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile

import pytest

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.errors import Conflict
from hearing.api.context import STATE
from stenogram import segment_from_final

from hearing_testlib import app_with_users, login, make_users, schedule

PASS = "a long signing passphrase"


def final(source, start, text, words):
    """A machine segment as the live transcriber stores it, its speaker the source."""
    t = start
    ws = []
    for w in words:
        ws.append({"text": w, "start_ms": t, "end_ms": t + 400, "probability": 0.3 if w == "суд" else 0.95})
        t += 450
    return segment_from_final({"source_id": source, "start_ms": start, "end_ms": t, "text": text,
                               "words": ws, "language": "ru", "model": "whisper-base/int8"},
                              speaker=source)


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False)


async def test_correct_sign_export_verify(aiohttp_client, app_db, db_url, tmp_path):
    app, db, ids = app_db
    state = app[STATE]
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h = await schedule(judge, ids["secretary"])
    hid = h["id"]
    r = await judge.post(f"/api/hearings/{hid}/participants",
                         json={"role": "witness", "display_name": "Сидоров Әлібек"})
    witness = await r.json()
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    jkey = f"p{next(p['id'] for p in (await (await judge.get(f'/api/hearings/{hid}')).json())['participants'] if p['role'] == 'judge')}"
    wkey = f"p{witness['id']}"
    # two machine finals: the witness's is attributed to the judge's mic by mistake
    await state.transcripts.add_final(hid, final(jkey, 1000, "Судебное заседание открыто",
                                                 ["Судебное", "заседание", "открыто"]))
    seg = await state.transcripts.add_final(hid, final(jkey, 5000, "Я видел его у суд",
                                                       ["Я", "видел", "его", "у", "суд"]))
    r = await sec.get(f"/api/hearings/{hid}/transcript")
    body = await r.json()
    assert [s["text"] for s in body["segments"]] == ["Судебное заседание открыто",
                                                     "Я видел его у суд"]
    # the secretary corrects a word and the speaker; the machine text stays in the history
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "edit_text", "segment_id": seg.segment_id, "text": "Я видел его у суда",
        "reason": "ослышка"})
    assert r.status == 201, await r.text()
    new_id = next(s["id"] for s in (await r.json())["segments"] if "суда" in s["text"])
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "set_speaker", "segment_id": new_id, "speaker": wkey, "reason": "говорил свидетель"})
    assert r.status == 201, await r.text()
    seg_now = next(s for s in (await r.json())["segments"] if "суда" in s["text"])
    assert seg_now["speaker"]["label"] == "Сидоров Әлібек" and seg_now["edited"]
    assert seg_now["words"][0]["start_ms"] == 5000  # unchanged words keep their timing
    r = await sec.get(f"/api/hearings/{hid}/transcript/segments/{seg_now['id']}/history")
    hist = (await r.json())["revisions"]
    assert [r["kind"] for r in hist] == ["asr", "edit_text", "set_speaker"]
    assert '"Я видел его у суд"' in json.dumps(hist[0], ensure_ascii=False)
    # only speakers of this hearing
    r = await judge.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "set_speaker", "segment_id": seg_now["id"], "speaker": "nobody"})
    assert r.status == 400

    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    for who in (sec, judge):
        r = await who.post("/api/me/signing-key", json={"passphrase": PASS})
        assert r.status == 201, await r.text()
    r = await sec.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201, await r.text()
    v1 = await r.json()
    assert v1["status"] != "signed"
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 409
    # the judge cannot sign before the secretary; a wrong passphrase is refused
    r = await judge.post(f"/api/hearings/{hid}/stenogram/versions/1/sign", json={"passphrase": PASS})
    assert r.status == 409
    r = await sec.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                       json={"passphrase": "not the passphrase"})
    assert r.status == 422
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                           json={"passphrase": PASS})).status == 200
    r = await judge.post(f"/api/hearings/{hid}/stenogram/versions/1/sign", json={"passphrase": PASS})
    assert r.status == 200 and (await r.json())["status"] == "signed"

    r = await sec.get(f"/api/hearings/{hid}/export/pdf")
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(await r.read())
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Я видел его у суда" in text and "Сидоров Әлібек" in text
    r = await sec.get(f"/api/hearings/{hid}/export/srt")
    assert "Я видел его у суда" in await r.text()

    r = await sec.get(f"/api/hearings/{hid}/bundle")
    assert r.status == 200
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(await r.read())
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(bundle)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # one byte of the signed text changed: verification fails
    tampered = tmp_path / "t.zip"
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("versions/"):
                data = data.replace("суда".encode(), "сута".encode(), 1)
            zout.writestr(item, data)
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(tampered)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    # the command line exports through the same services
    cli = [sys.executable, "-m", "hearing.cli", "--data-dir", str(tmp_path), "export"]
    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url}
    out = subprocess.run([*cli, str(hid), "--bundle", str(tmp_path / "cli.zip"), "--format",
                          "txt"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Я видел его у суда" in out.stdout
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(tmp_path / "cli.zip")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run([*cli, str(hid + 1), "--bundle", str(tmp_path / "none.zip")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1 and "make a stenogram version first" in out.stderr

    # a correction after signing needs a new version; version 1 stays signed
    await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "edit_text", "segment_id": seg_now["id"], "text": "Я видел его у здания суда",
        "reason": "уточнение"})
    r = await sec.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201 and (await r.json())["number"] == 2
    r = await sec.get(f"/api/hearings/{hid}/stenogram/versions")
    vs = (await r.json())["versions"]
    assert vs[0]["status"] == "signed" and vs[1]["status"] != "signed"
    r = await sec.post(f"/api/hearings/{hid}/stenogram/versions/1/sign", json={"passphrase": PASS})
    assert r.status == 409


async def test_open_hearing_signs_tree_heads_periodically(aiohttp_client, db_url, tmp_path):
    from hearing import stenograms
    from stenogram.merkle import MerkleTree, audit_leaf, tree_head_problems
    db = Database(db_url)
    make_users(db)
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          tree_head_interval_s=0.3), db)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    hid = h["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    for i in range(3):  # the log grows; heads follow it
        await judge.patch(f"/api/hearings/{hid}", json={"title": f"t{i}"})
        await asyncio.sleep(0.5)
    heads = await db.run(lambda s: stenograms.tree_heads(s, hid))
    rows = await db.run(lambda s: stenograms.audit_rows(s, hid))
    assert len(heads) >= 3
    assert [x["tree_size"] for x in heads] == sorted({x["tree_size"] for x in heads})
    key = stenograms.server_signer(app[STATE].config).public_key_info()
    tree = MerkleTree([audit_leaf(r) for r in rows])
    for head in heads:
        assert tree_head_problems(head, {key["key_id"]: key}) == []
        assert tree.root(head["tree_size"]).hex() == head["root_hash"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})


@pytest.mark.parametrize("failure, status", [
    (OSError("the disk failed between the revision and its audit row"), 500),
    # a refusal keeps the cached transcript: it must never have taken the uncommitted revision
    (Conflict("the audit log refused the row"), 409)])
async def test_correction_commits_with_its_audit_row_or_not_at_all(aiohttp_client, app_db,
                                                                   monkeypatch, failure, status):
    from sqlalchemy import select
    from hearing import audit
    from hearing.models import AuditEvent, TranscriptRevision
    app, db, ids = app_db
    state = app[STATE]
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    seg = await state.transcripts.add_final(hid, final("seat:1", 1000, "Я видел его у суд",
                                                       ["Я", "видел", "его", "у", "суд"]))
    correction = {"kind": "edit_text", "segment_id": seg.segment_id,
                  "text": "Я видел его у суда", "reason": "ослышка"}

    def stored(s):
        return ([r.kind for r in s.execute(select(TranscriptRevision).where(
                    TranscriptRevision.hearing_id == hid).order_by(TranscriptRevision.seq))
                 .scalars()],
                [e.data["seq"] for e in s.execute(select(AuditEvent).where(
                    AuditEvent.hearing_id == hid, AuditEvent.action == "transcript.revise"))
                 .scalars()])

    append = audit.append

    def failing(session, hearing_id, actor, action, *args, **kwargs):
        if action == "transcript.revise":
            raise failure
        return append(session, hearing_id, actor, action, *args, **kwargs)

    monkeypatch.setattr(audit, "append", failing)
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json=correction)
    assert r.status == status
    # neither the revision nor its audit row, and the editor still shows the machine text
    assert await db.run(stored) == (["asr"], [])
    body = await (await sec.get(f"/api/hearings/{hid}/transcript")).json()
    assert [s["text"] for s in body["segments"]] == ["Я видел его у суд"]
    assert body["revision_seq"] == 0

    monkeypatch.setattr(audit, "append", append)
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json=correction)
    assert r.status == 201, await r.text()
    assert (await r.json())["revision"]["seq"] == 1
    assert await db.run(stored) == (["asr", "edit_text"], [1])


async def test_a_second_writer_of_the_chain_is_a_conflict_then_reloaded(aiohttp_client, app_db,
                                                                       db_url):
    from hearing.transcripts import TranscriptStore
    app, db, ids = app_db
    state = app[STATE]
    sec = await login(aiohttp_client, app, "secretary")
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    seg = await state.transcripts.add_final(hid, final("seat:1", 1000, "Я видел его у суд",
                                                       ["Я", "видел", "его", "у", "суд"]))
    other_db = Database(db_url)
    try:  # another server extends the same chain behind this one's cache
        await TranscriptStore(other_db).add_final(hid, final("seat:2", 4000, "Да", ["Да"]))
    finally:
        other_db.close()
    correction = {"kind": "edit_text", "segment_id": seg.segment_id, "text": "Я видел его у суда"}
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json=correction)
    assert r.status == 409 and "changed meanwhile" in (await r.json())["message"]
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json=correction)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["revision"]["seq"] == 2
    assert [s["text"] for s in body["segments"]] == ["Я видел его у суда", "Да"]
