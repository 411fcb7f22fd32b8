"""The live WebSocket: snapshot on connect, events as they happen, and robustness to bad
messages (the connection stays open)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import AuditEvent

from hearing_testlib import app_with_users, OwnServer, invite, login, make_users, receive_type, schedule


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, ws_rate_per_s=5)


async def test_live_events_reach_judge_and_participant(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    hid = h["id"]
    inv = await invite(judge, hid)
    jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    hello = await receive_type(jws, "hello")
    assert hello["hearing"]["id"] == hid and hello["you"]["role"] == "judge"

    pclient = await aiohttp_client(app)
    pws = await pclient.ws_connect(f"/api/hearings/{hid}/ws")
    await pws.send_json({"type": "auth", "token": inv["token"]})
    phello = await receive_type(pws, "hello")
    assert phello["you"]["participant_id"] == inv["participant"]["id"]
    assert all("contact" not in p for p in phello["participants"])

    await pclient.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
    joined = await receive_type(jws, "joined")
    assert joined["participant"]["presence"] == "lobby"

    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert (await receive_type(pws, "state"))["state"] == "open"

    await pws.send_json({"type": "hand", "raised": True, "id": 7})
    hand = await receive_type(jws, "hand")
    assert hand["participant"]["hand_raised"] is True

    await pws.close()
    left = await receive_type(jws, "left")
    assert left["participant_id"] == inv["participant"]["id"]
    await jws.close()


async def test_a_console_connecting_later_sees_who_is_on_the_line(aiohttp_client, app_db):
    """A reloaded console must not show someone whose connection dropped as in the hearing:
    the snapshot says who is connected now, and "online" tells when they come back."""
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    pid = inv["participant"]["id"]
    pclient = await aiohttp_client(app)

    async def connect():  # noqa: ANN202
        ws = await pclient.ws_connect(f"/api/hearings/{hid}/ws")
        await ws.send_json({"type": "auth", "token": inv["token"]})
        await receive_type(ws, "hello")
        return ws

    async def seen_by_new_console() -> bool:
        jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
        hello = await receive_type(jws, "hello")
        await jws.close()
        return next(p for p in hello["participants"] if p["id"] == pid)["connected"]

    assert await seen_by_new_console() is False
    pws = await connect()
    assert await seen_by_new_console() is True
    jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await receive_type(jws, "hello")
    await pws.close()
    assert (await receive_type(jws, "left"))["participant_id"] == pid
    assert await seen_by_new_console() is False
    pws = await connect()
    assert (await receive_type(jws, "online"))["participant_id"] == pid
    await pws.close()
    await jws.close()


async def test_bad_messages_get_errors_and_connection_stays(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    ws = await judge.client.ws_connect(f"/api/hearings/{h['id']}/ws")
    await receive_type(ws, "hello")
    await ws.send_str("{not json")
    assert (await receive_type(ws, "error"))["error"] == "bad_json"
    await ws.send_str(json.dumps([1, 2]))
    assert (await receive_type(ws, "error"))["error"] == "bad_message"
    await ws.send_json({"type": "launch_missiles"})
    assert (await receive_type(ws, "error"))["error"] == "unknown_type"
    await ws.send_json({"type": "hand", "raised": "yes", "id": "x1"})
    err = await receive_type(ws, "error")
    assert err["error"] == "bad_message" and err["ref"] == "x1"
    await ws.send_str(json.dumps({"type": "ping", "pad": "x" * (70 * 1024)}))
    assert (await receive_type(ws, "error"))["error"] == "too_large"
    await ws.send_bytes(b"\x00\x01")
    assert (await receive_type(ws, "error"))["error"] == "bad_message"
    # still alive
    await asyncio.sleep(0.5)  # let the rate bucket refill
    await ws.send_json({"type": "ping", "id": 1})
    assert (await receive_type(ws, "pong"))["id"] == 1
    # flooding is refused politely, not by disconnecting
    for i in range(30):
        await ws.send_json({"type": "ping", "id": i})
    err = await receive_type(ws, "error")
    assert err["error"] == "rate_limited"
    assert not ws.closed
    await ws.close()


async def test_websocket_refuses_strangers(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    other = await login(aiohttp_client, app, "judge2")
    h = await schedule(judge)
    # another judge: forbidden
    ws = await other.client.ws_connect(f"/api/hearings/{h['id']}/ws")
    msg = await ws.receive_json()
    assert msg["error"] == "forbidden"
    await ws.receive()
    assert ws.close_code == 4403
    # no credentials, bad token
    anon = await aiohttp_client(app)
    ws = await anon.ws_connect(f"/api/hearings/{h['id']}/ws")
    await ws.send_json({"type": "auth", "token": "forged"})
    msg = await ws.receive_json()
    assert msg["error"] == "unauthorized"
    await ws.receive()
    assert ws.close_code == 4401
    # a participant of another hearing
    h2 = await schedule(judge, case_number="2-2/2026")
    inv = await invite(judge, h2["id"])
    ws = await anon.ws_connect(f"/api/hearings/{h['id']}/ws")
    await ws.send_json({"type": "auth", "token": inv["token"]})
    assert (await ws.receive_json())["error"] == "forbidden"


async def test_eject_closes_the_participants_socket(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    inv = await invite(judge, h["id"])
    pclient = await aiohttp_client(app)
    pws = await pclient.ws_connect(f"/api/hearings/{h['id']}/ws")
    await pws.send_json({"type": "auth", "token": inv["token"]})
    await receive_type(pws, "hello")
    await judge.post(f"/api/hearings/{h['id']}/participants/{inv['participant']['id']}/eject")
    await receive_type(pws, "ejected")
    await pws.receive()
    assert pws.closed and pws.close_code == 4403


async def test_shutdown_records_the_leave_of_open_sockets(db_url, tmp_path):
    """A participant still connected when the server stops: their "leave" is in the audit log
    (the close runs as a task the application owns and awaits before the database goes)."""
    db = Database(db_url)
    make_users(db)
    app = make_app(Config(data_dir=tmp_path, database_url=db_url), db)
    own = await OwnServer(app).start()
    client_for = own.client

    judge = await login(client_for, app, "judge")
    h = await schedule(judge)
    inv = await invite(judge, h["id"])
    pws = await (await client_for(app)).ws_connect(f"/api/hearings/{h['id']}/ws")
    await pws.send_json({"type": "auth", "token": inv["token"]})
    await receive_type(pws, "hello")
    await own.server.close()
    await own.close_clients()
    after = Database(db_url)
    actions = after.run_sync(lambda s: s.execute(select(AuditEvent.action, AuditEvent.data).where(
        AuditEvent.hearing_id == h["id"])).all())
    after.close()
    assert ("leave", {"participant_id": inv["participant"]["id"]}) in [tuple(a) for a in actions]
