"""Cases as a court keeps them: hearings of one number share one case file with one history
read from the audit rows; access is checked per case (another judge, a lawyer not in the case);
evidence accepted in one hearing is before the next; evidence left undecided when its hearing
closed is decided later by the case's judge, then converted (and, with the real model,
transcribed) like any accepted evidence. Real server, SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from hearing import audit
from hearing.accounts import add_user
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database
from hearing.models import StenogramVersionRow
from support.media_samples import make_media

from hearing_testlib import PASSWORD, invite, login, make_users, schedule
from test_hearing_evidence import (SPEECH, items, phone, phone_recording, sqlite_env, upload,
                                   wait_for)

NUMBER = "2-77/2026"


def config(tmp_path, db_url, **extra) -> Config:
    return Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                  transcribe_evidence=False, evidence_min_free_bytes=0, **extra)


def add_lawyer(db) -> int:
    return db.run_sync(lambda s: add_user(s, "lawyer", PASSWORD, "lawyer", "Адвокат Б.").id)


@pytest.fixture
def court(db_url, tmp_path):
    db = Database(db_url)
    ids = make_users(db)
    ids["lawyer"] = add_lawyer(db)
    yield tmp_path, db_url, db, ids
    db.close()


async def all_pages(who, path, key, limit=2, **params):
    """Every page of a paged list, following next_cursor."""
    out, cursor = [], None
    while True:
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        r = await who.get(path, params=query)
        assert r.status == 200, await r.text()
        body = await r.json()
        assert len(body[key]) <= limit
        out += body[key]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


async def move(judge, hid, *states):
    for to in states:
        r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": to})
        assert r.status == 200, await r.text()


def verify_chain(db, chain):
    return db.run_sync(lambda s: audit.verify(s, chain))


def cli_verify_case(db_url, data_dir, case_id):
    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url, "COURTROOM_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "hearing.cli", "audit", "verify", "--case",
                           str(case_id)], capture_output=True, text=True, env=env)


async def test_hearings_of_one_number_share_a_case_and_its_history(aiohttp_client, court):
    tmp_path, db_url, db, ids = court
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    h1 = await schedule(judge, ids["secretary"], case_number=NUMBER)
    h2 = await schedule(judge, ids["secretary"], case_number=NUMBER, title="Продолжение")
    h3 = await schedule(judge, case_number="3-1/2026", title="Другое дело Петрова")
    assert h1["case_id"] == h2["case_id"] != h3["case_id"]
    cid = h1["case_id"]

    # filters and paging
    r = await judge.get("/api/cases", params={"number": NUMBER})
    found = await r.json()
    assert [c["id"] for c in found["cases"]] == [cid] and found["next_cursor"] is None
    assert found["cases"][0]["judge_id"] == ids["judge"]
    r = await judge.get("/api/cases", params={"q": "петрова"})
    assert [c["id"] for c in (await r.json())["cases"]] == [h3["case_id"]]
    assert [c["id"] for c in await all_pages(judge, "/api/cases", "cases", limit=1)] == [
        cid, h3["case_id"]]
    r = await judge.get("/api/cases", params={"status": "decided"})
    assert (await r.json())["cases"] == []
    r = await judge.get("/api/cases", params={"case_number": NUMBER})
    assert r.status == 400  # a misspelt filter is refused, never ignored

    await invite(judge, h1["id"])  # a witness with a phone number: an SMS notice
    await move(judge, h1["id"], "open", "closed")
    await move(judge, h2["id"], "open", "recess", "open", "closed")
    r = await judge.patch(f"/api/cases/{cid}", json={"title": "Иванов А. к ТОО «Береке»",
                                                     "status": "decided"})
    assert r.status == 200 and (await r.json())["status"] == "decided"
    r = await judge.get(f"/api/cases/{cid}")
    case = await r.json()
    assert [h["id"] for h in case["hearings"]] == [h1["id"], h2["id"]]
    assert case["parties"] == [] and case["number"] == NUMBER

    events = await all_pages(judge, f"/api/cases/{cid}/history", "events", limit=3)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert {e["hearing_id"] for e in events if e["chain"] == "hearing"} == {
        h1["id"], h2["id"]}  # not the other case's
    transitions = [e["summary"] for e in events if e["action"] == "hearing.transition"]
    a, b = h1["id"], h2["id"]
    assert transitions == [f"hearing {a}: scheduled → open", f"hearing {a}: open → closed",
                           f"hearing {b}: scheduled → open", f"hearing {b}: open → recess",
                           f"hearing {b}: recess → open", f"hearing {b}: open → closed"]
    assert events[0]["action"] == "hearing.create" and events[0]["hearing_id"] == a
    notices = [e["summary"] for e in events if e["action"].startswith("notice.")]
    assert notices and notices[0].startswith("notice queued: invited by sms to "), notices
    last = events[-1]
    assert last["chain"] == "case" and last["action"] == "case.update"
    assert "status open → decided" in last["summary"]
    only_b = await all_pages(judge, f"/api/cases/{cid}/history", "events",
                             hearing_id=str(b))
    assert {e["hearing_id"] for e in only_b} == {b}

    # the case's own chain verifies, in the database and from the command line
    assert verify_chain(db, audit.case_chain(cid)) == (1, [])
    out = cli_verify_case(db_url, tmp_path, cid)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"audit log of case {cid}: 1 rows, chain intact" in out.stdout


async def test_access_is_checked_per_case(aiohttp_client, court):
    tmp_path, db_url, db, ids = court
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    sec = await login(aiohttp_client, app, "secretary")
    admin = await login(aiohttp_client, app, "admin")
    lawyer = await login(aiohttp_client, app, "lawyer")
    cid = (await schedule(judge, ids["secretary"], case_number=NUMBER))["case_id"]
    url = f"/api/cases/{cid}"

    # another judge and a lawyer who is not in the case see nothing of it
    for who in (judge2, lawyer):
        for path in (url, url + "/parties", url + "/evidence"):
            assert (await who.get(path)).status == 403, path
        assert (await who.get("/api/cases")).status == 200
        assert (await (await who.get("/api/cases")).json())["cases"] == []
    assert (await judge2.get(url + "/history")).status == 403
    assert (await judge2.patch(url, json={"title": "чужое"})).status == 403
    party = {"role": "plaintiff", "display_name": "Иванов А.", "contact": "ivanov@example.kz"}
    assert (await judge2.post(url + "/parties", json=party)).status == 403

    # the secretary of its hearing keeps the parties, not the case file
    r = await sec.post(url + "/parties", json=party)
    assert r.status == 201, await r.text()
    plaintiff = await r.json()
    assert plaintiff["contact"] == "ivanov@example.kz" and plaintiff["active"] is True
    # the party's name is found in the case at once, in another form of the word
    r = await judge.get("/api/search", params={"q": "Иванова", "kind": "case"})
    assert [hit["case_id"] for hit in (await r.json())["results"]] == [cid]
    assert (await sec.patch(url, json={"title": "x"})).status == 403

    # opening cases: judges their own, never a secretary; a number once per court
    new = {"number": NUMBER, "category": "civil", "title": "Дубликат"}
    assert (await judge.post("/api/cases", json=new)).status == 409
    new["number"] = "5-1/2026"
    assert (await sec.post("/api/cases", json=new)).status == 403
    assert (await judge.post("/api/cases", json={**new, "judge_id": ids["judge2"]})).status == 400
    r = await admin.post("/api/cases", json={**new, "category": "criminal",
                                             "judge_id": ids["judge2"]})
    assert r.status == 201, await r.text()
    other = await r.json()
    assert [c["id"] for c in (await (await judge2.get("/api/cases")).json())["cases"]] == [
        other["id"]]

    # a party's account acts in the case once linked, and only there
    lawyer_party = {"role": "defence_lawyer", "display_name": "Адвокат Б.",
                    "contact": "+77010000000", "acts_for": plaintiff["id"]}
    r = await sec.post(url + "/parties", json={**lawyer_party, "user_id": ids["judge2"]})
    assert r.status == 400  # a judge's account is no party's
    r = await sec.post(url + "/parties", json={**lawyer_party, "acts_for": 999})
    assert r.status == 400
    r = await sec.post(url + "/parties", json={**lawyer_party, "user_id": ids["lawyer"]})
    assert r.status == 201, await r.text()
    linked = await r.json()
    r = await lawyer.get(url)
    assert r.status == 200
    seen = await r.json()
    assert [p["id"] for p in seen["parties"]] == [plaintiff["id"], linked["id"]]
    assert all("contact" not in p for p in seen["parties"])  # contacts are the court's
    assert [c["id"] for c in (await (await lawyer.get("/api/cases")).json())["cases"]] == [cid]
    assert (await lawyer.get(f"/api/cases/{other['id']}")).status == 403
    assert (await lawyer.get(url + "/history")).status == 403
    assert (await lawyer.post(url + "/parties", json=party)).status == 403
    assert (await lawyer.patch(url, json={"title": "x"})).status == 403
    r = await sec.patch(url + f"/parties/{linked['id']}", json={"acts_for": linked["id"]})
    assert r.status == 400  # nobody acts for themselves

    # deactivated, the account no longer reaches the case; the file keeps the party
    r = await judge.delete(url + f"/parties/{linked['id']}")
    assert r.status == 204
    assert (await lawyer.get(url)).status == 403
    r = await judge.get(url + "/parties", params={"active": "false"})
    assert [p["id"] for p in (await r.json())["parties"]] == [linked["id"]]
    r = await admin.patch(url + f"/parties/{linked['id']}", json={"active": True})
    assert r.status == 200 and (await lawyer.get(url)).status == 200
    history = await all_pages(judge, url + "/history", "events", limit=100)
    assert [e["action"] for e in history if e["chain"] == "case"] == [
        "party.add", "party.add", "party.remove", "party.update"]
    assert "defence_lawyer Адвокат Б. removed from the case" in [e["summary"] for e in history]
    assert verify_chain(db, audit.case_chain(cid)) == (4, [])


async def test_evidence_carries_across_the_case_and_is_decided_after_close(aiohttp_client,
                                                                           court):
    tmp_path, db_url, db, ids = court
    app = make_app(config(tmp_path, db_url), db)
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    sec = await login(aiohttp_client, app, "secretary")
    lawyer = await login(aiohttp_client, app, "lawyer")
    h1 = await schedule(judge, ids["secretary"], case_number=NUMBER)
    cid, first = h1["case_id"], h1["id"]
    r = await sec.post(f"/api/cases/{cid}/parties", json={
        "role": "defence_lawyer", "display_name": "Адвокат Б.", "user_id": ids["lawyer"]})
    assert r.status == 201
    video = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=1.0).read_bytes()
    sound = make_media(tmp_path / "a.ogg", "ogg-opus", seconds=1.0).read_bytes()
    status, a = await upload(sec, first, video, filename="видео.mp4")
    assert status == 200, a
    status, b = await upload(sec, first, sound, filename="звонок.ogg")
    assert status == 200, b
    a, b = a["evidence_id"], b["evidence_id"]
    await move(judge, first, "open")
    r = await judge.post(f"/api/hearings/{first}/evidence/{a}/decision",
                         json={"decision": "accept", "reason": "относимо"})
    assert r.status == 200
    await move(judge, first, "closed")

    # what was left undecided stays pending, on the case, for the case's judge
    r = await judge.post(f"/api/hearings/{first}/evidence/{b}/decision",
                         json={"decision": "accept", "reason": "поздно"})
    assert r.status == 409 and (await r.json())["case_id"] == cid
    r = await judge.get(f"/api/cases/{cid}/evidence", params={"status": "pending"})
    assert [i["id"] for i in (await r.json())["evidence"]] == [b]

    # the next hearing of the case has what the court accepted, served under its own path
    h2 = await schedule(judge, case_number=NUMBER, title="Продолжение")
    second = h2["id"]
    assert h2["case_id"] == cid
    listed = await items(judge, second)
    assert [(i["id"], i["hearing_id"], i["carried_from"]) for i in listed] == [(a, first, first)]
    done = await wait_for(lambda: items(judge, second),
                          lambda xs: xs[0]["transcode_state"] == "done")
    assert done[0]["playback_url"] == f"/api/hearings/{second}/evidence/{a}/playback"
    r = await judge.get(done[0]["playback_url"])
    assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
    r = await judge.get(f"/api/hearings/{second}/evidence/{b}")
    assert r.status == 404  # pending evidence of another hearing is not before this one
    # an invited witness of the next hearing keeps seeing only their own
    witness = await phone(aiohttp_client, app, judge, second)
    assert await items(witness, second) == []
    assert (await witness.get(f"/api/hearings/{second}/evidence/{a}/original")).status == 403
    # the lawyer in the case reads the accepted evidence, not the pending
    r = await lawyer.get(f"/api/cases/{cid}/evidence")
    assert [i["id"] for i in (await r.json())["evidence"]] == [a]
    r = await lawyer.get(f"/api/cases/{cid}/evidence/{a}/original")
    assert r.status == 200 and await r.read() == video
    assert (await lawyer.get(f"/api/cases/{cid}/evidence/{b}/original")).status == 403
    r = await lawyer.get(f"/api/hearings/{second}/evidence")
    assert [i["id"] for i in (await r.json())["evidence"]] == [a]

    # only the case's judge decides it, with a reason
    url = f"/api/cases/{cid}/evidence/{b}/decision"
    accept = {"decision": "accept", "reason": "запись разговора относима к делу"}
    for who in (sec, judge2, lawyer):
        assert (await who.post(url, json=accept)).status == 403
    assert (await judge.post(url, json={"decision": "accept", "reason": " "})).status == 400
    r = await judge.post(url, json=accept)
    assert r.status == 200, await r.text()
    decided = await r.json()
    assert decided["status"] == "accepted" and decided["hearing_id"] == first
    assert (await judge.post(url, json=accept)).status == 200  # a retry decides nothing new
    r = await judge.post(f"/api/cases/{cid}/evidence/{a}/decision",
                         json={"decision": "reject", "reason": "передумал"})
    assert r.status == 409  # decided in its hearing: final

    # then converted exactly as evidence accepted in a hearing
    async def fetch():
        return await (await judge.get(f"/api/cases/{cid}/evidence/{b}")).json()
    item = await wait_for(fetch, lambda i: i["transcode_state"] in ("done", "failed"))
    assert item["transcode_state"] == "done", item
    r = await lawyer.get(item["playback_url"])
    assert r.status == 200 and r.headers["Content-Type"].startswith("audio/")
    r = await lawyer.get(f"/api/cases/{cid}/evidence")
    assert [i["id"] for i in (await r.json())["evidence"]] == [a, b]
    assert [i["id"] for i in await items(judge, second)] == [a, b]

    # the decision is the case's: its history, the custody, its chain
    history = await all_pages(judge, f"/api/cases/{cid}/history", "events", limit=100)
    late = [e for e in history if e["action"] == "evidence.decision" and e["chain"] == "case"]
    assert [(e["hearing_id"], e["data"]["evidence_id"]) for e in late] == [(first, b)]
    assert late[0]["summary"] == f"evidence {b} accepted: {accept['reason']}"
    r = await judge.get(f"/api/cases/{cid}/evidence/{b}/custody")
    actions = [e["action"] for e in (await r.json())["events"]]
    assert actions[:2] == ["evidence.upload_started", "evidence.received"]
    assert "evidence.decision" in actions and "evidence.derived" in actions
    assert verify_chain(db, audit.case_chain(cid))[1] == []
    # a stenogram version of the first hearing made now lists it with the accepted evidence
    r = await judge.post(f"/api/hearings/{first}/stenogram/versions")
    assert r.status == 201, await r.text()
    docs = await db.run(lambda s: [v.doc for v in s.execute(select(StenogramVersionRow).where(
        StenogramVersionRow.hearing_id == first)).scalars()])
    assert {e["sha256"] for e in docs[-1]["evidence"]} == {
        hashlib.sha256(video).hexdigest(), hashlib.sha256(sound).hexdigest()}


@pytest.mark.slow
@pytest.mark.skipif(not (SPEECH / "nsh_ru_ru_0045.wav").is_file(), reason="no speech clips")
async def test_evidence_decided_on_the_case_is_transcribed(aiohttp_client, tmp_path):
    """On SQLite only: the model run is the same on every database."""
    db_url, db, ids = sqlite_env(tmp_path)
    app = make_app(Config(data_dir=tmp_path, database_url=db_url, transcribe=False,
                          evidence_min_free_bytes=0), db)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge, language="ru")
    call = phone_recording(SPEECH / "nsh_ru_ru_0045.wav", tmp_path / "call.ogg")
    status, receipt = await upload(judge, h["id"], call, filename="call.ogg")
    assert status == 200
    await move(judge, h["id"], "open", "closed")
    url = f"/api/cases/{h['case_id']}/evidence/{receipt['evidence_id']}"
    r = await judge.post(url + "/decision", json={"decision": "accept", "reason": "запись"})
    assert r.status == 200, await r.text()

    async def fetch():
        return await (await judge.get(url)).json()
    item = await wait_for(fetch, lambda i: i["transcription_state"] in ("done", "failed"),
                          timeout=240)
    assert item["transcription_state"] == "done", item
    text = " ".join(s["text"] for s in item["transcript"]).lower()
    assert sum(w in text for w in ("думали", "следы", "магнитных", "земли")) >= 3, text
