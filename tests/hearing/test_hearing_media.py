"""A hearing over real WebRTC through the real server: aiortc participants signal over the
hearing WebSocket, wait in the lobby, are admitted, hear each other, get muted and ejected;
the recording lands in the audit log and, at close, in the blob store."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import select

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import AuditEvent, Recording
from hearing.api.context import STATE

from hearing_testlib import invite, login, make_users, schedule
from support.testpeer import SignalTrack, TestPeer, tone


class WsPeer:
    """A TestPeer whose signalling goes over the hearing WebSocket."""

    def __init__(self, ws, name, audio=None):
        self.ws = ws
        self.events: list[dict] = []
        self.peer = TestPeer(name, self._signal, audio=audio)
        self.reader = asyncio.ensure_future(self._read())

    async def _signal(self, message):
        await self.ws.send_json(message)

    async def _read(self):
        async for msg in self.ws:
            data = msg.json()
            self.events.append(data)
            if data["type"] in ("offer", "tracks", "closed", "error"):
                await self.peer.on_server_message(data)

    async def close(self):
        await self.peer.close()
        self.reader.cancel()
        await self.ws.close()


async def connect(client, hid, token=None):
    ws = await client.ws_connect(f"/api/hearings/{hid}/ws")
    if token:
        await ws.send_json({"type": "auth", "token": token})
    return ws


def energy(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


@pytest.fixture
def server(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    db = Database(url)
    from hearing.db import upgrade
    upgrade(db.engine)
    ids = make_users(db)
    cfg = Config(data_dir=tmp_path, database_url=url, transcribe=False, rtc_bind="127.0.0.1",
                 reconnect_window_s=30)
    return make_app(cfg, db), db, ids


async def test_remote_hearing_end_to_end(aiohttp_client, server):
    app, db, ids = server
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    hid = h["id"]
    a_inv = await invite(judge, hid, "witness", "Witness A")
    b_inv = await invite(judge, hid, "plaintiff", "Plaintiff B")
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    pa = await aiohttp_client(app)
    pb = await aiohttp_client(app)
    for c, inv in ((pa, a_inv), (pb, b_inv)):
        await c.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})

    a = WsPeer(await connect(pa, hid, a_inv["token"]), "A", SignalTrack(tone(440, 1.0)))
    b = WsPeer(await connect(pb, hid, b_inv["token"]), "B", SignalTrack(tone(660, 1.0)))
    # in the lobby, media is refused with a clear reason
    with pytest.raises(RuntimeError, match="not_admitted"):
        await a.peer.join()
    for inv in (a_inv, b_inv):
        r = await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
        assert r.status == 200
    await a.peer.join()
    await b.peer.join()
    a_src, b_src = f"p{a_inv['participant']['id']}", f"p{b_inv['participant']['id']}"
    await asyncio.sleep(3.0)
    heard = b.peer.audio_from(a_src)
    assert energy(heard) > 0.05, "B does not hear A"
    spectrum = np.abs(np.fft.rfft(heard[-48000:]))
    assert abs(np.argmax(spectrum) * 48000 / len(heard[-48000:]) - 440) < 10  # A's tone
    assert energy(a.peer.audio_from(b_src)) > 0.05, "A does not hear B"

    # mute: B stops hearing A
    await judge.post(f"/api/hearings/{hid}/participants/{a_inv['participant']['id']}/mute",
                     json={"muted": True})
    await asyncio.sleep(0.5)
    before = len(np.concatenate(b.peer.audio_in.get(b.peer.mids_for(a_src, "audio")[0], [np.zeros(0)])))
    await asyncio.sleep(1.5)
    tail = b.peer.audio_from(a_src)[before:]
    assert energy(tail) < 0.01, "muted audio was still forwarded"

    # eject: A's connection is closed by the server
    await judge.post(f"/api/hearings/{hid}/participants/{a_inv['participant']['id']}/eject")
    for _ in range(50):
        if any(e["type"] == "closed" for e in a.events) or any(e["type"] == "ejected" for e in a.events):
            break
        await asyncio.sleep(0.1)
    assert any(e["type"] in ("closed", "ejected") for e in a.events)

    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    for p in (a, b):
        await p.close()

    def audit_rows(s):
        return [(e.action, e.data) for e in s.execute(select(AuditEvent).where(
            AuditEvent.hearing_id == hid).order_by(AuditEvent.seq)).scalars()]
    rows = await db.run(audit_rows)
    actions = [a for a, _ in rows]
    assert "participant.joined" in actions and "recording.chunk" in actions
    assert "mute" in actions and "participant.removed" in actions
    chunk = next(d for a, d in rows if a == "recording.chunk")
    assert len(chunk["sha256"]) == 64
    recs = await db.run(lambda s: s.execute(select(Recording).where(
        Recording.hearing_id == hid)).scalars().all())
    assert {r.source_id for r in recs} >= {a_src, b_src}
    blobs = app[STATE].live.blobs
    assert all(blobs.exists(r.sha256) and r.size > 0 for r in recs)
    # the secretary's editor finds each source's recording and can seek in it
    r = await judge.get(f"/api/hearings/{hid}/recordings")
    listed = {x["source_id"]: x for x in (await r.json())["recordings"]}
    assert {a_src, b_src} <= set(listed)
    assert listed[a_src]["label"] == "Witness A"
    r = await judge.get(listed[a_src]["url"])
    body = await r.read()
    assert r.status == 200 and body[:4] == b"OggS" and r.headers["Content-Type"] == "audio/ogg"
    r = await judge.get(listed[a_src]["url"], headers={"Range": "bytes=100-199"})
    assert r.status == 206 and len(await r.read()) == 100
    bearer = {"Authorization": f"Bearer {b_inv['token']}"}
    assert (await pb.get(f"/api/hearings/{hid}/recordings", headers=bearer)).status == 403


async def test_dropped_phone_gets_its_seat_back(aiohttp_client, server):
    app, db, ids = server
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    hid = h["id"]
    inv = await invite(judge, hid, "witness", "W")
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    pc = await aiohttp_client(app)
    await pc.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
    await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
    w = WsPeer(await connect(pc, hid, inv["token"]), "W", SignalTrack(tone(440, 1.0)))
    await w.peer.join()
    await asyncio.sleep(1.0)
    # the phone loses its network: socket and peer connection gone
    await w.close()
    await asyncio.sleep(0.5)
    # back within the window: a new socket and a new peer connection, no second admission
    w2 = WsPeer(await connect(pc, hid, inv["token"]), "W", SignalTrack(tone(440, 1.0)))
    await w2.peer.join()
    await asyncio.sleep(1.0)
    rows = await db.run(lambda s: [(e.action, e.data) for e in s.execute(
        select(AuditEvent).where(AuditEvent.hearing_id == hid).order_by(AuditEvent.seq)).scalars()])
    actions = [a for a, _ in rows]
    assert "participant.dropped" in actions
    back = next(d for a, d in rows if a == "participant.reconnected")
    assert back["source_id"] == f"p{inv['participant']['id']}" and back["gap_from_ms"] is not None
    await w2.close()
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
