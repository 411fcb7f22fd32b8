"""A live connection lasts no longer than its credential: revoking an invite, signing out or
ejecting closes the caller's WebSockets (and media) at once, with a last notice and nothing
after it; the messages that act re-check the credential, and a credential that runs out ends
its connection. Live captions reach only staff and
admitted participants, never the lobby."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from aiohttp import WSMsgType
from sqlalchemy import update

from asr.events import TranscriptEvent, Word
from hearing.api.context import STATE
from hearing.auth import now_utc
from hearing.models import Invite

from hearing_testlib import app_with_users, invite, login, receive_type, schedule
from support.testpeer import SignalTrack, tone
from test_hearing_media import WsPeer, connect


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path, transcribe=False, rtc_bind="127.0.0.1")


async def until_closed(ws, timeout=5.0) -> list[dict]:
    """Every message up to the close (raises if the socket stays open past the timeout)."""
    seen = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg.type == WSMsgType.TEXT:
            seen.append(msg.json())
        elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return seen


async def connect_participant(aiohttp_client, app, hid, token):
    client = await aiohttp_client(app)
    ws = await client.ws_connect(f"/api/hearings/{hid}/ws")
    await ws.send_json({"type": "auth", "token": token})
    await receive_type(ws, "hello")
    return client, ws


async def test_revoked_participant_is_disconnected_and_hears_nothing_more(aiohttp_client,
                                                                        app_db):
    app, db, ids = app_db
    state = app[STATE]
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    other = await invite(judge, hid, "plaintiff", "Иванов А.")
    jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await receive_type(jws, "hello")
    pclient, pws = await connect_participant(aiohttp_client, app, hid, inv["token"])
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    await pclient.post("/api/join", headers=bearer)
    await receive_type(pws, "joined")

    r = await judge.delete(f"/api/hearings/{hid}/invites/{inv['id']}")
    assert r.status == 200
    revoked_at = time.monotonic()
    seen = await until_closed(pws, timeout=1.0)
    assert time.monotonic() - revoked_at < 1.0
    assert [m["type"] for m in seen] == ["revoked"]
    assert pws.close_code == 4401
    assert not any(not c.staff for c in state.hub.clients(hid))

    # the hearing goes on: the judge opens it, another participant raises a hand
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    _, ows = await connect_participant(aiohttp_client, app, hid, other["token"])
    await ows.send_json({"type": "hand", "raised": True})
    assert (await receive_type(jws, "hand"))["participant"]["id"] == other["participant"]["id"]
    assert (await pws.receive()).type == WSMsgType.CLOSED
    # and the revoked token opens nothing any more
    assert (await pclient.post("/api/join", headers=bearer)).status == 401
    again = await pclient.ws_connect(f"/api/hearings/{hid}/ws")
    await again.send_json({"type": "auth", "token": inv["token"]})
    assert (await again.receive_json())["error"] == "unauthorized"


async def test_revocation_ends_the_participants_media(aiohttp_client, app_db):
    """Not the reconnect window of a dropped phone: the seat in the media room is gone."""
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    pid = inv["participant"]["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    pc = await aiohttp_client(app)
    await pc.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
    await judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")
    w = WsPeer(await connect(pc, hid, inv["token"]), "W", SignalTrack(tone(440, 1.0)))
    await w.peer.join()
    room = (await app[STATE].live.ensure(hid)).room
    assert room.participants[f"p{pid}"].session is not None

    await judge.delete(f"/api/hearings/{hid}/invites/{inv['id']}")
    deadline = time.monotonic() + 1.0
    while f"p{pid}" in room.participants and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert f"p{pid}" not in room.participants
    await w.close()


async def test_logout_closes_only_that_sessions_sockets(aiohttp_client, app_db):
    app, db, ids = app_db
    first = await login(aiohttp_client, app, "judge")
    second = await login(aiohttp_client, app, "judge")
    hid = (await schedule(first))["id"]
    ws1 = await first.client.ws_connect(f"/api/hearings/{hid}/ws")
    ws2 = await second.client.ws_connect(f"/api/hearings/{hid}/ws")
    await receive_type(ws1, "hello")
    await receive_type(ws2, "hello")

    r = await first.post("/api/logout")
    assert r.status == 200
    signed_out_at = time.monotonic()
    seen = await until_closed(ws1, timeout=1.0)
    assert time.monotonic() - signed_out_at < 1.0
    assert [m["type"] for m in seen] == ["signed_out"] and ws1.close_code == 4401

    await second.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert (await receive_type(ws2, "state"))["state"] == "open"
    assert not ws2.closed
    await ws2.close()


async def test_acting_on_an_expired_invite_closes_the_socket_without_an_offer(aiohttp_client,
                                                                           app_db):
    """An invite that lapses while its socket is open (no revoke call to announce it): the next
    join or hand is checked against the credential, and refused by closing."""
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    a, b = await invite(judge, hid), await invite(judge, hid, "plaintiff", "Иванов А.")
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    sockets = {}
    for inv in (a, b):
        client, ws = await connect_participant(aiohttp_client, app, hid, inv["token"])
        await client.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
        await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
        sockets[inv["id"]] = ws
    past = now_utc() - timedelta(seconds=1)
    db.run_sync(lambda s: s.execute(update(Invite).where(Invite.id.in_([a["id"], b["id"]]))
                                    .values(expires_at=past)))
    join_ws, hand_ws = sockets[a["id"]], sockets[b["id"]]
    await join_ws.send_json({"type": "join"})
    await hand_ws.send_json({"type": "hand", "raised": True})
    for ws in (join_ws, hand_ws):
        seen = await until_closed(ws)
        assert "revoked" in [m["type"] for m in seen] and ws.close_code == 4401
        assert not any(m["type"] in ("offer", "hand") for m in seen)


async def test_a_connection_ends_when_its_invite_runs_out(aiohttp_client, app_db):
    """Nobody revokes and the participant sends nothing: the connection still ends when the
    invite's time is up."""
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    soon = now_utc() + timedelta(seconds=3)
    db.run_sync(lambda s: s.execute(update(Invite).where(Invite.id == inv["id"])
                                    .values(expires_at=soon)))
    _, ws = await connect_participant(aiohttp_client, app, hid, inv["token"])
    seen = await until_closed(ws, timeout=8.0)
    assert [m["type"] for m in seen] == ["revoked"] and ws.close_code == 4401
    assert now_utc() >= soon


async def test_captions_reach_admitted_participants_and_staff_not_the_lobby(aiohttp_client,
                                                                           app_db):
    app, db, ids = app_db
    state = app[STATE]
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    waiting, admitted = await invite(judge, hid), await invite(judge, hid, "plaintiff", "Иванов")
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await receive_type(jws, "hello")
    sockets = {}
    for inv in (waiting, admitted):
        client, ws = await connect_participant(aiohttp_client, app, hid, inv["token"])
        await client.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
        sockets[inv["id"]] = ws
    # admitted after connecting: the admission reaches the live connection
    pid = admitted["participant"]["id"]
    await judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")
    lobby_ws, admitted_ws = sockets[waiting["id"]], sockets[admitted["id"]]
    await receive_type(admitted_ws, "participant")

    live = await state.live.ensure(hid)
    words = [Word("Суд", 100, 400, 0.9), Word("идёт", 420, 900, 0.8)]
    for kind in ("partial", "final"):
        state.live.transcription._on_event(live, TranscriptEvent(
            kind, "seat:judge", "seat:judge#1", 100, 900, "Суд идёт", words, "ru", "m"))
    for ws in (jws, admitted_ws):
        assert (await receive_type(ws, "partial"))["text"] == "Суд идёт"
        assert (await receive_type(ws, "final"))["text"] == "Суд идёт"
    await lobby_ws.send_json({"type": "ping", "id": "after"})
    seen = []
    while not seen or seen[-1]["type"] != "pong":
        seen.append(await asyncio.wait_for(lobby_ws.receive_json(), 5))
    assert not {"partial", "final"} & {m["type"] for m in seen}
