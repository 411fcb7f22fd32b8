"""Ending connections on a court of several nodes: an ejection or a revoked invite done
through one node closes the participant's live connection on another."""

from __future__ import annotations

import asyncio

import aiohttp

from hearing_testlib import invite, login, receive_type, schedule, two_nodes


async def _closed(ws, timeout: float = 10.0) -> tuple[list[dict], int | None]:
    """What a socket received until the server closed it, and the close code."""
    got = []
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                got.append(msg.json())
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                              aiohttp.WSMsgType.CLOSING):
                return got, ws.close_code


async def test_ejection_and_revocation_through_one_node_end_connections_on_another(
        db_url, tmp_path, nats_url, bus_prefix):
    async with two_nodes(db_url, tmp_path, nats_url, bus_prefix) as (a, b):
        judge_b = await login(b.client, b.app, "judge")  # the judge acts through node b
        hid = (await schedule(judge_b))["id"]
        ejected, revoked = await invite(judge_b, hid), await invite(judge_b, hid, "expert")

        sockets = []
        for inv in (ejected, revoked):  # both participants are connected to node a
            phone = await a.client()
            ws = await phone.ws_connect(f"/api/hearings/{hid}/ws")
            await ws.send_json({"type": "auth", "token": inv["token"]})
            await receive_type(ws, "hello")
            sockets.append(ws)
        await asyncio.sleep(0.3)  # node a's subscriptions reach the server

        pid = ejected["participant"]["id"]
        bearer = {"Authorization": f"Bearer {ejected['token']}"}
        assert (await (await a.client()).post("/api/join", headers=bearer)).status == 200
        r = await judge_b.post(f"/api/hearings/{hid}/participants/{pid}/eject")
        assert r.status == 200, await r.text()
        got, code = await _closed(sockets[0])
        assert {"type": "ejected"} in got and code == 4403

        r = await judge_b.delete(f"/api/hearings/{hid}/invites/{revoked['id']}")
        assert r.status == 200, await r.text()
        got, code = await _closed(sockets[1])
        assert {"type": "revoked"} in got and code == 4401


async def test_an_event_for_staff_and_one_caller_keeps_its_audience_across_nodes(
        db_url, tmp_path, nats_url, bus_prefix):
    """What a participant submitted is theirs and the court's: a console on another node sees
    it, another participant does not."""
    from hearing.api.context import STATE
    async with two_nodes(db_url, tmp_path, nats_url, bus_prefix) as (a, b):
        judge_b = await login(b.client, b.app, "judge")
        hid = (await schedule(judge_b))["id"]
        jws = await judge_b.client.ws_connect(f"/api/hearings/{hid}/ws")
        await receive_type(jws, "hello")
        invited = [await invite(judge_b, hid), await invite(judge_b, hid, "expert")]
        sockets = []
        for inv in invited:
            ws = await (await a.client()).ws_connect(f"/api/hearings/{hid}/ws")
            await ws.send_json({"type": "auth", "token": inv["token"]})
            await receive_type(ws, "hello")
            sockets.append(ws)
        await asyncio.sleep(0.3)  # the subscriptions reach the server
        submitter = f"participant:{invited[0]['participant']['id']}:witness"
        a.app[STATE].hub.publish(hid, {"type": "evidence", "event": "received", "n": 1},
                                 actor=submitter)
        assert (await receive_type(jws, "evidence"))["n"] == 1  # staff on the other node
        assert (await receive_type(sockets[0], "evidence"))["n"] == 1  # the submitter
        try:
            await receive_type(sockets[1], "evidence", timeout=1.0)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        else:
            raise AssertionError("another participant saw what was not theirs")
