"""The parties' workplace as a lawyer uses it: an account made by the court administrator,
linked by the court to a case; the case's hearings in the lawyer's calendar, joined without
any invite from the court; the signed protocol and stenogram readable once both signatures
are on, never before; nothing of the court's own work (opening, admitting, correcting,
signing, scheduling, the audit log) and nothing of other cases. A citizen's invite reads the
signed protocol of its own hearing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from hearing.api.context import STATE
from hearing.models import Notice
from stenogram import segment_from_final

from hearing_testlib import (KEY_PASS, LAWYER, PASSWORD, app_with_users, invite, login,
                             receive_type, schedule)



@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False)


async def link_to_case(judge, case_id: int, user_id: int) -> int:
    """The judge links the account to the case as a defendant's lawyer; the party's id."""
    r = await judge.post(f"/api/cases/{case_id}/parties", json={
        "role": "defence_lawyer", "display_name": "Омаров Н. (защитник)",
        "contact": "omarov@example.kz", "user_id": user_id})
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


def final(source: str, start: int, text: str):
    words, t = [], start
    for w in text.split():
        words.append({"text": w, "start_ms": t, "end_ms": t + 400, "probability": 0.95})
        t += 450
    return segment_from_final({"source_id": source, "start_ms": start, "end_ms": t,
                               "text": text, "words": words, "language": "ru",
                               "model": "whisper-base/int8"}, speaker=source)


async def test_lawyer_reaches_the_hearings_of_their_case_and_nothing_else(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    # only the court administrator creates accounts, now also for lawyers
    assert (await judge.post("/api/users", json=LAWYER)).status == 403
    r = await admin.post("/api/users", json=LAWYER)
    assert r.status == 201, await r.text()
    account = await r.json()
    assert account["role"] == "lawyer" and account["contact"] == "omarov@example.kz"
    r = await admin.get("/api/users?role=lawyer")
    assert [u["username"] for u in (await r.json())["users"]] == ["lawyer"]

    later = await schedule(judge, ids["secretary"], scheduled_at="2026-12-10T10:00:00+05:00")
    first = await schedule(judge, ids["secretary"], scheduled_at="2026-12-03T15:00:00+05:00")
    other = await schedule(judge, ids["secretary"], case_number="2-9/2026",
                           scheduled_at="2026-12-04T10:00:00+05:00")
    assert first["case_id"] == later["case_id"] != other["case_id"]
    party_id = await link_to_case(judge, first["case_id"], account["id"])

    lawyer = await login(aiohttp_client, app, "lawyer")
    me = await (await lawyer.get("/api/me")).json()
    assert me["kind"] == "party" and me["role"] == "lawyer"

    cases = await (await lawyer.get("/api/me/cases")).json()
    assert [c["number"] for c in cases["cases"]] == ["2-1234/2026"]
    assert cases["cases"][0]["acting_as"][0]["role"] == "defence_lawyer"
    r = await lawyer.get("/api/me/calendar?from=2026-12-01T00:00:00Z&to=2026-12-31T00:00:00Z")
    assert r.status == 200, await r.text()
    cal = (await r.json())["hearings"]
    assert [h["id"] for h in cal] == [first["id"], later["id"]]  # in time order, not id order
    assert all(h["joinable"] and h["signed_version"] is None for h in cal)
    r = await lawyer.get("/api/me/calendar?from=2026-12-05T00:00:00Z&to=2026-12-01T00:00:00Z")
    assert r.status == 400
    listed = (await (await lawyer.get("/api/hearings")).json())["hearings"]
    assert sorted(h["id"] for h in listed) == sorted([first["id"], later["id"]])

    # joining needs no invite from the court: the account gets its own short-lived link
    r = await lawyer.post(f"/api/hearings/{first['id']}/join")
    assert r.status == 201, await r.text()
    joined = await r.json()
    assert joined["link"].endswith("/join#" + joined["token"])
    assert joined["role"] == "defence_lawyer"
    bearer = {"Authorization": f"Bearer {joined['token']}"}
    r = await lawyer.client.get(f"/api/hearings/{first['id']}", headers=bearer)
    assert r.status == 200
    seat = next(p for p in (await r.json())["participants"] if p["id"] == joined["participant_id"])
    assert seat["user_id"] == account["id"] and seat["display_name"] == "Омаров Н. (защитник)"
    again = await (await lawyer.post(f"/api/hearings/{first['id']}/join")).json()
    assert again["participant_id"] == joined["participant_id"] and again["token"] != joined["token"]
    r = await lawyer.post(f"/api/hearings/{later['id']}/join")
    assert r.status == 201
    second = await r.json()
    assert second["participant_id"] != joined["participant_id"]
    # the second hearing's link opens its live connection as that participant (on the phone
    # the link is opened on: no session there)
    phone = await aiohttp_client(app)
    async with phone.ws_connect(f"/api/hearings/{later['id']}/ws") as ws:
        await ws.send_json({"type": "auth", "token": second["token"]})
        hello = await receive_type(ws, "hello")
        assert hello["you"]["kind"] == "participant"
        assert hello["you"]["participant_id"] == second["participant_id"]
    # the account's own session never takes the seat past the lobby: only the join link does
    async with lawyer.client.ws_connect(f"/api/hearings/{first['id']}/ws") as ws:
        hello = await receive_type(ws, "hello")
        assert hello["you"]["kind"] == "party"
        await ws.send_json({"type": "join"})
        assert (await receive_type(ws, "error"))["error"] == "forbidden"
    # ... and the judge's audit log says who issued it
    log = (await (await judge.get(f"/api/hearings/{first['id']}/audit")).json())["events"]
    mine = [e for e in log if e["action"] == "invite.create"]
    assert mine and all(e["data"]["self"] and e["actor"] == f"user:{account['id']}:lawyer"
                        for e in mine)
    own_add = next(e for e in log if e["action"] == "participant.add")
    assert own_add["data"]["case_party_id"] == party_id

    # another case's hearing stays closed to the account
    assert (await lawyer.post(f"/api/hearings/{other['id']}/join")).status == 403
    assert (await lawyer.get(f"/api/hearings/{other['id']}")).status == 403

    # nothing of the court's own work, in the lawyer's own case either
    hid, pid = first["id"], joined["participant_id"]
    refused = [
        lawyer.post(f"/api/hearings/{hid}/transitions", json={"to": "open"}),
        lawyer.post(f"/api/hearings/{hid}/participants/{pid}/admit"),
        lawyer.post(f"/api/hearings/{hid}/participants", json={"role": "witness",
                                                             "display_name": "X"}),
        lawyer.post(f"/api/hearings/{hid}/participants/{pid}/invites", json={}),
        lawyer.post(f"/api/hearings/{hid}/transcript/revisions", json={
            "kind": "edit_text", "segment_id": "s1", "text": "x", "reason": "y"}),
        lawyer.get(f"/api/hearings/{hid}/transcript"),
        lawyer.post(f"/api/hearings/{hid}/stenogram/versions"),
        lawyer.get(f"/api/hearings/{hid}/stenogram/versions"),
        lawyer.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                    json={"passphrase": KEY_PASS}),
        lawyer.post("/api/me/signing-key", json={"passphrase": KEY_PASS}),
        lawyer.get(f"/api/hearings/{hid}/audit"),
        lawyer.get(f"/api/hearings/{hid}/bundle"),
        lawyer.get(f"/api/hearings/{hid}/invites"),
        lawyer.post("/api/hearings", json={"case_number": "2-1234/2026", "title": "t",
                                           "kind": "civil", "language": "ru"}),
        lawyer.get("/api/users"),
        lawyer.post("/api/users", json={**LAWYER, "username": "lawyer2"}),
    ]
    for call in refused:
        r = await call
        assert r.status == 403, (r.method, r.url.path, r.status, await r.text())

    # the ejected lawyer cannot come back by joining again
    r = await judge.post(f"/api/hearings/{later['id']}/transitions", json={"to": "open"})
    r = await judge.post(f"/api/hearings/{later['id']}/participants/{second['participant_id']}/eject")
    assert r.status == 200, await r.text()
    assert (await lawyer.post(f"/api/hearings/{later['id']}/join")).status == 409

    # an unlinked account loses the case at once
    r = await judge.delete(f"/api/cases/{first['case_id']}/parties/{party_id}")
    assert r.status == 204, await r.text()
    assert (await lawyer.post(f"/api/hearings/{first['id']}/join")).status == 403
    assert (await (await lawyer.get("/api/me/cases")).json())["cases"] == []


async def test_signed_record_for_the_parties_and_the_citizens_protocol(aiohttp_client, app_db):
    app, db, ids = app_db
    state = app[STATE]
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    account = await (await admin.post("/api/users", json=LAWYER)).json()
    h = await schedule(judge, ids["secretary"], scheduled_at="2026-12-03T15:00:00+05:00")
    elsewhere = await schedule(judge, ids["secretary"], case_number="2-9/2026")
    hid = h["id"]
    await link_to_case(judge, h["case_id"], account["id"])
    lawyer = await login(aiohttp_client, app, "lawyer")
    witness = await invite(judge, hid)
    stranger = await invite(judge, elsewhere["id"])
    as_witness = {"Authorization": f"Bearer {witness['token']}"}
    as_stranger = {"Authorization": f"Bearer {stranger['token']}"}
    client = lawyer.client

    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    await state.transcripts.add_final(hid, final(f"p{witness['participant']['id']}", 1000,
                                                 "Я видел его у здания суда"))
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    for who in (sec, judge):
        assert (await who.post("/api/me/signing-key", json={"passphrase": KEY_PASS})).status == 201
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 201

    async def reads(fmt: str, headers=None) -> int:
        return (await client.get(f"/api/hearings/{hid}/export/{fmt}", headers=headers)).status

    # unsigned, and signed by the secretary only: the court's alone
    assert await reads("pdf") == 403 and await reads("txt", as_witness) == 403
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                           json={"passphrase": KEY_PASS})).status == 200
    assert await reads("txt") == 403 and await reads("txt", as_witness) == 403
    r = await judge.post(f"/api/hearings/{hid}/stenogram/versions/1/sign",
                         json={"passphrase": KEY_PASS})
    assert (await r.json())["status"] == "signed"

    # signed by both: the lawyer reads the protocol and the stenogram
    r = await client.get(f"/api/hearings/{hid}/export/txt")
    assert r.status == 200, await r.text()
    assert "Я видел его у здания суда" in await r.text()
    r = await client.get(f"/api/hearings/{hid}/export/srt")
    assert r.status == 200 and "Я видел его у здания суда" in await r.text()
    assert await reads("pdf") == 200
    # the witness reads the protocol of their own hearing through the invite, not the stenogram
    r = await client.get(f"/api/hearings/{hid}/export/txt", headers=as_witness)
    assert r.status == 200 and "Я видел его у здания суда" in await r.text()
    assert await reads("srt", as_witness) == 403
    assert await reads("txt", as_stranger) == 403
    # a change after signing makes a new draft: readers still get the signed version 1
    seg = (await (await sec.get(f"/api/hearings/{hid}/transcript")).json())["segments"][0]
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "edit_text", "segment_id": seg["id"], "text": "Черновик после подписи",
        "reason": "проверка"})
    assert r.status == 201, await r.text()
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 201
    r = await client.get(f"/api/hearings/{hid}/export/txt")
    assert "Черновик" not in await r.text() and "у здания суда" in await r.text()
    cal = (await (await lawyer.get("/api/me/calendar?from=2026-12-01T00:00:00Z"
                                   "&to=2026-12-31T00:00:00Z")).json())["hearings"]
    assert [(c["id"], c["signed_version"], c["joinable"]) for c in cal] == [(hid, 1, False)]
    assert (await lawyer.post(f"/api/hearings/{hid}/join")).status == 409


async def test_notices_of_the_account(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    account = await (await admin.post("/api/users", json=LAWYER)).json()
    h = await schedule(judge)
    party_id = await link_to_case(judge, h["case_id"], account["id"])

    def notices(s):
        now = datetime.now(timezone.utc)
        for user_id, cp_id, subject in ((account["id"], None, "Назначено заседание"),
                                        (None, party_id, "Приглашение"),
                                        (None, None, "Другому участнику")):
            s.add(Notice(case_id=h["case_id"], hearing_id=h["id"], user_id=user_id,
                         case_party_id=cp_id, channel="email", address="omarov@example.kz",
                         kind="scheduled", subject=subject, status="sent", created_at=now,
                         updated_at=now))
    db.run_sync(notices)
    lawyer = await login(aiohttp_client, app, "lawyer")
    r = await lawyer.get("/api/me/notices?limit=1")
    first = await r.json()
    assert [n["subject"] for n in first["notices"]] == ["Приглашение"]  # newest first
    r = await lawyer.get(f"/api/me/notices?limit=1&cursor={first['next_cursor']}")
    rest = await r.json()
    assert [n["subject"] for n in rest["notices"]] == ["Назначено заседание"]
    assert rest["notices"][0]["status"] == "sent" and rest["next_cursor"] is None
    # the workplace is the parties' own: staff have their own pages
    assert (await judge.get("/api/me/notices")).status == 403


def test_command_line_creates_a_prosecutors_account(db_url, tmp_path):
    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url, "PW": PASSWORD}
    cli = [sys.executable, "-m", "hearing.cli", "--data-dir", str(tmp_path), "user"]
    out = subprocess.run([*cli, "add", "prok", "--role", "prosecutor", "--name", "Прокурор",
                          "--contact", "+77010000000", "--password-env", "PW"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run([*cli, "list"], capture_output=True, text=True, env=env)
    assert "prok" in out.stdout and "prosecutor" in out.stdout and "+77010000000" in out.stdout
