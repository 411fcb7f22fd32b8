"""Node failure: two real `courtroom serve` nodes share PostgreSQL, NATS and the data
directory. The node that holds an open hearing is killed (SIGKILL) while a participant speaks;
the other node takes the lease within seconds, the participant reconnects to it as the phone
page does and its recording goes on. After the close the recording has the gap marked where
the owner died, every chunk acknowledged before the kill is in it, and the audit chain
verifies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
import wave
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from sqlalchemy import select

from hearing.db import Database
from hearing.models import AuditEvent, HearingLease, Recording, RecordingChunk
from media.audio import SAMPLE_RATE
from support.testpeer import SignalTrack, TestPeer, tone

from hearing_testlib import PASSWORD, make_users, receive_type
from test_hearing_crash import free_port, wait_up

COURTROOM = Path(sys.executable).with_name("courtroom")
TTL_S = 3


def start_node(db_url, nats_url, bus_prefix, data_dir, port, node_id, node_urls, log,
               **settings):
    """A `courtroom serve` node of the court; ``settings`` (COURTROOM_<NAME>=value) override
    its defaults here (transcription off)."""
    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url, "COURTROOM_NATS_URL": nats_url,
           "COURTROOM_BUS_PREFIX": bus_prefix,
           "COURTROOM_NODE_ID": node_id, "COURTROOM_LEASE_TTL_S": str(TTL_S),
           "COURTROOM_NODE_URLS": node_urls, "COURTROOM_DATA_DIR": str(data_dir),
           "COURTROOM_TRANSCRIBE": "0", "COURTROOM_TRANSCRIBE_EVIDENCE": "0",
           "COURTROOM_RTC_BIND": "127.0.0.1", "COURTROOM_METRICS_PORT": "0",
           "COURTROOM_LOG_FORMAT": "text",
           **{f"COURTROOM_{k.upper()}": str(v) for k, v in settings.items()}}
    return subprocess.Popen([str(COURTROOM), "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


class Phone:
    """What the phone page does, in Python: a WebSocket signed in with the invite; media over
    aiortc; when the socket drops it reconnects with backoff, at its node first and then at
    the other nodes the hello listed, goes where a ``moved`` answer sends it, and rejoins."""

    def __init__(self, base: str, hid: int, token: str) -> None:
        self.http = aiohttp.ClientSession()  # its own: no staff cookie
        self.base, self.hid, self.token = base, hid, token
        self.nodes: list[str] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task | None = None
        self.peer = TestPeer("phone", self._signal, audio=SignalTrack(tone(440, 1.0)))

    async def _signal(self, message: dict) -> None:
        await self.ws.send_json(message)

    async def _read(self, ws) -> None:  # noqa: ANN001
        async for msg in ws:
            data = msg.json()
            if data["type"] == "moved":  # the media runs elsewhere: join fails, go there
                await self.peer.on_server_message({"type": "error", "error": "moved",
                                                   "url": data["url"]})
            elif data["type"] in ("offer", "tracks", "closed", "error"):
                await self.peer.on_server_message(data)

    async def open(self, base: str) -> None:
        ws = await self.http.ws_connect(f"{base}/api/hearings/{self.hid}/ws")
        await ws.send_json({"type": "auth", "token": self.token})
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello", hello
        self.nodes = hello.get("nodes") or self.nodes
        self.base, self.ws = base, ws
        self.reader = asyncio.ensure_future(self._read(ws))

    async def join(self) -> None:
        """Join media here; follow a ``moved`` answer; on a dead node try the next one."""
        delay = 0.25
        while True:
            try:
                if self.ws is None or self.ws.closed:
                    await self.open(self.base)
                if self.peer.pc is not None:  # closing it ends its track: the mic goes on
                    await self.peer.pc.close()
                    self.peer.pc = None
                    self.peer.audio = SignalTrack(tone(440, 1.0))
                await self.peer.join()
                return
            except RuntimeError as exc:  # refused: moved elsewhere, or not ready yet
                moved = next((e["url"] for e in self.peer.errors if e.get("error") == "moved"),
                             None)
                self.peer.errors.clear()
                if moved:
                    await self.drop()
                    self.base = moved.rstrip("/")
                    continue
                if "not_admitted" in str(exc):
                    raise
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
                await self.drop()
                others = [u for u in [*self.nodes] if u.rstrip("/") != self.base]
                if others:  # this node is not answering: the next one the hello named
                    self.base = others[0].rstrip("/")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def drop(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        self.ws = None

    async def close(self) -> None:
        await self.peer.close()
        await self.drop()
        await self.http.close()


def stop_processes(procs, logs) -> None:
    """Stop the node (and worker) processes still running: SIGTERM to all, then each is given
    15 s before it is killed; then close their logs."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    for log in logs:
        log.close()


def rows(db, fn):
    return db.run_sync(fn)


def chunks_of(db, hid, source):
    return rows(db, lambda s: [(c.sha256, c.start_ms, c.end_ms) for c in s.execute(
        select(RecordingChunk).where(RecordingChunk.hearing_id == hid,
                                     RecordingChunk.source_id == source)
        .order_by(RecordingChunk.id)).scalars()])


def lease_of(db, hid):
    def work(s):
        row = s.get(HearingLease, hid)
        return None if row is None else (row.node_id, row.fence, row.expires_at)
    return rows(db, work)


async def until(check, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"not within {timeout} s")


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_killed_owner_hands_the_hearing_over(db_url, nats_url, bus_prefix, tmp_path):
    db = Database(db_url)
    make_users(db)
    data = tmp_path / "shared"
    data.mkdir(mode=0o700)
    ports = free_port(), free_port()
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    suffix = uuid.uuid4().hex[:6]
    ids = [f"node-a-{suffix}", f"node-b-{suffix}"]
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("a", "b")]
    procs = [start_node(db_url, nats_url, bus_prefix, data, port, node, ",".join(urls), log)
             for port, node, log in zip(ports, ids, logs)]
    a, b = procs
    phone = None
    try:
        for url, proc in zip(urls, procs):
            await wait_up(url, proc)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async def staff(base):
                r = await http.post(base + "/api/login", json={"username": "judge",
                                                              "password": PASSWORD})
                assert r.status == 200, await r.text()
                return {"X-CSRF-Token": (await r.json())["csrf_token"]}

            hdr = await staff(urls[0])
            r = await http.post(urls[0] + "/api/hearings", headers=hdr, json={
                "case_number": "2-77/2026", "title": "Failover", "kind": "civil",
                "language": "ru"})
            hid = (await r.json())["id"]
            r = await http.post(f"{urls[0]}/api/hearings/{hid}/participants", headers=hdr,
                                json={"role": "witness", "display_name": "Witness"})
            pid = (await r.json())["id"]
            source = f"p{pid}"
            r = await http.post(f"{urls[0]}/api/hearings/{hid}/participants/{pid}/invites",
                                headers=hdr, json={})
            token = (await r.json())["token"]
            r = await http.post(f"{urls[0]}/api/hearings/{hid}/transitions", headers=hdr,
                                json={"to": "open"})
            assert r.status == 200, await r.text()
            assert lease_of(db, hid)[:2] == (ids[0], 1), "node A opened it: A owns it"
            r = await http.post(urls[0] + "/api/join",
                                headers={"Authorization": f"Bearer {token}"})
            assert r.status == 200, await r.text()
            r = await http.post(f"{urls[0]}/api/hearings/{hid}/participants/{pid}/admit",
                                headers=hdr)
            assert r.status == 200, await r.text()

            phone = Phone(urls[0], hid, token)
            await phone.open(urls[0])
            assert phone.nodes == urls, "the hello names the nodes to fall back on"
            await phone.join()
            # the judge's console follows the hearing on node B (its events come from anywhere)
            console = await http.ws_connect(f"{urls[1]}/api/hearings/{hid}/ws")
            assert (await receive_type(console, "hello"))["you"]["kind"] == "staff"
            await until(lambda: len(chunks_of(db, hid, source)) >= 3, 60)

            a.send_signal(signal.SIGKILL)  # the owner dies mid-hearing
            killed = time.monotonic()
            a.wait(10)
            acked = chunks_of(db, hid, source)  # what node A acknowledged before it died

            # node B takes the lease within seconds (the phone reconnects meanwhile)
            rejoin = asyncio.ensure_future(phone.join())
            await until(lambda: (lease_of(db, hid) or ("", 0))[:2] == (ids[1], 2),
                        4 * TTL_S, 0.02)
            failover_s = time.monotonic() - killed
            print(f"\nlease failover: {failover_s:.2f} s after SIGKILL (lease TTL {TTL_S} s)")
            await asyncio.wait_for(rejoin, 30)
            reconnected_s = time.monotonic() - killed
            print(f"phone back in the hearing's media on node B: {reconnected_s:.2f} s")
            assert phone.base == urls[1]
            told = await receive_type(console, "media", 10)
            while told["event"]["type"] != "node.takeover":
                told = await receive_type(console, "media", 10)
            assert told["event"]["node_id"] == ids[1]  # the staff see the handover
            await console.close()

            # the recording goes on, on node B
            await until(lambda: len(chunks_of(db, hid, source)) >= len(acked) + 2, 60)

            hdr = await staff(urls[1])
            r = await http.post(f"{urls[1]}/api/hearings/{hid}/transitions", headers=hdr,
                                json={"to": "closed"})
            assert r.status == 200, await r.text()
        await phone.close()
        phone = None

        def audit_rows(s):
            return [(e.action, e.data, e.clock_ms) for e in s.execute(select(AuditEvent).where(
                AuditEvent.hearing_id == hid).order_by(AuditEvent.seq)).scalars()]
        audit = rows(db, audit_rows)
        takeover = [d for act, d, _ in audit if act == "node.takeover"]
        assert len(takeover) == 1, takeover
        assert takeover[0]["node_id"] == ids[1] and takeover[0]["fence"] == 2
        marked = next(g for g in takeover[0]["gaps"] if g["source_id"] == source)
        assert marked["from_ms"] >= acked[-1][2], "the gap starts after the last ack"
        final = next(d for act, d, _ in audit
                     if act == "recording.final" and d["source_id"] == source)
        # every chunk node A acknowledged is in the recording, and so is node B's audio
        assert {sha for sha, _, _ in acked} <= set(final["chunks"])
        assert final["end_ms"] > marked["to_ms"]
        # the recording's own gap is the one marked at the failover
        assert any(abs(g0 - marked["from_ms"]) <= 100 and g1 >= marked["to_ms"]
                   for g0, g1 in final["gaps"]), (final["gaps"], marked)
        recs = rows(db, lambda s: s.execute(select(Recording.source_id).where(
            Recording.hearing_id == hid)).scalars().all())
        assert recs == [source]
    except BaseException:
        for name in ("a", "b"):  # what the nodes said, to see why
            print(f"--- node {name} ---\n" + (tmp_path / f"{name}.log").read_text()[-6000:])
        raise
    finally:
        if phone is not None:
            await phone.close()
        stop_processes(procs, logs)
        db.close()
    out = subprocess.run([str(COURTROOM), "audit", "verify", str(hid)],
                         env={**os.environ, "COURTROOM_DATABASE_URL": db_url,
                              "COURTROOM_DATA_DIR": str(data)},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_courtroom_hearing_moves_with_its_microphones(db_url, nats_url, bus_prefix,
                                                              tmp_path):
    """A node that stops (a deploy) gives its leases up: another node takes the courtroom
    hearing at its next look and captures the courtroom's microphones from then on; the
    takeover marks each seat's gap from the end of what the first node recorded, and each
    seat has one recording across both nodes."""
    from hearing.api.context import STATE
    from hearing.app import make_app
    from hearing.config import Config

    from hearing_testlib import OwnServer, login
    from test_hearing_courtroom import make_users as courtroom_users
    from test_hearing_courtroom import setup_courtroom_hearing

    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # one second of three seats' tones
    wav = tmp_path / "tones.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(3)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.stack([0.2 * np.sin(2 * np.pi * f * t) for f in (300, 500, 700)]).T
                       * 32767).astype("<i2").tobytes())
    db = Database(db_url)
    ids = courtroom_users(db)
    nodes = []
    for name in ("a", "b"):
        cfg = Config(data_dir=tmp_path / "shared", database_url=db_url, nats_url=nats_url,
                     bus_prefix=bus_prefix, node_id=f"node-{name}-{uuid.uuid4().hex[:6]}",
                     lease_ttl_s=1, transcribe=False, courtroom_device_override=f"file:{wav}")
        nodes.append(await OwnServer(make_app(cfg, Database(db_url))).start())
    a, b = nodes
    try:
        judge, hid = await setup_courtroom_hearing(a.app, a.client, ids)
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200, await r.text()
        capture = a.app[STATE].courtrooms.running[hid].capture
        await asyncio.wait_for(capture.captures[0].wait_ended(), 30)
        await a.close_clients()
        await a.server.close()  # node A stops: its lease is given up, its chunks stay
        stopped = time.monotonic()
        running = b.app[STATE].courtrooms.running
        await until(lambda: hid in running, 10)
        print(f"\ncourtroom hearing on node B {time.monotonic() - stopped:.2f} s after node A "
              f"stopped")
        await asyncio.wait_for(running[hid].capture.captures[0].wait_ended(), 30)
        judge = await login(b.client, b.app, "judge")
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200, await r.text()
    finally:
        for node in nodes:
            await node.close_clients()
            await node.server.close()
    audit = rows(db, lambda s: [(e.action, e.data) for e in s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hid).order_by(AuditEvent.seq)).scalars()])
    db.close()
    [takeover] = [d for act, d in audit if act == "node.takeover"]
    assert takeover["fence"] == 2 and takeover["node_id"] == b.app[STATE].config.node_id
    before = audit[:next(i for i, (act, _) in enumerate(audit) if act == "node.takeover")]
    recorded = {}  # what node A recorded of each seat
    for act, d in before:
        if act == "recording.chunk":
            recorded[d["source_id"]] = max(recorded.get(d["source_id"], 0), d["end_ms"])
    assert set(recorded) == {"seat.judge", "seat.witness", "seat.defence"}
    # the gap is marked from the end of what node A recorded to the takeover
    assert {g["source_id"]: g["from_ms"] for g in takeover["gaps"]} == recorded
    assert all(g["to_ms"] == takeover["at_ms"] for g in takeover["gaps"])
    finals = {d["source_id"]: d for act, d in audit if act == "recording.final"}
    for sid, end in recorded.items():  # one recording per seat: both nodes' replays
        assert finals[sid]["start_ms"] < end and finals[sid]["end_ms"] >= takeover["at_ms"] + 900
