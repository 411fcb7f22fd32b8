"""Search over signed stenograms, evidence transcripts and case records, on both databases:
any form of a word finds the others (Russian and Kazakh), only signed text is found, each
result leads to its moment in the recording, nobody finds another case's text, and no query
text breaks the search."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearing.accounts import add_user
from hearing.api.context import STATE
from hearing.errors import Invalid
from hearing.evidence_jobs import _store_transcript
from hearing.models import CaseParty, EvidenceItem
from hearing.roles import Caller
from hearing.search.query import search
from stenogram import segment_from_final

from hearing_testlib import PASSWORD, OwnServer, app_with_users, login, schedule

PASS = "a long signing passphrase"


def final(start: int, text: str, language: str = "ru"):
    ws, t = [], start
    for w in text.split():
        ws.append({"text": w, "start_ms": t, "end_ms": t + 400, "probability": 0.9})
        t += 450
    return segment_from_final({"source_id": "seat-1", "start_ms": start, "end_ms": t,
                               "text": text, "words": ws, "language": language,
                               "model": "whisper-base/int8"}, speaker="seat-1")


@pytest.fixture
async def server(db_url, tmp_path):
    """One server for the whole test (its clients sign in as different people)."""
    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False)
    own = await OwnServer(app).start()
    yield own, db, ids
    await own.close_clients()
    await own.server.close()


async def _version(who, hid: int) -> int:
    r = await who.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201, await r.text()
    return (await r.json())["number"]


async def _sign(who, hid: int, number: int) -> None:
    r = await who.post(f"/api/hearings/{hid}/stenogram/versions/{number}/sign",
                       json={"passphrase": PASS})
    assert r.status == 200, await r.text()


async def _find(who, **params) -> list[dict]:
    r = await who.get("/api/search", params=params)
    assert r.status == 200, await r.text()
    return (await r.json())["results"]


def _marked(result: dict) -> list[str]:
    return [p["text"] for p in result["snippet"] if p["mark"]]


async def test_search_signed_stenogram(server, db_url, tmp_path):
    own, db, ids = server
    app, aiohttp_client = own.app, own.client
    state = app[STATE]
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h = await schedule(judge, ids["secretary"], case_number="2-77/2026",
                       title="Ахметов к Омарову")
    hid = h["id"]
    await state.transcripts.add_final(hid, final(1000, "Суд допросил свидетеля Петрова"))
    await state.transcripts.add_final(hid, final(7000, "Куәгердің айғақтары тыңдалды", "kk"))
    await state.transcripts.add_final(hid, final(9000, "Свидетель подтвердил алиби"))
    # a second case of the same judge, signed by the secretary only
    other = await schedule(judge, ids["secretary"], case_number="2-78/2026",
                           title="Другое дело")
    await state.transcripts.add_final(other["id"], final(500, "Свидетель Сидоров молчал"))

    for who in (sec, judge):
        r = await who.post("/api/me/signing-key", json={"passphrase": PASS})
        assert r.status == 201, await r.text()
    number = await _version(sec, hid)
    assert await _find(sec, q="свидетелем") == []  # a version, not yet signed
    await _sign(sec, hid, number)
    await _sign(judge, hid, number)
    unsigned = await _version(sec, other["id"])
    await _sign(sec, other["id"], unsigned)  # awaiting the judge: not signed

    # another form of the word finds both segments, each at its moment
    found = await _find(sec, q="свидетелем")
    assert {(r["clock_ms"], r["kind"]) for r in found} == {(1000, "segment"), (9000, "segment")}
    first = next(r for r in found if r["clock_ms"] == 1000)
    assert first["case_number"] == "2-77/2026" and first["hearing_id"] == hid
    assert first["version"] == number
    assert _marked(first) == ["свидетеля"]
    assert "".join(p["text"] for p in first["snippet"]) == "Суд допросил свидетеля Петрова"
    assert first["links"]["moment"] == f"/secretary/{hid}#t=1000"
    assert first["links"]["hearing"] == f"/api/hearings/{hid}"
    assert first["links"]["segment"].startswith(f"/api/hearings/{hid}/transcript/segments/")
    r = await sec.get(first["links"]["segment"])
    assert r.status == 200  # the segment link leads to that segment
    judge_found = await _find(judge, q="Свидетели", case_id=h["case_id"])
    assert {r["links"]["moment"] for r in judge_found} == {f"/judge/{hid}#t=1000",
                                                            f"/judge/{hid}#t=9000"}
    # both words must be there; ё and capitals do not matter
    assert [r["clock_ms"] for r in await _find(sec, q="СВИДЕТЕЛЬ алиби")] == [9000]
    # Kazakh: another case form of куәгер (witness)
    kk = await _find(sec, q="куәгерлерге")
    assert [(r["clock_ms"], _marked(r)) for r in kk] == [(7000, ["Куәгердің"])]
    # text that is not signed by both is not found
    assert await _find(sec, q="Сидоров") == []
    # the case record: number and title
    cases = await _find(sec, q="Омарова", kind="case")
    assert [(r["kind"], r["case_id"], r["hearing_id"]) for r in cases] == [
        ("case", h["case_id"], None)]
    # paging by rank
    r = await sec.get("/api/search", params={"q": "свидетель", "limit": "1"})
    page1 = await r.json()
    assert len(page1["results"]) == 1 and page1["next_cursor"]
    r = await sec.get("/api/search", params={"q": "свидетель", "limit": "1",
                                             "cursor": page1["next_cursor"]})
    page2 = await r.json()
    assert page2["next_cursor"] is None
    assert {page1["results"][0]["clock_ms"], page2["results"][0]["clock_ms"]} == {1000, 9000}

    # nobody outside the case finds its text: another judge, a lawyer not in the case
    def accounts(s):
        a = add_user(s, "lawyer_in", PASSWORD, "lawyer", "Адвокат Ким")
        add_user(s, "lawyer_out", PASSWORD, "lawyer", "Адвокат Пак")
        s.add(CaseParty(case_id=h["case_id"], role="defence_lawyer",
                        display_name="Адвокат Ким Жанболат", user_id=a.id, active=True,
                        added_at=datetime.now(timezone.utc)))
    db.run_sync(accounts)
    judge2 = await login(aiohttp_client, app, "judge2")
    lawyer_out = await login(aiohttp_client, app, "lawyer_out")
    lawyer_in = await login(aiohttp_client, app, "lawyer_in")
    assert await _find(judge2, q="свидетель") == []
    assert await _find(lawyer_out, q="свидетель") == []
    assert await _find(lawyer_out, q="свидетель", case_id=h["case_id"]) == []
    theirs = await _find(lawyer_in, q="свидетель")
    assert {r["links"]["moment"] for r in theirs} == {
        f"/api/hearings/{hid}/recordings#t=1000", f"/api/hearings/{hid}/recordings#t=9000"}

    # an accepted evidence item's transcript, found at its time within the file
    def evidence(s):
        item = EvidenceItem(hearing_id=hid, case_id=h["case_id"], upload_id="u-search-1",
                            sha256="0" * 64, size=1, filename="a.ogg", content_type="audio/ogg",
                            kind="audio", media={}, submitted_by="user:1:judge",
                            received_at=datetime.now(timezone.utc), status="accepted")
        s.add(item)
        s.flush()
        return item.id
    eid = db.run_sync(evidence)
    await state.transaction(None, _store_transcript, eid, [
        {"start_ms": 2500, "end_ms": 4000, "text": "Аудиозапись разговора с потерпевшим",
         "words": []}], "whisper-base/int8", "ru")
    ev = await _find(sec, q="потерпевшего", kind="evidence")
    assert [(r["clock_ms"], r["links"]["moment"]) for r in ev] == [
        (2500, f"/api/hearings/{hid}/evidence/{eid}/playback#t=2.5")]

    # the command line rebuilds the index from the record: the lawyer's name is now in it
    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url}
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "--data-dir", str(tmp_path),
                          "search", "reindex"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 stenogram segments, 1 evidence transcript segments, 2 cases" in out.stdout
    assert [r["kind"] for r in await _find(sec, q="Жанболата")] == ["case"]
    assert len(await _find(sec, q="свидетель")) == 2
    assert await _find(sec, q="Сидоров") == []

    # a corrected, newly signed version replaces the hearing's searchable text
    r = await sec.get(f"/api/hearings/{hid}/transcript")
    seg = next(x for x in (await r.json())["segments"] if x["start_ms"] == 9000)
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "edit_text", "segment_id": seg["id"], "text": "Свидетель подтвердил алиби супруги",
        "reason": "ослышка"})
    assert r.status == 201, await r.text()
    second = await _version(sec, hid)
    assert await _find(sec, q="супругой") == []
    await _sign(sec, hid, second)
    await _sign(judge, hid, second)
    assert [(r["clock_ms"], r["version"]) for r in await _find(sec, q="супругой")] == [
        (9000, second)]
    assert sorted((r["clock_ms"], r["version"]) for r in await _find(sec, q="свидетель")) == [
        (1000, second), (9000, second)]


HOSTILE = ['"', '"свидетель', "свидетель\"", "*", "свид*", "NEAR(свидетель суд)",
           "NEAR/2", "(", ")", "((свидетель", "a OR b AND NOT c", "^свидетель", "col:свидетель",
           "-", "'", "'; DROP TABLE search_docs; --", "!", "&|", "\\", "%_", "\u0301",
           "😀", "x" * 201, "a " * 150, "слово " * 30, "0", "0" * 100, "ё"]


async def test_hostile_queries(server):
    own, db, ids = server
    app, aiohttp_client = own.app, own.client
    sec = await login(aiohttp_client, app, "secretary")
    for q in HOSTILE:
        r = await sec.get("/api/search", params={"q": q})
        assert r.status in (200, 400), (q, r.status, await r.text())
    r = await sec.get("/api/search", params={"q": "я" * 5000})  # 10 KB of UTF-8
    assert r.status == 400, r.status  # the server refuses a request line this long
    r = await sec.get("/api/search", params={"q": "suд", "kind": "nothing"})
    assert r.status == 400
    r = await sec.get("/api/search", params={"q": "суд", "cursor": "not-a-cursor"})
    assert r.status == 400
    r = await sec.get("/api/search", params={"q": "  ...  "})
    assert r.status == 400
    # a participant's invite is not an account
    r = await (await aiohttp_client(app)).get("/api/search", params={"q": "суд"})
    assert r.status == 401


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=220) | st.text(alphabet='"*()^:-+ NEARORAND\'&|!свидетльқә',
                                             max_size=60))
def test_any_text_is_searched_or_refused(database, text):
    """Whatever the words, the database never sees query syntax from them."""
    admin = Caller("staff", "admin", "Admin", user_id=1)
    try:
        database.run_sync(lambda s: search(s, admin, text))
    except Invalid:
        pass
