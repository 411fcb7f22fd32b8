"""One owner per live hearing: on a court of two nodes (one PostgreSQL database, one NATS
server) the node that opens a hearing holds its lease and its media room; mute, eject and close
asked through the other node act on that room; a node whose lease passed to another stops the
hearing's live state and writes nothing more for it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import aiohttp
import numpy as np
import pytest
from sqlalchemy import func, select, update

from asr.events import TranscriptEvent
from hearing import leases
from hearing.api.context import STATE
from hearing.db import Database
from hearing.live.transcription import machine_segment
from hearing.models import AuditEvent, HearingLease, Recording, RecordingChunk

from hearing_testlib import OwnServer, invite, login, receive_type, schedule, two_nodes
from support.testpeer import HearingPeer, SignalTrack, tone

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def energy(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


async def wait_for(check, timeout=10.0, what="the condition"):
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Court:
    """Two nodes on one database and one NATS server, each with its own data directory (so
    what a node records is seen to be its own)."""

    def __init__(self, db_url, tmp_path, nats_url, bus_prefix, **config):
        self.db_url, self.tmp_path, self.nats_url, self.config = db_url, tmp_path, nats_url, config
        self.bus_prefix = bus_prefix
        self.nodes: list[OwnServer] = []
        self.dbs: list[Database] = []

    async def __aenter__(self):
        self._nodes = two_nodes(self.db_url, self.tmp_path, self.nats_url, self.bus_prefix,
                                rtc_bind="127.0.0.1", reconnect_window_s=30, **self.config)
        self.nodes = await self._nodes.__aenter__()
        self.dbs = [node.db for node in self.nodes]
        for node in self.nodes:
            node.app[STATE].config.node_url = str(node.server.make_url("")).rstrip("/")
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc):
        await self.http.close()
        await self._nodes.__aexit__(*exc)

    def state(self, i):
        return self.nodes[i].app[STATE]

    def url(self, i):
        return self.state(i).config.node_url

    def lease_row(self, hid):
        return self.dbs[0].run_sync(lambda s: (lambda r: (r.node_id, r.fence, r.expires_at))(
            s.get(HearingLease, hid)))

    def take_lease_away(self, hid):
        """Another node took the hearing over (the database says so; this node did not
        notice yet): a new holder with the next fence."""
        def work(s):
            row = s.get(HearingLease, hid)
            row.node_id, row.fence = "node-elsewhere", row.fence + 1
            row.expires_at = datetime.now(timezone.utc) + timedelta(seconds=60)
        self.dbs[0].run_sync(work)


async def admitted_peer(court, judge, hid, node, name, freq, role="witness"):
    """A participant invited, let in by the judge (through node b) and in the media room of
    the owner ``node``."""
    inv = await invite(judge, hid, role, name)
    bearer = {"Authorization": f"Bearer {inv['token']}"}
    async with court.http.post(f"{court.url(node)}/api/join", headers=bearer) as r:
        assert r.status == 200, await r.text()
    r = await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
    assert r.status == 200, await r.text()
    peer = HearingPeer(court.http, court.url(node), hid, inv["token"], name,
                       audio=SignalTrack(tone(freq, 1.0)))
    await peer.connect()
    await peer.peer.join()
    return peer, f"p{inv['participant']['id']}"


async def test_commands_through_another_node_act_on_the_owners_room(db_url, tmp_path,
                                                                    nats_url, bus_prefix):
    async with Court(db_url, tmp_path, nats_url, bus_prefix) as court:
        a, b = court.state(0), court.state(1)
        judge_a = await login(court.nodes[0].client, court.nodes[0].app, "judge")
        judge_b = await login(court.nodes[1].client, court.nodes[1].app, "judge")
        hid = (await schedule(judge_a))["id"]
        r = await judge_a.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert r.status == 200, await r.text()

        # the node that opened it holds the lease and the room
        lease = a.live.lease(hid)
        assert lease is not None and lease.fence == 1 and lease.node_id == a.config.node_id
        assert lease.node_url == court.url(0)
        assert court.lease_row(hid)[:2] == (a.config.node_id, 1)
        assert a.live.get(hid) is not None and b.live.get(hid) is None
        # node b does not take media for it: the client is to go to the owner
        with pytest.raises(leases.HeldElsewhere) as held:
            await b.live.signal(hid, "p1", {"type": "join"})
        assert held.value.extra["node_url"] == court.url(0)

        w1, w1_src = await admitted_peer(court, judge_b, hid, 0, "Witness One", 440)
        w2, w2_src = await admitted_peer(court, judge_b, hid, 0, "Plaintiff Two", 660,
                                         "plaintiff")
        room = a.live.get(hid).room
        await wait_for(lambda: energy(w2.peer.audio_from(w1_src)) > 0.05, 15, "w2 hears w1")
        jws = await judge_b.client.ws_connect(f"/api/hearings/{hid}/ws")
        await receive_type(jws, "hello")

        # mute through node b: the owner's room stops forwarding and recording w1
        pid1 = int(w1_src[1:])
        r = await judge_b.post(f"/api/hearings/{hid}/participants/{pid1}/mute",
                               json={"muted": True})
        assert r.status == 200, await r.text()
        assert room.participants[w1_src].source.muted
        await asyncio.sleep(0.5)
        heard = len(w2.peer.audio_from(w1_src))
        await asyncio.sleep(1.5)
        assert energy(w2.peer.audio_from(w1_src)[heard:]) < 0.01, "muted audio forwarded"
        r = await judge_b.post(f"/api/hearings/{hid}/participants/{pid1}/mute",
                               json={"muted": False})
        assert r.status == 200 and not room.participants[w1_src].source.muted
        await asyncio.sleep(1.0)

        # eject through node b: the seat is gone from the owner's room
        r = await judge_b.post(f"/api/hearings/{hid}/participants/{w2_src[1:]}/eject")
        assert r.status == 200, await r.text()
        assert w2_src not in room.participants
        await wait_for(lambda: w2.of_type("closed"), 5, "the ejected phone told")

        # close through node b: the owner finalises the recordings and gives the lease up
        r = await judge_b.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
        assert r.status == 200, await r.text()
        assert a.live.get(hid) is None and room.closed
        assert a.live.lease(hid) is None
        assert court.lease_row(hid)[2].replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
        for peer in (w1, w2):
            await peer.close()
        await jws.close()

        def rows(s):
            audit = [(e.action, e.data, e.data.get("at_ms")) for e in s.execute(
                select(AuditEvent).where(AuditEvent.hearing_id == hid)
                .order_by(AuditEvent.seq)).scalars()]
            recs = {r.source_id: r for r in s.execute(
                select(Recording).where(Recording.hearing_id == hid)).scalars()}
            return audit, recs
        audit, recs = court.dbs[0].run_sync(rows)
        assert {w1_src, w2_src} <= set(recs)
        assert a.live.blobs.exists(recs[w1_src].sha256)
        mute_at = next(at for action, data, at in audit
                       if action == "mute" and data.get("source_id") == w1_src)
        unmute_at = next(at for action, data, at in audit
                         if action == "unmute" and data.get("source_id") == w1_src)
        final = next(data for action, data, _ in audit
                     if action == "recording.final" and data["source_id"] == w1_src)
        [gap] = final["gaps"]  # the muted span, on the hearing clock
        assert abs(gap[0] - mute_at) < 500 and abs(gap[1] - unmute_at) < 500
        # node b never held media of the hearing: it recorded nothing
        assert not (tmp_path / "b" / "recordings" / str(hid)).exists()
        assert b.live.all() == []


async def test_a_node_whose_lease_was_taken_stops_and_writes_no_more(db_url, tmp_path,
                                                                    nats_url, bus_prefix):
    """The lease passed to another node behind this one's back: its next recording chunk is
    refused, which stops the hearing's live state here, and the staff are told."""
    async with Court(db_url, tmp_path, nats_url, bus_prefix, lease_ttl_s=60) as court:
        a = court.state(0)
        judge_a = await login(court.nodes[0].client, court.nodes[0].app, "judge")
        judge_b = await login(court.nodes[1].client, court.nodes[1].app, "judge")
        hid = (await schedule(judge_a))["id"]
        await judge_a.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        jws = await judge_b.client.ws_connect(f"/api/hearings/{hid}/ws")
        await receive_type(jws, "hello")
        await asyncio.sleep(0.3)  # node b's subscription to the hearing reaches the server
        w1, _ = await admitted_peer(court, judge_b, hid, 0, "Witness One", 440)
        room = a.live.get(hid).room

        def chunks():
            return court.dbs[0].run_sync(lambda s: s.execute(
                select(func.count()).select_from(RecordingChunk)
                .where(RecordingChunk.hearing_id == hid)).scalar_one())
        await wait_for(lambda: chunks() > 0, 15, "a first recording chunk")

        court.take_lease_away(hid)
        written = chunks()
        await wait_for(lambda: a.live.get(hid) is None, 10, "the live state to stop")
        lost = await receive_type(jws, "media", timeout=5)  # judge on the other node told
        while lost["event"]["type"] != "node.lost":
            lost = await receive_type(jws, "media", timeout=5)
        assert lost["event"]["node_id"] == a.config.node_id and lost["event"]["fence"] == 1
        await wait_for(lambda: room.closed, 10, "the room to close")
        await asyncio.sleep(0.5)
        assert chunks() == written, "a chunk row written after the lease was lost"
        assert court.lease_row(hid)[:2] == ("node-elsewhere", 2)
        await w1.close()
        await jws.close()


async def test_a_lost_renewal_stops_the_live_state(db_url, tmp_path, nats_url,
        bus_prefix):
    async with Court(db_url, tmp_path, nats_url, bus_prefix, lease_ttl_s=1.5) as court:
        a = court.state(0)
        judge_a = await login(court.nodes[0].client, court.nodes[0].app, "judge")
        hid = (await schedule(judge_a))["id"]
        await judge_a.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        first = court.lease_row(hid)[2]
        await asyncio.sleep(1.0)
        assert court.lease_row(hid)[2] > first, "the owner renews its lease"
        court.take_lease_away(hid)
        await wait_for(lambda: a.live.get(hid) is None, 3, "the live state to stop")
        # and whatever it still tries to write for the hearing is refused
        written = await a.live.record_room_event(hid, {
            "type": "recording.chunk", "source_id": "p1", "path": "x", "sha256": "0" * 64,
            "size": 1, "start_ms": 0, "end_ms": 2000}, fence=1)
        assert written is False
        assert court.dbs[0].run_sync(lambda s: s.execute(select(func.count()).select_from(
            RecordingChunk).where(RecordingChunk.hearing_id == hid)).scalar_one()) == 0
        late = machine_segment(TranscriptEvent("final", "p1", "p1#1", 100, 900, "Да", [],
                                               "ru", "m"))
        with pytest.raises(leases.StaleOwner):  # nor does a late caption become a segment
            await a.transcripts.add_final(hid, late)
        assert (await a.transcripts.get(hid)).segments() == []


async def test_the_owner_finishes_a_close_that_did_not_reach_it(db_url, tmp_path, nats_url,
        bus_prefix):
    """A hearing closed while its owner could not be asked (the close was recorded, the bus
    request failed): the owner sees it at its next renewal, finishes, and gives the lease up."""
    from hearing.models import Hearing
    async with Court(db_url, tmp_path, nats_url, bus_prefix, lease_ttl_s=1.5) as court:
        a = court.state(0)
        judge_a = await login(court.nodes[0].client, court.nodes[0].app, "judge")
        hid = (await schedule(judge_a))["id"]
        await judge_a.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
        assert a.live.get(hid) is not None
        court.dbs[0].run_sync(lambda s: s.execute(
            update(Hearing).where(Hearing.id == hid).values(state="closed")))
        await wait_for(lambda: a.live.get(hid) is None, 3, "the owner to finish the hearing")
        await wait_for(lambda: court.lease_row(hid)[2].replace(tzinfo=timezone.utc)
                       <= datetime.now(timezone.utc), 3, "the lease to be given up")
