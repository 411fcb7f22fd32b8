"""The REST API as a judge, secretary, administrator and invited participant use it."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hearing import audit
from hearing.api.context import STATE
from hearing.auth import now_utc
from hearing.models import AudioSource, Invite, Participant

from hearing_testlib import PASSWORD, app_with_users, invite, login, schedule


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path)


async def test_judge_schedules_opens_and_closes(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge, ids["secretary"], vocabulary=["ТОО «Береке»", "статья 188 УК"])
    assert h["state"] == "scheduled" and h["judge_id"] == ids["judge"]
    hid = h["id"]
    for to in ("open", "recess", "open", "closed"):
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": to})
        assert r.status == 200, await r.text()
        assert (await r.json())["state"] == to
    # closed is final, and scheduled->recess never existed
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert r.status == 409
    assert "closed" in (await r.json())["message"]
    h2 = await schedule(judge)
    r = await judge.post(f"/api/hearings/{h2['id']}/transitions", json={"to": "recess"})
    assert r.status == 409
    # the audit log has every step, chained
    r = await judge.get(f"/api/hearings/{hid}/audit")
    log = await r.json()
    actions = [e["action"] for e in log["events"]]
    assert actions[0] == "hearing.create"
    assert actions.count("hearing.transition") == 4
    assert log["verified"] is True
    assert all(e["prev_hash"] == prev["hash"] for prev, e in zip(log["events"], log["events"][1:]))


async def test_hearing_clock_starts_at_open(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    r = await judge.post(f"/api/hearings/{h['id']}/transitions", json={"to": "open"})
    body = await r.json()
    assert body["opened_at"] is not None and 0 <= body["clock_ms"] < 60_000
    r = await judge.post(f"/api/hearings/{h['id']}/transitions", json={"to": "recess"})
    assert (await r.json())["opened_at"] == body["opened_at"]  # mapped to UTC once


async def test_roles_are_enforced_on_the_server(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    other = await login(aiohttp_client, app, "judge2")
    sec = await login(aiohttp_client, app, "secretary")
    admin = await login(aiohttp_client, app, "admin")
    h = await schedule(judge, ids["secretary"])
    hid = h["id"]
    # another judge cannot see or run this hearing
    assert (await other.get(f"/api/hearings/{hid}")).status == 403
    assert (await other.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})).status == 403
    # the secretary sees it and invites, but does not preside
    assert (await sec.get(f"/api/hearings/{hid}")).status == 200
    assert (await sec.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})).status == 403
    inv = await invite(sec, hid)
    # only the administrator creates staff accounts
    body = {"username": "newjudge", "password": "a long enough pw", "role": "judge",
            "display_name": "New Judge"}
    assert (await judge.post("/api/users", json=body)).status == 403
    assert (await admin.post("/api/users", json=body)).status == 201
    assert (await admin.post("/api/users", json=body)).status == 409
    # a secretary cannot schedule hearings
    r = await sec.post("/api/hearings", json={"case_number": "1", "title": "t", "kind": "civil",
                                              "language": "ru"})
    assert r.status == 403
    # a participant cannot use staff endpoints, nor moderate
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    client = judge.client
    assert (await client.get("/api/users", headers=bearer)).status == 403
    r = await client.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit",
                          headers=bearer)
    assert r.status == 403
    # participants do not see other people's contact details
    r = await client.get(f"/api/hearings/{hid}", headers=bearer)
    assert r.status == 200
    assert all("contact" not in p for p in (await r.json())["participants"])


async def test_invite_tokens(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h1, h2 = await schedule(judge), await schedule(judge, case_number="2-9/2026")
    inv = await invite(judge, h1["id"])
    client = judge.client
    # link + QR, token shown once; stored only as a hash
    assert inv["link"].endswith("#" + inv["token"])
    assert base64.b64decode(inv["qr_png"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert inv["qr_svg"].startswith("<svg")
    r = await judge.get(f"/api/hearings/{h1['id']}/invites")
    assert inv["token"] not in await r.text()
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    r = await client.post("/api/join", headers=bearer)
    assert r.status == 200 and (await r.json())["participant"]["presence"] == "lobby"
    # bound to its hearing: another hearing is forbidden
    assert (await client.get(f"/api/hearings/{h2['id']}", headers=bearer)).status == 403
    # forged
    r = await client.get("/api/me", headers={"Authorization": "Bearer " + "A" * 43})
    assert r.status == 401
    # expired
    await db.run(lambda s: s.execute(update(Invite).values(expires_at=now_utc() - timedelta(seconds=1))))
    r = await client.get("/api/me", headers=bearer)
    assert r.status == 401 and "expired" in (await r.json())["message"]
    # revoked
    inv2 = await invite(judge, h1["id"], role="expert", name="Эксперт")
    r = await judge.delete(f"/api/hearings/{h1['id']}/invites/{inv2['id']}")
    assert r.status == 200
    r = await client.get("/api/me", headers={"Authorization": f"Bearer {inv2['token']}"})
    assert r.status == 401 and "revoked" in (await r.json())["message"]


async def test_lobby_admit_mute_eject(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    hid = h["id"]
    inv = await invite(judge, hid)
    pid = inv["participant"]["id"]
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    client = judge.client
    await client.post("/api/join", headers=bearer)
    r = await judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")
    assert r.status == 200 and (await r.json())["presence"] == "admitted"
    assert (await judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")).status == 409
    r = await judge.post(f"/api/hearings/{hid}/participants/{pid}/mute", json={"muted": True})
    assert (await r.json())["muted"] is True
    r = await client.post(f"/api/hearings/{hid}/hand", json={"raised": True}, headers=bearer)
    assert (await r.json())["hand_raised"] is True
    r = await judge.post(f"/api/hearings/{hid}/participants/{pid}/eject")
    assert r.status == 200
    # the invite no longer works
    assert (await client.get("/api/me", headers=bearer)).status == 401
    r = await judge.get(f"/api/hearings/{hid}/audit")
    actions = [e["action"] for e in (await r.json())["events"]]
    for a in ("join", "admit", "mute", "hand", "eject"):
        assert a in actions


async def test_bad_input_gets_clear_errors(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    client = judge.client
    hdr = {"X-CSRF-Token": judge.csrf, "Content-Type": "application/json"}
    r = await client.post("/api/hearings", data=b"{not json", headers=hdr)
    assert r.status == 400 and "JSON" in (await r.json())["message"]
    r = await judge.post("/api/hearings", json={"case_number": 5, "title": "t", "kind": "civil",
                                                "language": "ru"})
    assert r.status == 400 and (await r.json())["field"] == "case_number"
    r = await judge.post("/api/hearings", json={"case_number": "1", "title": "t", "kind": "war",
                                                "language": "ru"})
    assert r.status == 400
    r = await client.post("/api/hearings", data=b"x" * (300 * 1024), headers=hdr)
    assert r.status == 413
    r = await client.get("/api/no/such/route")
    assert r.status == 404 and (await r.json())["error"] == "not_found"
    r = await client.get("/api/hearings/99999")
    assert r.status == 404
    r = await client.get("/api/hearings/abc")
    assert r.status == 404
    # CSRF: a state-changing request without the header is refused
    r = await client.post("/api/hearings", json={"case_number": "1", "title": "t",
                                                 "kind": "civil", "language": "ru"})
    assert r.status == 403 and "CSRF" in (await r.json())["message"]
    # not signed in
    anon = await aiohttp_client(app)
    assert (await anon.get("/api/hearings")).status == 401


async def test_names_with_sql_and_html_are_kept_verbatim(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    nasty = "Robert'); DROP TABLE participants;-- <script>alert(1)</script> Әлия Қ."
    h = await schedule(judge, title=nasty)
    inv = await invite(judge, h["id"], name=nasty)
    r = await judge.get(f"/api/hearings/{h['id']}")
    body = await r.json()
    assert body["title"] == nasty
    assert any(p["display_name"] == nasty for p in body["participants"])
    assert inv["participant"]["display_name"] == nasty


async def test_login_sessions_and_rate_limit(aiohttp_client, app_db):
    app, db, ids = app_db
    client = await aiohttp_client(app)
    r = await client.post("/api/login", json={"username": "judge", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # the wait after the fifth failure outlasts any slow password check on a busy machine
    app[STATE].limiter.backoff = 60.0
    for _ in range(5):
        r = await client.post("/api/login", json={"username": "judge", "password": "wrong"})
        assert r.status == 401
    r = await client.post("/api/login", json={"username": "judge", "password": PASSWORD})
    assert r.status == 429  # even the right password waits now
    # unknown users fail the same way as wrong passwords
    r = await client.post("/api/login", json={"username": "nobody", "password": "x"})
    assert r.status == 401
    # logout ends the session
    staff = await login(aiohttp_client, app, "secretary")
    assert (await staff.post("/api/logout")).status == 200
    assert (await staff.get("/api/me")).status == 401


async def test_openapi_describes_every_route(aiohttp_client, app_db):
    app, db, ids = app_db
    client = await aiohttp_client(app)
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "post" in spec["paths"]["/api/hearings/{hearing_id}/transitions"]
    assert spec["paths"]["/api/hearings"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["required"] == ["case_number", "title", "kind", "language"]


async def test_an_action_and_its_audit_row_commit_together(aiohttp_client, app_db, monkeypatch):
    """A failure between the change and its audit row leaves neither behind."""
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    append = audit.append

    def failing(session, hearing_id, actor, action, *args, **kwargs):
        if action == "participant.add":
            raise RuntimeError("the disk is full")
        return append(session, hearing_id, actor, action, *args, **kwargs)

    monkeypatch.setattr(audit, "append", failing)
    r = await judge.post(f"/api/hearings/{h['id']}/participants",
                         json={"role": "witness", "display_name": "Сидоров С.С."})
    assert r.status == 500
    r = await judge.get(f"/api/hearings/{h['id']}")
    assert [p["role"] for p in (await r.json())["participants"]] == ["judge"]
    rows = await db.run(lambda s: (
        s.execute(select(Participant.role).where(Participant.hearing_id == h["id"])).all(),
        s.execute(select(AudioSource.key).where(AudioSource.hearing_id == h["id"])).all()))
    assert [r.role for r in rows[0]] == ["judge"] and len(rows[1]) == 1
    log = await (await judge.get(f"/api/hearings/{h['id']}/audit")).json()
    assert [e["action"] for e in log["events"]] == ["hearing.create"] and log["verified"]
