"""A court of several servers: two nodes on one database and one NATS server. What a
participant does through one node reaches the judge on the other, and back."""

from __future__ import annotations

import asyncio
import uuid

from hearing.app import make_app
from hearing.bus import NatsBus, NatsOptions
from hearing.config import Config
from hearing.db import Database

from hearing_testlib import OwnServer, invite, login, make_users, receive_type, schedule


async def test_nats_bus_carries_messages_to_other_nodes_in_order(nats_url):
    a = NatsBus(NatsOptions(url=nats_url), "node-a")
    b = NatsBus(NatsOptions(url=nats_url), "node-b")
    subject = f"courtroom.test.{uuid.uuid4().hex}"
    got_a: list[dict] = []
    got_b: list[dict] = []
    a.subscribe(subject, got_a.append)
    b.subscribe(subject, got_b.append)
    await a.start()
    await b.start()
    await asyncio.sleep(0.2)  # the subscriptions reach the server
    for i in range(500):
        a.publish(subject, {"n": i, "text": "Свидетель"})
    for _ in range(100):
        if len(got_b) == 500:
            break
        await asyncio.sleep(0.05)
    assert [m["n"] for m in got_b] == list(range(500)), "every message, in order"
    assert got_b[0]["text"] == "Свидетель"
    assert got_a == [], "a node does not hear its own messages back"
    b.unsubscribe(subject)
    await asyncio.sleep(0.2)
    a.publish(subject, {"n": "late"})
    await asyncio.sleep(0.3)
    assert len(got_b) == 500
    await a.close()
    await b.close()


async def test_a_node_that_cannot_reach_nats_refuses_to_start():
    bus = NatsBus(NatsOptions(url="nats://127.0.0.1:1", connect_timeout_s=0.5))
    try:
        await bus.start()
    except RuntimeError as exc:
        assert "cannot reach the NATS server" in str(exc)
    else:
        raise AssertionError("started without its bus")


async def test_events_cross_nodes_both_ways(db_url, tmp_path, nats_url):
    db_a, db_b = Database(db_url), Database(db_url)
    make_users(db_a)
    nodes = []
    for name, db in (("a", db_a), ("b", db_b)):
        cfg = Config(data_dir=tmp_path / name, database_url=db_url, nats_url=nats_url,
                     node_id=f"node-{name}-{uuid.uuid4().hex[:6]}", transcribe=False)
        nodes.append(await OwnServer(make_app(cfg, db)).start())
    a, b = nodes
    try:
        judge = await login(a.client, a.app, "judge")
        h = await schedule(judge)
        hid = h["id"]
        inv = await invite(judge, hid)
        jws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
        await receive_type(jws, "hello")

        phone = await b.client()
        pws = await phone.ws_connect(f"/api/hearings/{hid}/ws")
        await pws.send_json({"type": "auth", "token": inv["token"]})
        await receive_type(pws, "hello")
        await asyncio.sleep(0.3)  # node b's subscription to the hearing reaches the server

        bearer = {"Authorization": f"Bearer {inv['token']}"}
        assert (await phone.post("/api/join", headers=bearer)).status == 200
        joined = await receive_type(jws, "joined")  # through node b, seen on node a
        assert joined["participant"]["presence"] == "lobby"

        pid = inv["participant"]["id"]
        r = await judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")
        assert r.status == 200, await r.text()
        admitted = await receive_type(pws, "participant")  # done on node a, seen on node b
        assert admitted["action"] == "admit"
        assert admitted["participant"]["presence"] == "admitted"

        await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert (await receive_type(pws, "state"))["state"] == "open"
        await pws.send_json({"type": "hand", "raised": True, "id": 1})
        hand = await receive_type(jws, "hand")
        assert hand["participant"]["hand_raised"] is True
        await pws.close()
        await jws.close()
    finally:
        for node in nodes:
            await node.close_clients()
            await node.server.close()
        db_a.close()
        db_b.close()
