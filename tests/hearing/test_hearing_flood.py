"""A participant flooding the court: hand raises over REST and the WebSocket, and sockets that
open and close in a loop, are refused beyond a small rate and leave a bounded audit log."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import AuditEvent

from hearing_testlib import invite, login, make_users, schedule


@pytest.fixture
def app_db(db_url, tmp_path):
    db = Database(db_url)
    ids = make_users(db)
    return make_app(Config(data_dir=tmp_path, database_url=db_url), db), db, ids


def rows(db, hid, action):
    return db.run_sync(lambda s: s.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.hearing_id == hid, AuditEvent.action == action)).scalar())


async def test_hand_flood_is_rate_limited_and_bounded_in_the_audit_log(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    other = await invite(judge, hid, "plaintiff", "Other")
    phone = await aiohttp_client(app)
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    statuses = []
    for i in range(200):
        r = await phone.post(f"/api/hearings/{hid}/hand", json={"raised": i % 2 == 0},
                             headers=bearer)
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.headers["Retry-After"]) >= 1
            assert (await r.json())["error"] == "rate_limited"
    assert statuses.count(429) >= 190, statuses
    assert set(statuses) == {200, 429}
    assert rows(db, hid, "hand") <= 10
    # the same state again is no new fact: answered, not recorded
    await asyncio.sleep(1.1)
    before = rows(db, hid, "hand")
    r = await phone.post(f"/api/hearings/{hid}/hand", json={"raised": statuses[-1] != 200},
                         headers=bearer)
    last = (await r.json())["hand_raised"]
    await asyncio.sleep(1.1)
    r = await phone.post(f"/api/hearings/{hid}/hand", json={"raised": last}, headers=bearer)
    assert r.status == 200 and rows(db, hid, "hand") <= before + 1
    # another participant is not held back by the flood
    r = await phone.post(f"/api/hearings/{hid}/hand", json={"raised": True},
                         headers={"Authorization": f"Bearer {other['token']}"})
    assert r.status == 200 and (await r.json())["hand_raised"] is True

    # over the WebSocket: refused politely, the connection stays
    ws = await phone.ws_connect(f"/api/hearings/{hid}/ws")
    await ws.send_json({"type": "auth", "token": inv["token"]})
    await asyncio.sleep(1.5)
    before = rows(db, hid, "hand")
    errors = 0
    for i in range(15):
        await ws.send_json({"type": "hand", "raised": i % 2 == 0, "id": i})
        await asyncio.sleep(0.06)  # under the socket's own message limit
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive_json(), 1.0)
        except asyncio.TimeoutError:
            break
        errors += msg["type"] == "error" and msg["error"] == "rate_limited"
    assert errors >= 8 and not ws.closed
    assert rows(db, hid, "hand") <= before + 5
    await ws.close()


async def test_socket_flaps_do_not_flood_the_audit_log(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    console = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    phone = await aiohttp_client(app)
    for _ in range(30):
        ws = await phone.ws_connect(f"/api/hearings/{hid}/ws")
        await ws.send_json({"type": "auth", "token": inv["token"]})
        while (await ws.receive_json())["type"] != "hello":
            pass
        await ws.close()
    await asyncio.sleep(0.5)
    assert 1 <= rows(db, hid, "leave") <= 5
    # the judge's console still sees every leaving
    lefts = 0
    while True:
        try:
            msg = await asyncio.wait_for(console.receive_json(), 0.5)
        except asyncio.TimeoutError:
            break
        lefts += msg["type"] == "left"
    assert lefts == 30
    await console.close()
