"""Text through the server: control characters, NUL, lone surrogates and decomposed letters are
cleaned where the request is read (hearing/text.py), so a correction with a vertical tab still
gives every court document and a bundle; and a hearing held without speech gives a signed empty
version that `courtroom verify` accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.api.context import STATE
from stenogram import segment_from_final

from hearing_testlib import app_with_users, login, schedule, sign_first_version

PASS = "a long signing passphrase"


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False)


def _verify(path):
    return subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(path)],
                          capture_output=True, text=True)


def _tamper(bundle, out, old: bytes, new: bytes):
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("versions/"):
                assert old in data
                data = data.replace(old, new, 1)
            zout.writestr(item, data)


async def test_control_characters_are_stripped_and_every_document_is_written(
        aiohttp_client, app_db, db_url, tmp_path):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    # a name with NUL, a lone surrogate, a C1 control and a decomposed letter (e + combining acute)
    r = await judge.post(f"/api/hearings/{hid}/participants", json={
        "role": "witness", "display_name": "Ce\u0301line\x00 \ud800Du\x85pont"})
    assert r.status == 201, await r.text()
    assert (await r.json())["display_name"] == "C\u00e9line Dupont"
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    state = app[STATE]
    seg = await state.transcripts.add_final(hid, segment_from_final(
        {"source_id": "mic-1", "start_ms": 1000, "end_ms": 3000, "text": "Ответ свидетеля",
         "language": "ru", "model": "whisper-base/int8"}))
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "edit_text", "segment_id": seg.segment_id,
        "text": "Ответ\x0bсвидетеля\x00 записан\r\nдословно", "reason": "опечатка\x0b"})
    assert r.status == 201, await r.text()
    texts = [s["text"] for s in (await r.json())["segments"]]
    assert "Ответсвидетеля записан\nдословно" in texts
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    await sign_first_version(sec, judge, hid, PASS)

    for fmt in ("pdf", "docx", "txt", "json", "srt", "vtt"):
        r = await sec.get(f"/api/hearings/{hid}/export/{fmt}")
        assert r.status == 200, (fmt, await r.text())
        if fmt not in ("pdf", "docx"):
            assert not {"\x0b", "\x00"} & set(await r.text()), fmt
    r = await sec.get(f"/api/hearings/{hid}/export/json")
    doc = json.loads(await r.text())["document"]
    assert any(s["text"] == "Ответсвидетеля записан\nдословно" for s in doc["segments"])
    r = await sec.get(f"/api/hearings/{hid}/bundle")
    assert r.status == 200
    (tmp_path / "b.zip").write_bytes(await r.read())
    assert _verify(tmp_path / "b.zip").returncode == 0

    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url}
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "--data-dir", str(tmp_path),
                          "export", str(hid), "--bundle", str(tmp_path / "cli.zip"),
                          "--format", "txt"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Ответсвидетеля записан дословно" in out.stdout
    out = _verify(tmp_path / "cli.zip")
    assert out.returncode == 0, out.stdout + out.stderr


async def test_path_parameters_and_websocket_messages_are_cleaned_too(aiohttp_client, app_db):
    from hearing.api.registry import _path_value
    assert _path_value("a\x00e\u0301\ud800", str, "name") == "a\u00e9"
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    # a key that collides once cleaned is refused, the socket stays usable
    await ws.send_str('{"type": "ping", "ty\\u0000pe": "x"}')
    msg = await ws.receive_json(timeout=5)
    while msg.get("type") != "error":
        msg = await ws.receive_json(timeout=5)
    assert msg["error"] == "bad_json" and "normalised" in msg["message"]
    await ws.close()


async def test_a_hearing_without_speech_gives_a_signed_empty_version_that_verifies(
        aiohttp_client, app_db, db_url, tmp_path):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    await sign_first_version(sec, judge, hid, PASS)
    r = await sec.get(f"/api/hearings/{hid}/bundle")
    assert r.status == 200
    bundle = tmp_path / "empty.zip"
    bundle.write_bytes(await r.read())
    with zipfile.ZipFile(bundle) as z:
        name = next(n for n in z.namelist() if n.startswith("versions/") and n.endswith(".json"))
        doc = json.loads(z.read(name))
    doc = doc.get("document", doc)
    assert doc["revisions"]["count"] == 0 and not doc["segments"]
    out = _verify(bundle)
    assert out.returncode == 0, out.stdout + out.stderr
    # one byte of the signed empty version changed: verification fails
    _tamper(bundle, tmp_path / "t.zip", b'"count":0', b'"count":1')
    assert _verify(tmp_path / "t.zip").returncode != 0
    _tamper(bundle, tmp_path / "t2.zip", b'"head_hash":"0', b'"head_hash":"1')
    assert _verify(tmp_path / "t2.zip").returncode != 0


async def test_the_command_line_applies_the_same_text_rules(aiohttp_client, tmp_path):
    def courtroom(*args):
        return subprocess.run([sys.executable, "-m", "hearing.cli", "--data-dir", str(tmp_path),
                               *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "COURTROOM_DATABASE_URL": "",
                                   "JPW": "pa\u0301ssword\x0b one"})
    assert courtroom("db", "upgrade").returncode == 0
    out = courtroom("user", "add", "judge1", "--role", "judge", "--password-env", "JPW",
                    "--name", "Ce\u0301line\x1b Dupont")
    assert out.returncode == 0, out.stderr
    out = courtroom("hearing", "create", "--case", "2-5/2026", "--title", "A\x0bB\u0301",
                    "--judge", "judge1")
    assert out.returncode == 0, out.stderr
    out = courtroom("invite", "1", "--role", "witness", "--name", "Сидоров\x07 Ә")
    assert out.returncode == 0, out.stderr
    from hearing.config import load_config
    url = load_config(data_dir=str(tmp_path), env={}).db_url
    db = Database(url)
    try:
        from sqlalchemy import text
        rows = db.run_sync(lambda s: [
            *s.execute(text("select display_name from users")).scalars(),
            *s.execute(text("select title from hearings")).scalars(),
            *s.execute(text("select display_name from participants")).scalars()])
    finally:
        db.close()
    assert {"C\u00e9line Dupont", "AB\u0301", "Сидоров Ә"} <= set(rows)
    # the password set in a shell is the one the login form sends (precomposed, no control)
    app = make_app(Config(data_dir=tmp_path, database_url=url, transcribe=False), Database(url))
    client = await aiohttp_client(app)
    r = await client.post("/api/login", json={"username": "judge1", "password": "p\u00e1ssword one"})
    assert r.status == 200, await r.text()
