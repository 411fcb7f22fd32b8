"""Re-transcription on a court of several nodes: the job is on the court's work queue, so a
node that stops while holding it hands it to another, which finishes it; every node queueing
the open job again at start-up stores it once, and the recording's proposals are written
once, by one node at a time."""

from __future__ import annotations

import asyncio

import pytest

from asr.model import bundled_model_dir
from hearing.api.context import STATE
from stenogram import Segment
from support.testpeer import SignalTrack

from hearing_testlib import login, schedule
from test_hearing_live_asr import speech_48k
from test_hearing_nodes_evidence import court  # noqa: F401 - the fixture
from test_hearing_restart_recording import witness_on_the_line
from test_hearing_retranscription import CLIP, rows, wait_for

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pytest.mark.skipif(not CLIP.exists(), reason="shared speech clips not present")
async def test_a_job_held_by_a_stopped_node_is_finished_once_by_another(court):  # noqa: F811
    extra = {"rtc_bind": "127.0.0.1", "retranscribe_model_dir": str(bundled_model_dir())}
    a = await court.start("a", **extra)
    db = court.dbs[0]
    judge = await login(a.client, a.app, "judge")
    hid = (await schedule(judge, language="ru"))["id"]
    _, peer, source = await witness_on_the_line(a, judge, hid, "Свидетель Ким",
                                                SignalTrack(speech_48k(CLIP)))
    await a.app[STATE].transcripts.add_final(hid, Segment(
        "m1", source, 0, 60_000, "Пароль верен.", (), "ru", "live", speaker=source))
    took, never = asyncio.Event(), asyncio.Event()

    async def hold(_hid):  # node a takes the job and is stopped before it ends
        took.set()
        await never.wait()
    a.app[STATE].retranscription._run = hold
    await asyncio.sleep(6)  # the clip and its trailing silence reach the recorder
    await peer.close()
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    assert r.status == 200, await r.text()
    await asyncio.wait_for(took.wait(), 60)

    b = await court.start("b", **extra)  # its start-up queues the open job again: stored once
    await asyncio.sleep(5)
    on_b = b.app[STATE].retranscription.progress.get(hid)
    assert on_b is None or on_b.state == "queued"  # a holds it: b does not run it too
    await court.stop("a")

    async def done():
        return rows(db, hid, "retranscription.done")
    assert (await wait_for(done))[0]["proposals"] >= 1
    assert len(rows(db, hid, "retranscription.queued")) == 1
    heard = rows(db, hid, "retranscription.source")
    assert [h["source_id"] for h in heard] == [source]  # heard once, by node b

    async def acknowledged():  # the end is stored first, then the job leaves the queue
        return await court.jobs_left() == 0
    await wait_for(acknowledged, 30)
