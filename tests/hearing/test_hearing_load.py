"""A node knows its own load: what waits unread in its UDP sockets and in its queues. Past a
limit of its configuration it takes no new hearing and says why; the figures and the owner of
each hearing's lease are in its metrics. The example configurations of a court of several
nodes load and pass `courtroom check-config`."""

from __future__ import annotations

import socket

from hearing import leases
from hearing.api.context import STATE
from hearing.app import serve_metrics
from hearing.config import load_config
from hearing.load import udp_backlog

from hearing_testlib import app_with_users, login, schedule
from test_hearing_ops import DEPLOY, courtroom, scrape, sqlite_url, value  # noqa: F401


def unread_socket(datagrams: int, size: int) -> socket.socket:
    """A UDP socket of this process that was sent ``datagrams`` and read none of them."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as source:
        for _ in range(datagrams):
            source.sendto(b"x" * size, sink.getsockname())
    return sink


def test_the_backlog_reading_finds_bytes_left_unread_in_a_socket_of_this_process():
    before = udp_backlog()
    sink = unread_socket(5, 1000)
    try:
        after = udp_backlog()
        assert after.sockets == before.sockets + 1
        assert after.largest >= 5000  # the payload, plus the kernel's overhead per datagram
        assert after.bytes - before.bytes >= 5000
        sink.recv(2000)
        assert udp_backlog().bytes < after.bytes  # read: it no longer waits
    finally:
        sink.close()
    assert udp_backlog().sockets == before.sockets


async def open_(judge, hid: int):
    return await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})


async def full_node(aiohttp_client, db_url, tmp_path):
    """A node that may run one hearing and runs one (opened by the judge), and a second
    hearing scheduled: (app, db, judge, the open hearing, the second)."""
    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False, load_max_hearings=1)
    judge = await login(aiohttp_client, app, "judge")
    first = await schedule(judge, ids["secretary"])
    second = await schedule(judge, ids["secretary"], case_number="2-5678/2026")
    assert (await open_(judge, first["id"])).status == 200
    return app, db, judge, first, second


async def test_a_node_at_its_hearing_limit_refuses_the_next_with_the_reason(aiohttp_client,
                                                                            db_url, tmp_path):
    app, db, judge, first, second = await full_node(aiohttp_client, db_url, tmp_path)
    r = await open_(judge, second["id"])
    assert r.status == 503
    body = await r.json()
    assert body["error"] == "node_busy"
    assert "1 hearings live here, the most is 1" in body["message"]
    assert app[STATE].live.get(second["id"]) is None  # no media, recorders or lease here


async def test_media_left_unread_stops_a_node_taking_hearings(aiohttp_client, sqlite_url,
                                                              tmp_path, nats_url, bus_prefix):
    # a node of several: another node can take the hearing (one alone never refuses on load)
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False,
                                  load_max_udp_backlog_bytes=2000, nats_url=nats_url,
                                  bus_prefix=bus_prefix, node_urls="http://127.0.0.1:1")
    serve_metrics(app, "127.0.0.1", 0)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge, ids["secretary"])
    m = await scrape(app)
    assert value(m, "courtroom_node_has_room") == 1
    sink = unread_socket(4, 1000)
    try:
        m = await scrape(app)
        assert value(m, "courtroom_node_udp_backlog_bytes") >= 4000
        assert value(m, "courtroom_node_has_room") == 0
        r = await open_(judge, h["id"])
        assert r.status == 503
        message = (await r.json())["message"]
        assert "wait unread in its UDP sockets (limit 2000)" in message, message
    finally:
        sink.close()


async def test_a_node_alone_opens_the_hearing_whatever_it_measures(aiohttp_client, sqlite_url,
                                                                  tmp_path):
    """Alone, there is no other node to take the hearing: the court must not stop."""
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False,
                                  load_max_udp_backlog_bytes=2000)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge, ids["secretary"])
    sink = unread_socket(4, 1000)
    try:
        assert udp_backlog().bytes >= 4000
        assert (await open_(judge, h["id"])).status == 200
    finally:
        sink.close()


async def test_the_lease_owner_of_each_hearing_is_in_the_metrics(aiohttp_client, sqlite_url,
                                                                 tmp_path):
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False)
    serve_metrics(app, "127.0.0.1", 0)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge, ids["secretary"])
    # node a holds it and gives it up; node b takes it with the next fence
    lease = db.run_sync(lambda s: leases.acquire(s, h["id"], "node-a", "http://a", 30))
    db.run_sync(lambda s: leases.release(s, lease))
    db.run_sync(lambda s: leases.acquire(s, h["id"], "node-b", "http://b", 30))
    m = await scrape(app)
    assert value(m, "courtroom_hearing_lease_owner", hearing_id=str(h["id"]),
                 node_id="node-b") == 2
    assert value(m, "courtroom_hearing_lease_owner", hearing_id=str(h["id"]),
                 node_id="node-a") is None


def test_the_example_configurations_of_several_nodes_check(tmp_path):
    for name in ("node.toml", "asr-worker.toml"):
        problems: list[str] = []
        cfg = load_config(DEPLOY / name, env={}, problems=problems)
        assert problems == [], (name, problems)
        assert cfg.nats_url.startswith("nats://")
        assert cfg.database_url.startswith("postgresql")
    node = load_config(DEPLOY / "node.toml", env={})
    assert node.bus_prefix == load_config(DEPLOY / "asr-worker.toml", env={}).bus_prefix
    assert node.node_id and node.node_url.startswith("https://") and node.lease_ttl_s > 0
    assert node.asr_mode == "workers"
    # on this machine: its own data directory, no certificate (a TLS proxy), no passphrase
    # file, and the CPU where the example worker has a GPU
    env = {"COURTROOM_DATA_DIR": str(tmp_path / "var"), "COURTROOM_TLS_CERT": "",
           "COURTROOM_TLS_KEY": "", "COURTROOM_AUDIT_KEY_PASSPHRASE_FILE": "",
           "COURTROOM_ASR_DEVICE": "cpu", "COURTROOM_ASR_COMPUTE_TYPE": "int8"}
    for name in ("node.toml", "asr-worker.toml"):
        done = courtroom(["--config", str(DEPLOY / name), "check-config", "--no-database"],
                         env, tmp_path)
        assert "unknown configuration key" not in done.stdout, done.stdout
        assert done.returncode == 0, (name, done.stdout + done.stderr)


async def test_a_full_node_sends_clients_to_the_owner_rather_than_refusing(aiohttp_client,
                                                                           sqlite_url, tmp_path):
    app, db, judge, here, there = await full_node(aiohttp_client, sqlite_url, tmp_path)
    db.run_sync(lambda s: leases.acquire(s, there["id"], "node-b", "http://node-b", 30))
    r = await open_(judge, there["id"])  # its owner has it: not "busy" but where it is
    body = await r.json()
    assert (body["error"], body["node_url"]) == ("held_elsewhere", "http://node-b"), body
    try:
        await app[STATE].live.ensure(there["id"])  # what media signalling asks
    except leases.HeldElsewhere as exc:
        assert exc.extra["node_url"] == "http://node-b"
    else:
        raise AssertionError("a hearing held elsewhere was taken")
