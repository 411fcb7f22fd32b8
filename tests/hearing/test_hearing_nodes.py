"""A court of several servers: two nodes on one database and one NATS server. What a
participant does through one node reaches the judge on the other, and back."""

from __future__ import annotations

import asyncio

from hearing.bus import NatsBus, NatsOptions, events_subject, live_subject
from hearing.config import Config
from hearing.preflight import check

from hearing_testlib import invite, login, receive_type, schedule, two_nodes


async def test_nats_bus_carries_messages_to_other_nodes_in_order(nats_url, bus_prefix):
    a = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix), "node-a")
    b = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix), "node-b")
    subject = "test.order"
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


async def test_two_courts_on_one_nats_server_do_not_meet(nats_url, bus_prefix):
    court_a = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix), "node-1")
    court_a2 = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix), "node-2")
    court_b = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix + "-b"), "node-1")
    got_a2: list[dict] = []
    got_b: list[dict] = []
    court_a2.subscribe(events_subject(1), got_a2.append)
    court_b.subscribe(events_subject(1), got_b.append)
    for bus in (court_a, court_a2, court_b):
        await bus.start()
    try:
        await asyncio.sleep(0.2)
        court_a.publish(events_subject(1), {"type": "seat", "n": 1})
        for _ in range(40):
            if got_a2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert got_a2 == [{"type": "seat", "n": 1}], "the same court hears it"
        assert got_b == [], "another court's hearing 1 is another hearing"
    finally:
        for bus in (court_a, court_a2, court_b):
            await bus.close()


def test_a_bus_prefix_that_cannot_name_subjects_is_refused(tmp_path):
    for bad in ("court.a", "суд", "", "a b", "x>"):
        problems = [p for p in check(Config(data_dir=tmp_path, bus_prefix=bad),
                                     database=False) if p.setting == "bus_prefix"]
        assert problems and "letters, digits, '-' and '_'" in problems[0].message, bad
    assert not [p for p in check(Config(data_dir=tmp_path, bus_prefix="court-2_kz"),
                                 database=False) if p.setting == "bus_prefix"]


async def test_a_node_that_cannot_reach_nats_refuses_to_start():
    bus = NatsBus(NatsOptions(url="nats://127.0.0.1:1", connect_timeout_s=0.5))
    try:
        await bus.start()
    except RuntimeError as exc:
        assert "cannot reach the NATS server" in str(exc)
    else:
        raise AssertionError("started without its bus")


async def test_events_cross_nodes_both_ways(db_url, tmp_path, nats_url, bus_prefix):
    async with two_nodes(db_url, tmp_path, nats_url, bus_prefix) as (a, b):
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


async def _ask_and_answer(asker, server, subject):
    """What a node asking another by request and reply sees: the answer, a refusal raised
    as the same kind of domain error (code and details kept), a failure, and no answer."""
    import pytest

    from hearing.errors import Conflict, NotFound, Unavailable

    async def handler(request):
        if request["op"] == "mute":
            return {"muted": request["who"], "by": "Судья"}
        if request["op"] == "missing":
            raise NotFound("no such participant")
        if request["op"] == "elsewhere":
            raise Conflict("held by node b", code="held_elsewhere", node_url="http://b:8080")
        if request["op"] == "slow":
            await asyncio.sleep(5)
        raise ValueError("broken")
    server.serve(subject, handler)
    await asyncio.sleep(0.2)  # the subscription reaches the server
    assert await asker.request(subject, {"op": "mute", "who": "p7"}, 5) == {
        "muted": "p7", "by": "Судья"}
    with pytest.raises(NotFound, match="no such participant"):
        await asker.request(subject, {"op": "missing"}, 5)
    with pytest.raises(Conflict) as refused:
        await asker.request(subject, {"op": "elsewhere"}, 5)
    assert refused.value.code == "held_elsewhere"
    assert refused.value.extra["node_url"] == "http://b:8080"
    with pytest.raises(RuntimeError, match="broken"):
        await asker.request(subject, {"op": "fail"}, 5)
    with pytest.raises(Unavailable, match="try again"):
        await asker.request(subject, {"op": "slow"}, 0.3)
    with pytest.raises(Unavailable, match="try again"):
        await asker.request(subject + ".nobody", {"op": "mute"}, 0.5)


async def test_nats_bus_request_reaches_the_node_that_serves(nats_url, bus_prefix):
    a = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix), "node-a")
    b = NatsBus(NatsOptions(url=nats_url, prefix=bus_prefix), "node-b")
    await a.start()
    await b.start()
    try:
        await _ask_and_answer(a, b, live_subject("node-b"))
    finally:
        await a.close()
        await b.close()


async def test_local_bus_request_reaches_what_this_process_serves():
    from hearing.bus import LocalBus
    bus = LocalBus()
    await _ask_and_answer(bus, bus, live_subject("local"))


async def test_jobs_of_a_court_upgraded_from_the_old_subject_names_are_taken(nats_url,
                                                                             bus_prefix):
    """A court whose job stream was made when its subjects were <STREAM>.<kind>: the stream
    takes the new names and the consumers waiting on the old ones give way, so jobs run."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

    from hearing.work_queue import WorkQueue, WorkQueueOptions
    options = WorkQueueOptions(nats_url, prefix=bus_prefix)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=options.stream, subjects=[f"{options.stream}.>"],
                                     retention=RetentionPolicy.WORK_QUEUE))
    await js.pull_subscribe(f"{options.stream}.convert", durable="convert",
                            stream=options.stream,
                            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    await nc.close()
    queue = WorkQueue(options)
    await queue.start()
    taken = asyncio.get_running_loop().create_future()

    async def take(job):
        await job.done()
        taken.set_result(job.data)
    try:
        queue.consume("convert", take, 1)
        await queue.put("convert", {"item": 7}, "7")
        assert await asyncio.wait_for(taken, 15) == {"item": 7}
    finally:
        await queue.close()
