"""The judge's and secretary's log notes: only they write them (checked on the server), each
with its audit row; a correction replaces a note and keeps it in the history; the notes go
into the next stenogram version, are printed in the protocol as notes at their time, and
travel in the bundle, where a changed note fails `courtroom verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from hearing.api.context import STATE
from hearing.models import AuditEvent, Hearing, HearingNote, StenogramVersionRow
from hearing.notes import note_sha256
from stenogram import build_version, segment_from_final
from stenogram.canonical import canonical_sha256

from hearing_testlib import (KEY_PASS, app_with_users, login, receive_type, record_readers,
                             sign_first_version)



@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False)


def verify(path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(path)],
                          capture_output=True, text=True)


def rewrite_version(bundle, out, change, rehash: bool) -> None:
    """A copy of the bundle whose version 1 went through ``change`` (its hash recomputed
    when ``rehash``, as a forger would)."""
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "versions/v0001.json":
                v = json.loads(data)
                change(v["document"])
                if rehash:
                    v["sha256"] = canonical_sha256(v["document"])
                data = json.dumps(v, ensure_ascii=False).encode()
            zout.writestr(item, data)


async def test_notes_roles_record_protocol_bundle(aiohttp_client, app_db, tmp_path):
    app, db, ids = app_db
    state = app[STATE]
    admin, judge, sec, h, lawyer, witness, bearer, pclient = await record_readers(
        aiohttp_client, app, ids)
    other_judge = await login(aiohttp_client, app, "judge2")
    hid = h["id"]

    # no clock before the hearing opens
    r = await sec.post(f"/api/hearings/{hid}/notes", json={"text": "рано"})
    assert r.status == 409
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    # the hearing has been running for ten minutes: notes may name its earlier moments
    def ten_minutes_ago(s):
        s.get(Hearing, hid).opened_at -= timedelta(minutes=10)
    await db.run(ten_minutes_ago)
    state.clocks.pop(hid, None)

    # nobody but the hearing's judge and secretary writes; the administrator only reads
    for who in (other_judge, admin, lawyer):
        r = await who.post(f"/api/hearings/{hid}/notes", json={"text": "чужая заметка"})
        assert r.status in (401, 403), (r.status, await r.text())
    r = await pclient.post(f"/api/hearings/{hid}/notes", json={"text": "заметка"},
                           headers=bearer)
    assert r.status in (401, 403)
    for who in (other_judge, lawyer):
        assert (await who.get(f"/api/hearings/{hid}/notes")).status in (401, 403)
    assert (await pclient.get(f"/api/hearings/{hid}/notes", headers=bearer)).status in (401, 403)

    jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await receive_type(jws, "hello")
    # a note at "now": cleaned like any input, announced to the staff consoles
    r = await sec.post(f"/api/hearings/{hid}/notes", json={"text": "Свидетель вышел\x07 из зала"})
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["text"] == "Свидетель вышел из зала" and first["role"] == "secretary"
    assert first["at_ms"] >= 0 and first["author"] == "Secretary Name"
    live = await receive_type(jws, "note")
    assert live["note"]["id"] == first["id"] and live["note"]["text"] == first["text"]
    await jws.close()

    r = await sec.post(f"/api/hearings/{hid}/notes", json={"text": "Объявлен перерыв",
                                                           "at_ms": 5000})
    assert r.status == 201
    pause = await r.json()
    r = await judge.post(f"/api/hearings/{hid}/notes", json={
        "text": "Суд удаляется в совещательную комнату", "at_ms": 3000})
    assert r.status == 201 and (await r.json())["role"] == "judge"
    # the future, blank text and too long a text are refused
    for body in ({"text": "позже", "at_ms": 10**12}, {"text": "   "}, {"text": "x" * 2001}):
        assert (await sec.post(f"/api/hearings/{hid}/notes", json=body)).status == 400
    # a correction replaces the note; only its author corrects it, and only once
    fix = {"text": "Объявлен перерыв на 10 минут", "at_ms": 5000, "replaces": pause["id"]}
    assert (await judge.post(f"/api/hearings/{hid}/notes", json=fix)).status == 403
    r = await sec.post(f"/api/hearings/{hid}/notes", json=fix)
    assert r.status == 201
    corrected = await r.json()
    assert corrected["replaces"] == pause["id"]
    assert (await sec.post(f"/api/hearings/{hid}/notes", json=fix)).status == 409
    assert (await sec.post(f"/api/hearings/{hid}/notes",
                           json={**fix, "replaces": 999_999})).status == 404

    # the history keeps the replaced note; the list pages
    r = await admin.get(f"/api/hearings/{hid}/notes?limit=2")
    page1 = await r.json()
    assert r.status == 200 and len(page1["notes"]) == 2 and page1["next_cursor"]
    r = await sec.get(f"/api/hearings/{hid}/notes?cursor={page1['next_cursor']}")
    notes = page1["notes"] + (await r.json())["notes"]
    assert [n["id"] for n in notes] == sorted(n["id"] for n in notes) and len(notes) == 4
    old = next(n for n in notes if n["id"] == pause["id"])
    assert old["text"] == "Объявлен перерыв" and old["replaced_by"] == corrected["id"]

    # every note has its audit row, holding the note's hash
    def rows(s):
        logged = {e.data["note_id"]: e.data for e in s.execute(select(AuditEvent).where(
            AuditEvent.hearing_id == hid, AuditEvent.action == "note.add")).scalars()}
        return logged, {n.id: note_sha256(n) for n in s.execute(select(HearingNote)).scalars()}
    logged, hashes = await db.run(rows)
    assert {k: v["sha256"] for k, v in logged.items()} == hashes
    assert logged[corrected["id"]]["replaces"] == pause["id"]

    await state.transcripts.add_final(hid, segment_from_final({
        "source_id": "p1", "start_ms": 1000, "end_ms": 2000, "text": "Заседание открыто",
        "words": [{"text": "Заседание", "start_ms": 1000, "end_ms": 1400, "probability": 0.9},
                  {"text": "открыто", "start_ms": 1450, "end_ms": 2000, "probability": 0.9}],
        "language": "ru", "model": "whisper-base/int8"}, speaker="p1"))
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    await sign_first_version(sec, judge, hid, KEY_PASS)
    doc = await db.run(lambda s: s.execute(select(StenogramVersionRow.doc).where(
        StenogramVersionRow.hearing_id == hid)).scalar_one())
    assert [n["text"] for n in doc["notes"]] == [
        "Свидетель вышел из зала", "Объявлен перерыв", "Суд удаляется в совещательную комнату",
        "Объявлен перерыв на 10 минут"]

    # the protocol prints the current notes at their time, marked as notes, never as speech
    txt = await (await sec.get(f"/api/hearings/{hid}/export/txt")).text()
    lines = txt.splitlines()
    assert "[Примечание судьи 00:00:03] Суд удаляется в совещательную комнату" in lines
    assert "[Примечание секретаря 00:00:05] Объявлен перерыв на 10 минут" in lines
    assert "Объявлен перерыв" not in [ln.split("] ", 1)[-1] for ln in lines]
    speech = next(i for i, ln in enumerate(lines) if "Заседание открыто" in ln)
    assert speech < next(i for i, ln in enumerate(lines) if "Примечание судьи" in ln)
    srt = await (await sec.get(f"/api/hearings/{hid}/export/srt")).text()
    assert "перерыв" not in srt and "Заседание открыто" in srt
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(await (await sec.get(f"/api/hearings/{hid}/export/pdf")).read())
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Примечание секретаря 00:00:05" in text and "на 10 минут" in text

    # the bundle carries them and verifies; a changed note fails, even with the version
    # re-hashed (the note no longer matches its audit row)
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(await (await sec.get(f"/api/hearings/{hid}/bundle")).read())
    out = verify(bundle)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok    version 1: every log note is as the audit log recorded it" in out.stdout

    def change(d):
        d["notes"][-1]["text"] = "Объявлен перерыв на 20 минут"
    for rehash in (False, True):
        forged = tmp_path / f"forged-{rehash}.zip"
        rewrite_version(bundle, forged, change, rehash)
        out = verify(forged)
        assert out.returncode != 0
        assert "FAIL  version 1: every log note is as the audit log recorded it" in out.stdout

    # a note after signing needs a new version; the signed one stays as it was
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 409
    r = await sec.post(f"/api/hearings/{hid}/notes", json={"text": "Протокол прочитан"})
    assert r.status == 201, await r.text()
    r = await sec.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201 and (await r.json())["number"] == 2


def test_a_version_without_notes_keeps_its_form():
    """Versions made before notes existed hash as they did: no empty "notes" key."""
    kw = dict(hearing={"id": 1}, participants=[], segments=[],
              revisions_head={"count": 0, "head_hash": "0" * 64}, created_at="2026-01-01T00:00:00Z")
    assert "notes" not in build_version(**kw).document
    note = {"id": 1, "at_ms": 0, "role": "judge", "text": "т", "replaces": None}
    assert build_version(**kw, notes=[note]).document["notes"] == [note]
