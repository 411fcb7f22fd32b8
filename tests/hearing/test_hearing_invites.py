"""Invites as a newcomer meets them: issuing again replaces the earlier link (it stops working
and its phone is disconnected), staff seats cannot be handed out by invite, and the command
line's links start with the public URL."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType

from hearing.cli import build_parser
from hearing.db import Database

from hearing_testlib import app_with_users, invite, login, make_users, receive_type, schedule


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False)


async def test_a_second_invite_revokes_the_first_and_closes_its_connection(aiohttp_client,
                                                                           app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    first = await invite(judge, hid)
    pid = first["participant"]["id"]
    phone = await aiohttp_client(app)
    ws = await phone.ws_connect(f"/api/hearings/{hid}/ws")
    await ws.send_json({"type": "auth", "token": first["token"]})
    await receive_type(ws, "hello")

    r = await judge.post(f"/api/hearings/{hid}/participants/{pid}/invites", json={})
    assert r.status == 201, await r.text()
    second = await r.json()
    assert second["link"].endswith("#" + second["token"]) and second["qr_svg"].startswith("<svg")
    # the old phone is told and disconnected; its link opens nothing any more
    seen = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type != WSMsgType.TEXT:
            break
        seen.append(msg.json()["type"])
    assert seen == ["revoked"] and (msg.type, msg.data) == (WSMsgType.CLOSE, 4401)
    old = {"Authorization": f"Bearer {first['token']}"}
    r = await phone.get("/api/me", headers=old)
    assert r.status == 401 and "revoked" in (await r.json())["message"]
    new = {"Authorization": f"Bearer {second['token']}"}
    assert (await phone.post("/api/join", headers=new)).status == 200
    # the list and the audit log say which invite replaced which
    listed = {i["id"]: i for i in (await (await judge.get(
        f"/api/hearings/{hid}/invites")).json())["invites"]}
    assert listed[first["id"]]["revoked_at"] and not listed[second["id"]]["revoked_at"]
    events = (await (await judge.get(f"/api/hearings/{hid}/audit")).json())["events"]
    revokes = [e["data"] for e in events if e["action"] == "invite.revoke"]
    assert revokes == [{"invite_id": first["id"], "replaced_by": second["id"]}]


@pytest.mark.parametrize("role", ["judge", "secretary"])
async def test_a_staff_seat_cannot_be_given_by_invite(aiohttp_client, app_db, role):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    r = await judge.post(f"/api/hearings/{h['id']}/participants",
                         json={"role": role, "display_name": "Самозванец"})
    assert r.status == 400
    assert "staff seat" in (await r.json())["message"]
    # nor the hearing's own judge seat handed to someone by link
    seat = next(p for p in (await (await judge.get(
        f"/api/hearings/{h['id']}/participants")).json())["participants"] if p["role"] == "judge")
    r = await judge.post(f"/api/hearings/{h['id']}/participants/{seat['id']}/invites", json={})
    assert r.status == 400 and "staff seat" in (await r.json())["message"]


async def test_the_schema_tells_an_administrator_that_judge_id_is_required(aiohttp_client,
                                                                           app_db):
    app, _, _ = app_db
    client = await aiohttp_client(app)
    spec = await (await client.get("/api/openapi.json")).json()
    judge_id = spec["components"]["schemas"]["HearingCreate"]["properties"]["judge_id"]
    assert "required when the caller is the administrator" in judge_id["description"]


def cli(*argv: str, data_dir) -> int:
    args = build_parser().parse_args(["--data-dir", str(data_dir), *argv])
    return args.func(args)


def test_the_command_line_invite_link_uses_the_public_url(db_url, tmp_path, monkeypatch, capsys):
    make_users(db := Database(db_url))
    db.close()
    (tmp_path / "courtroom.toml").write_text("[server]\nport = 8080\n")
    monkeypatch.setenv("COURTROOM_DATABASE_URL", db_url)
    assert cli("hearing", "create", "--case", "2-7/2026", "--title", "Ким v. Ли", "--judge",
               "judge", data_dir=tmp_path) == 0
    monkeypatch.setenv("COURTROOM_PUBLIC_URL", "https://court.example.kz/")
    capsys.readouterr()
    assert cli("invite", "1", "--role", "witness", "--name", "Сидоров", "--qr",
               str(tmp_path / "qr"), data_dir=tmp_path) == 0
    link = capsys.readouterr().out.splitlines()[0]
    assert link.startswith("https://court.example.kz/join#")
    # without a public URL: the configured address, as the help says
    monkeypatch.delenv("COURTROOM_PUBLIC_URL")
    assert cli("invite", "1", "--role", "expert", "--name", "Петров", data_dir=tmp_path) == 0
    assert capsys.readouterr().out.startswith("http://127.0.0.1:8080/join#")
    with pytest.raises(SystemExit):  # staff seats are not offered
        cli("invite", "1", "--role", "judge", "--name", "X", data_dir=tmp_path)
    with pytest.raises(SystemExit):
        cli("invite", "--help", data_dir=tmp_path)
    assert "public_url" in capsys.readouterr().out
