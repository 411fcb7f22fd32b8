"""Evidence on a court of several servers: two nodes on one PostgreSQL database and one NATS
server, sharing one data directory. A phone's upload goes on through whichever node its next
request reaches; two nodes never write one upload at once; a node that died mid-upload lets it
go; a playback copy queued on a node that stopped before making it is made by another."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from hearing.api.context import STATE
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import AuditEvent, EvidenceItem, EvidenceUploadLease
from hearing.work_queue import WorkQueueOptions
from media.blobstore import BlobStore
from support.media_samples import make_media

from hearing_testlib import OwnServer, invite, login, make_users, schedule

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


class Phone:
    """A participant's phone talking to one node: every request carries the invite token."""

    def __init__(self, client, token):
        self.client, self.h = client, {"Authorization": f"Bearer {token}"}

    async def request(self, method, path, **kw):
        kw["headers"] = {**self.h, **(kw.get("headers") or {})}
        return await self.client.request(method, path, **kw)


class Court:
    """Nodes on one database, one NATS server and one shared data directory."""

    def __init__(self, db_url, tmp_path, nats_url, bus_prefix):
        self.db_url, self.nats_url, self.bus_prefix = db_url, nats_url, bus_prefix
        self.data = tmp_path / "shared"
        self.nodes: dict[str, OwnServer] = {}
        self.dbs: list[Database] = []

    async def start(self, name, **extra) -> OwnServer:
        db = Database(self.db_url)
        if not self.dbs:
            make_users(db)
        self.dbs.append(db)
        settings = {"transcribe": False, "transcribe_evidence": False,
                    "evidence_min_free_bytes": 0, **extra}
        cfg = Config(data_dir=self.data, database_url=self.db_url, nats_url=self.nats_url,
                     bus_prefix=self.bus_prefix, node_id=f"node-{name}-{uuid.uuid4().hex[:6]}",
                     **settings)
        node = self.nodes[name] = await OwnServer(make_app(cfg, db)).start()
        return node

    async def stop(self, name) -> None:
        node = self.nodes.pop(name)
        await node.close_clients()
        await node.server.close()

    async def close(self) -> None:
        for name in list(self.nodes):
            await self.stop(name)
        for db in self.dbs:
            db.close()

    async def jobs_left(self) -> int:
        import nats
        nc = await nats.connect(self.nats_url)
        try:
            stream = WorkQueueOptions(self.nats_url, prefix=self.bus_prefix).stream
            return (await nc.jetstream().stream_info(stream)).state.messages
        finally:
            await nc.close()


@pytest.fixture
async def court(db_url, tmp_path, nats_url, bus_prefix):
    c = Court(db_url, tmp_path, nats_url, bus_prefix)
    yield c
    await c.close()


async def witness_on(court, names, tmp_path):
    """A hearing scheduled on node a, and its witness's phone on each named node."""
    judge = await login(court.nodes["a"].client, court.nodes["a"].app, "judge")
    hid = (await schedule(judge))["id"]
    inv = await invite(judge, hid)
    phones = {n: Phone(await court.nodes[n].client(), inv["token"]) for n in names}
    r = await phones[names[0]].request("POST", "/api/join")
    assert r.status == 200, await r.text()
    return judge, hid, phones


async def start_upload(phone, hid, data):
    r = await phone.request("POST", f"/api/hearings/{hid}/evidence/uploads", json={
        "filename": "incident.mp4", "size": len(data), "content_type": "video/mp4",
        "sha256": hashlib.sha256(data).hexdigest()})
    assert r.status == 201, await r.text()
    return (await r.json())["url"]


async def video_upload_begun(court, tmp_path):
    """A witness, with a phone on nodes a and b, begins uploading a 2-second video through
    a: (hearing id, the phone by node, the video, the upload's URL)."""
    judge, hid, phone = await witness_on(court, ["a", "b"], tmp_path)
    data = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=2.0).read_bytes()
    url = await start_upload(phone["a"], hid, data)
    return hid, phone, data, url


async def patch(phone, url, at, body):
    return await phone.request("PATCH", url, data=body, headers={"Upload-Offset": str(at)})


async def offset(phone, url) -> int:
    r = await phone.request("HEAD", url)
    assert r.status == 200
    return int(r.headers["Upload-Offset"])


async def evidence_rows(db, hid):
    return await db.run(lambda s: list(s.execute(select(EvidenceItem).where(
        EvidenceItem.hearing_id == hid)).scalars()))


async def test_an_upload_started_on_one_node_is_finished_on_another(court, tmp_path):
    await court.start("a")
    await court.start("b")
    hid, phone, data, url = await video_upload_begun(court, tmp_path)
    third = len(data) // 3

    # the phone's requests land on a, then b, then a again (each node's running hash has
    # fallen behind what the other appended), and it completes on b
    for node, at, end in (("a", 0, third), ("b", third, 2 * third), ("a", 2 * third, None)):
        r = await patch(phone[node], url, at, data[at:end])
        assert r.status == 204, await r.text()
        assert await offset(phone["b" if node == "a" else "a"], url) == (end or len(data))
    r = await phone["b"].request("POST", url + "/complete")
    assert r.status == 200, await r.text()
    receipt = await r.json()
    assert receipt["sha256"] == hashlib.sha256(data).hexdigest()
    assert receipt["size"] == len(data)
    assert BlobStore(court.data / "blobs").path_for(receipt["sha256"]).read_bytes() == data

    # completing again through the other node gives the same receipt, not a second item
    r = await phone["a"].request("POST", url + "/complete")
    assert r.status == 200 and (await r.json())["evidence_id"] == receipt["evidence_id"]
    rows = await evidence_rows(court.dbs[0], hid)
    assert [(i.id, i.sha256) for i in rows] == [(receipt["evidence_id"], receipt["sha256"])]
    leases = await court.dbs[0].run(lambda s: s.execute(select(EvidenceUploadLease)).all())
    assert leases == [], "every node gave the upload up when its request ended"


async def test_two_nodes_never_append_to_one_upload_at_once(court, tmp_path):
    await court.start("a")
    await court.start("b")
    hid, phone, data, url = await video_upload_begun(court, tmp_path)
    sending = asyncio.Event()

    async def slowly():
        for at in range(0, len(data), 4096):
            yield data[at:at + 4096]
            sending.set()
            await asyncio.sleep(0.01)

    # the same bytes from the same offset through both nodes, one while the other still sends
    slow = asyncio.create_task(patch(phone["a"], url, 0, slowly()))
    await sending.wait()
    await asyncio.sleep(0.2)
    racing = await patch(phone["b"], url, 0, data)
    assert racing.status == 409, await racing.text()
    assert (await racing.json())["error"] == "offset_mismatch"
    first = await slow
    assert first.status == 204, await first.text()
    late = await patch(phone["b"], url, 0, data)  # the retry once it is all there
    assert late.status == 409 and late.headers["Upload-Offset"] == str(len(data))

    r = await phone["b"].request("POST", url + "/complete")
    assert r.status == 200, await r.text()
    assert (await r.json())["sha256"] == hashlib.sha256(data).hexdigest(), "nothing corrupted"


async def test_a_node_that_died_mid_upload_lets_another_take_it_over(court, tmp_path):
    await court.start("b")
    db = court.dbs[0]
    await court.start("a")
    hid, phone, data, url = await video_upload_begun(court, tmp_path)
    half = len(data) // 2
    assert (await patch(phone["a"], url, 0, data[:half])).status == 204
    upload_id = url.rsplit("/", 1)[1]
    part = court.data / "blobs" / "uploads" / f"{upload_id}.part"
    with open(part, "ab") as f:  # a node killed while writing: bytes past the checkpoint
        f.write(b"\0" * 1000)

    def ghost(until):
        def work(s):
            s.execute(delete(EvidenceUploadLease).where(
                EvidenceUploadLease.upload_id == upload_id))
            s.add(EvidenceUploadLease(upload_id=upload_id, node_id="dead", holder="dead",
                                      expires_at=until))
        return work
    now = datetime.now(timezone.utc)
    await db.run(ghost(now + timedelta(seconds=30)))
    r = await patch(phone["b"], url, half, data[half:])
    assert r.status == 409 and r.headers["Upload-Offset"] == str(half), "still held"
    await db.run(ghost(now - timedelta(seconds=1)))  # its lease lapsed
    r = await patch(phone["b"], url, half, data[half:])
    assert r.status == 204, await r.text()
    r = await phone["b"].request("POST", url + "/complete")
    assert r.status == 200, await r.text()
    assert (await r.json())["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_conversion_queued_on_a_stopped_node_is_made_by_another(court, tmp_path):
    await court.start("a", evidence_job_slots=0)  # queues jobs, takes none
    judge, hid, phone = await witness_on(court, ["a"], tmp_path)
    data = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=2.0).read_bytes()
    url = await start_upload(phone["a"], hid, data)
    assert (await patch(phone["a"], url, 0, data)).status == 204
    r = await phone["a"].request("POST", url + "/complete")
    eid = (await r.json())["evidence_id"]
    r = await judge.post(f"/api/hearings/{hid}/evidence/{eid}/decision",
                         json={"decision": "accept", "reason": "относимо к делу"})
    assert r.status == 200, await r.text()
    t0 = time.monotonic()
    while await court.jobs_left() == 0:  # the job reached the stream
        assert time.monotonic() - t0 < 10
        await asyncio.sleep(0.05)
    await court.stop("a")

    b = await court.start("b")
    db = court.dbs[-1]  # a's closed with it
    t0 = time.monotonic()
    while True:
        item = (await evidence_rows(db, hid))[0]
        if item.transcode_state == "done":
            break
        assert time.monotonic() - t0 < 120, item.transcode_state
        await asyncio.sleep(0.1)
    assert item.playback_sha256 and item.thumbnail_sha256
    assert BlobStore(court.data / "blobs").exists(item.playback_sha256)
    t0 = time.monotonic()
    while await court.jobs_left():  # acknowledged once the copies were recorded
        assert time.monotonic() - t0 < 10
        await asyncio.sleep(0.05)

    # the same job again (queued twice, or delivered again): acknowledged without work
    await b.app[STATE].evidence.queue.put("convert", {"sha256": item.sha256}, "again")
    await asyncio.sleep(1.0)
    derived = await db.run(lambda s: s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hid, AuditEvent.action == "evidence.derived")).all())
    assert len(derived) == 1
    assert await court.jobs_left() == 0


async def test_a_node_stopped_while_converting_hands_the_job_to_another(court, tmp_path):
    a = await court.start("a")
    judge, hid, phone = await witness_on(court, ["a"], tmp_path)
    data = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=4.0).read_bytes()
    url = await start_upload(phone["a"], hid, data)
    assert (await patch(phone["a"], url, 0, data)).status == 204
    eid = (await (await phone["a"].request("POST", url + "/complete")).json())["evidence_id"]
    r = await judge.post(f"/api/hearings/{hid}/evidence/{eid}/decision",
                         json={"decision": "accept", "reason": "относимо к делу"})
    assert r.status == 200, await r.text()
    jobs = a.app[STATE].evidence
    t0 = time.monotonic()
    while not jobs.conversions:  # a took the job and started on it
        assert time.monotonic() - t0 < 20
        await asyncio.sleep(0.02)
    await court.stop("a")  # cut short: the copy is not made, the job goes back

    await court.start("b")
    db = court.dbs[-1]
    t0 = time.monotonic()
    while (item := (await evidence_rows(db, hid))[0]).transcode_state != "done":
        assert time.monotonic() - t0 < 120, item.transcode_state
        await asyncio.sleep(0.1)
    derived = await db.run(lambda s: s.execute(select(AuditEvent.actor).where(
        AuditEvent.hearing_id == hid, AuditEvent.action == "evidence.derived")).all())
    assert len(derived) == 1, "made once"
    t0 = time.monotonic()
    while await court.jobs_left():
        assert time.monotonic() - t0 < 10
        await asyncio.sleep(0.05)


async def test_a_transcription_job_whose_item_needs_none_is_acknowledged_without_work(court):
    node = await court.start("a", transcribe_evidence=True)
    jobs = node.app[STATE].evidence
    await jobs.queue.put("transcribe", {"evidence_id": 999_999}, "gone")
    t0 = time.monotonic()
    while await court.jobs_left():
        assert time.monotonic() - t0 < 10
        await asyncio.sleep(0.05)
    assert node.app[STATE].live.transcription.scheduler is None, "no model loaded for it"

