"""Re-transcription by a second model: a witness speaks a real Russian clip over WebRTC; the
hearing closes; its recording is transcribed again (the bundled base model, beam 5) as a job
that a restart resumes; segments whose text differs get proposals by that model, which the
secretary accepts (her correction, naming the model) or rejects (nothing changes); the
machine's first text stays in the chain; a participant can neither start nor decide."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from asr.model import bundled_model_dir
from hearing.api.context import STATE
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import AuditEvent
from stenogram import Segment, Transcript
from stenogram.revisions import chain_problems, make_revision
from stenogram.segments import Word
from support.testpeer import SignalTrack

from hearing_testlib import SPEECH, OwnServer, login, make_users, schedule
from test_hearing_evidence import Bearer
from test_hearing_live_asr import speech_48k
from test_hearing_restart_recording import witness_on_the_line

CLIP = SPEECH / "ru-dev" / "ast_ru_auth-incorrect.wav"  # "Пароль неверен. Введите пароль ..."


def test_a_proposal_changes_nothing_until_accepted():
    t = Transcript()
    t.add_machine_segment(Segment("s1", "p1", 0, 900, "Пароль верен.",
                                  (Word("Пароль", 0, 400, 0.9), Word("верен.", 400, 900, 0.5)),
                                  "ru", "base"))
    first = t.revisions[0].to_dict()
    p = t.propose("s1", "Пароль неверен.", [Word("Пароль", 0, 400, 0.9),
                                            Word("неверен.", 400, 900, 0.9)], model="large-v3")
    assert t.segment("s1").text == "Пароль верен." and t.proposals() == [p]
    t.reject_proposal(p.seq, author="user:4:secretary")
    assert t.segment("s1").text == "Пароль верен." and t.proposals() == []
    p = t.propose("s1", "Пароль неверен.", [], model="large-v3")
    rev = t.accept_proposal(p.seq, author="user:4:secretary")
    assert t.segment("s1").text == "Пароль неверен." and "large-v3" in rev.reason
    again = Transcript.from_dicts([r.to_dict() for r in t.revisions])  # the chain verifies
    assert again.revisions[0].to_dict() == first and again.proposals() == []
    # a "proposal" that changes a segment is refused by every verifier of the chain
    forged = make_revision(t.revisions[-1], "proposal", author="asr:x", reason="", payload={
        "segment_id": "s1", "text": "x", "put": [t.segment("s1").to_dict()]})
    assert chain_problems([*t.revisions, forged])


def rows(db, hid, action):
    return db.run_sync(lambda s: s.execute(select(AuditEvent.data).where(
        AuditEvent.hearing_id == hid, AuditEvent.action == action)).scalars().all())


async def wait_for(fn, timeout_s=180.0):  # noqa: ANN001
    for _ in range(int(timeout_s * 10)):
        if (value := await fn()):
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.skipif(not CLIP.exists(), reason="shared speech clips not present")
async def test_closed_hearing_is_retranscribed_and_the_secretary_decides(db_url, tmp_path):
    cfg = Config(data_dir=tmp_path / "data", database_url=db_url, transcribe=False,
                 transcribe_evidence=False, evidence_min_free_bytes=0, rtc_bind="127.0.0.1",
                 retranscribe_model_dir=str(bundled_model_dir()))
    db = Database(db_url)
    users = make_users(db)
    app = make_app(cfg, db)
    own = await OwnServer(app).start()
    judge = await login(own.client, app, "judge")
    hid = (await schedule(judge, secretary_id=users["secretary"], language="ru"))["id"]
    phone, peer, source = await witness_on_the_line(own, judge, hid, "Свидетель Ким",
                                                    SignalTrack(speech_48k(CLIP)))
    # What the live model wrote (two machine finals over the witness's speech, both wrong):
    store = app[STATE].transcripts
    for sid, text in (("m1", "Пароль верен."), ("m2", "Введите паспорт.")):
        await store.add_final(hid, Segment(sid, source, 0, 60_000, text, (), "ru", "live",
                                           speaker=source))
    never = asyncio.Event()
    app[STATE].retranscription._run = lambda hid: never.wait()  # cut short by the restart
    await asyncio.sleep(6)  # the clip (3.5 s) and its trailing silence reach the recorder
    await peer.close()
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    assert r.status == 200, await r.text()

    async def queued():
        return rows(db, hid, "retranscription.queued")
    assert (await wait_for(queued))[0]["on"] == "close"  # it started by itself
    await own.server.close()  # a restart in the middle of the job
    await own.close_clients()
    assert not rows(db, hid, "retranscription.done")

    db2 = Database(db_url)
    app2 = make_app(cfg, db2)
    own2 = await OwnServer(app2).start()
    try:
        secretary = await login(own2.client, app2, "secretary")
        phone = Bearer(await own2.client(), phone.token)

        async def finished():
            r = await secretary.get(f"/api/hearings/{hid}/retranscription")
            assert r.status == 200
            job = await r.json()
            return job if job["state"] == "done" else None
        job = await wait_for(finished)
        assert job["sources_done"] == [source] and job["model"] and job["startable"]
        assert len(rows(db2, hid, "retranscription.queued")) == 1  # resumed, not queued again
        proposals = {p["segment_id"]: p for p in job["proposals"]}
        assert set(proposals) == {"m1", "m2"}
        heard = proposals["m1"]["proposed"].lower()  # "Пароль не верен, видите пароль и ..."
        assert "пароль" in heard and "нажмите" in heard
        assert proposals["m1"]["text"] == "Пароль верен."  # nothing changed yet

        # a participant may neither start it nor decide
        r = await phone.post(f"/api/hearings/{hid}/retranscription")
        assert r.status in (401, 403)
        r = await phone.post(f"/api/hearings/{hid}/retranscription/proposals/"
                             f"{proposals['m1']['seq']}", json={"accept": True})
        assert r.status in (401, 403)
        r = await secretary.post(f"/api/hearings/{hid}/retranscription/proposals/"
                                 f"{proposals['m1']['seq']}", json={"accept": True})
        assert r.status == 200, await r.text()
        r = await secretary.post(f"/api/hearings/{hid}/retranscription/proposals/"
                                 f"{proposals['m2']['seq']}",
                                 json={"accept": False, "reason": "the witness said so"})
        assert r.status == 200 and (await r.json())["proposals"] == []
        segs = {s["id"]: s for s in (await (await secretary.get(
            f"/api/hearings/{hid}/transcript")).json())["segments"]}
        assert segs["m1"]["text"] == proposals["m1"]["proposed"]
        assert segs["m1"]["origin"] == "edit_text"
        assert segs["m2"]["text"] == "Введите паспорт." and segs["m2"]["origin"] == "asr"
        history = (await (await secretary.get(
            f"/api/hearings/{hid}/transcript/segments/m1/history")).json())["revisions"]
        assert history[0]["kind"] == "asr"
        assert history[0]["payload"]["put"][0]["text"] == "Пароль верен."  # first text kept
        assert history[-1]["author"] == f"user:{users['secretary']}:secretary"
        assert job["model"] in history[-1]["reason"]
        r = await secretary.post(f"/api/hearings/{hid}/retranscription/proposals/"
                                 f"{proposals['m1']['seq']}", json={"accept": True})
        assert r.status == 422  # decided once
        # asked again, the model proposes nothing it proposed before
        r = await secretary.post(f"/api/hearings/{hid}/retranscription")
        assert r.status == 202 and not (await r.json())["startable"]
        job = await wait_for(finished)
        assert job["proposals"] == [] and len(rows(db2, hid, "retranscription.queued")) == 2
    finally:
        await own2.server.close()
        await own2.close_clients()
