"""Lists as a busy court uses them: the hearing list filtered by case, text, state, courtroom,
judge and time, every list paged by cursor (each row exactly once), and the filters published
in OpenAPI."""

from __future__ import annotations

import pytest

from hearing_testlib import app_with_users, login, schedule


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path)


async def walk(staff, path: str, key: str, limit: int) -> tuple[list[dict], int]:
    """Every row of a paged list, following next_cursor; and how many pages it took."""
    rows, pages, cursor = [], 0, None
    sep = "&" if "?" in path else "?"
    while True:
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = await staff.get(url)
        assert r.status == 200, await r.text()
        body = await r.json()
        rows += body[key]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages
        assert len(body[key]) == limit


LISTS = {
    "/api/hearings": "hearings", "/api/hearings/{hearing_id}/participants": "participants",
    "/api/hearings/{hearing_id}/invites": "invites", "/api/hearings/{hearing_id}/audit": "events",
    "/api/courts": "courts", "/api/courts/{court_id}/courtrooms": "courtrooms",
    "/api/hearings/{hearing_id}/recordings": "recordings",
}


async def test_openapi_publishes_the_filters_and_paging(aiohttp_client, app_db):
    app, db, ids = app_db
    client = await aiohttp_client(app)
    spec = await (await client.get("/api/openapi.json")).json()
    for path, key in LISTS.items():
        op = spec["paths"][path]["get"]
        params = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
        assert {"cursor", "limit"} <= set(params), path
        assert params["limit"]["schema"]["maximum"] == 500
        answer = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert {key, "next_cursor"} <= set(answer["required"]), path
    hearing_params = {p["name"]: p for p in spec["paths"]["/api/hearings"]["get"]["parameters"]}
    assert set(hearing_params) == {"case_number", "case_id", "q", "state", "courtroom_id",
                                   "judge_id", "from", "to", "cursor", "limit"}
    assert "cancelled" in hearing_params["state"]["schema"]["enum"]
    assert "400" in spec["paths"]["/api/hearings"]["get"]["responses"]
    calendar = {p["name"] for p in spec["paths"]["/api/calendar"]["get"]["parameters"]}
    assert calendar == {"from", "days", "courtroom_id", "judge_id"}


async def test_paging_walks_every_hearing_exactly_once(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    made = [(await schedule(judge, case_number=f"2-{i}/2026"))["id"] for i in range(25)]
    rows, pages = await walk(judge, "/api/hearings", "hearings", 10)
    assert [h["id"] for h in rows] == made and pages == 3
    # a filter pages the same way
    rows, pages = await walk(judge, "/api/hearings?q=2-1", "hearings", 4)
    assert [h["case_number"] for h in rows] == ["2-1/2026"] + [f"2-{i}/2026" for i in range(10, 20)]
    assert pages == 3
    # without a limit the first page holds 100, so today's callers see all 25
    body = await (await judge.get("/api/hearings")).json()
    assert len(body["hearings"]) == 25 and body["next_cursor"] is None
    # a hearing added between pages appears once, on a later page
    r = await judge.get("/api/hearings?limit=20")
    first = await r.json()
    late = (await schedule(judge, case_number="late"))["id"]
    r = await judge.get(f"/api/hearings?limit=20&cursor={first['next_cursor']}")
    rest = await r.json()
    assert [h["id"] for h in first["hearings"] + rest["hearings"]] == [*made, late]


async def test_each_filter_narrows_the_list(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    court = await (await admin.post("/api/courts", json={"name": "Суд"})).json()
    room = await (await admin.post(f"/api/courts/{court['id']}/courtrooms",
                                   json={"name": "Зал 1"})).json()
    a = await schedule(judge, case_number="2-15/2026", title="Иванов А. к ТОО «Береке»",
                       scheduled_at="2026-12-07T10:00:00+05:00", courtroom_id=room["id"])
    b = await schedule(judge, case_number="2-15/2026", title="Иванов А. к ТОО «Береке»",
                       scheduled_at="2026-12-14T10:00:00+05:00")
    c = await schedule(judge, case_number="1-7/2026", title="Дело о краже 100%_скидки",
                       scheduled_at="2026-12-08T10:00:00+05:00")
    d = await schedule(judge2, case_number="3-1/2026", title="Нурланов Е. к АО «Достык»")
    await judge.post(f"/api/hearings/{c['id']}/transitions", json={"to": "open"})

    async def ids_of(who, query: str) -> list[int]:
        r = await who.get(f"/api/hearings?{query}")
        assert r.status == 200, (query, await r.text())
        return [h["id"] for h in (await r.json())["hearings"]]

    assert await ids_of(judge, "case_number=2-15/2026") == [a["id"], b["id"]]
    assert await ids_of(judge, f"case_id={c['case_id']}") == [c["id"]]
    assert a["case_id"] == b["case_id"]
    assert await ids_of(judge, "q=иванов") == [a["id"], b["id"]]  # any case, Cyrillic too
    assert await ids_of(judge, "q=БЕРЕКЕ") == [a["id"], b["id"]]
    assert await ids_of(judge, "q=1-7") == [c["id"]]  # the case number
    assert await ids_of(judge, "q=100%25_") == [c["id"]]  # % and _ are plain characters
    assert await ids_of(judge, "q=1%25") == []
    assert await ids_of(judge, "state=open") == [c["id"]]
    assert await ids_of(judge, "state=scheduled") == [a["id"], b["id"]]
    assert await ids_of(judge, f"courtroom_id={room['id']}") == [a["id"]]
    assert await ids_of(admin, f"judge_id={ids['judge2']}") == [d["id"]]
    assert await ids_of(judge, f"judge_id={ids['judge2']}") == []  # still only their own
    assert await ids_of(judge, "from=2026-12-08T00:00:00%2B05:00") == [b["id"], c["id"]]
    assert await ids_of(judge, "to=2026-12-08T10:00:00%2B05:00") == [a["id"]]  # exclusive
    assert await ids_of(judge, "from=2026-12-07T00:00:00Z&to=2026-12-09T00:00:00Z") == [
        a["id"], c["id"]]
    assert await ids_of(judge, "q=иванов&from=2026-12-10T00:00:00Z") == [b["id"]]
    assert await ids_of(admin, "q=нурланов") == [d["id"]]


async def test_bad_filters_and_cursors_answer_400(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    for query, field in (("case=1", "case"), ("cursor=garbage!", "cursor"),
                         ("cursor=eyJhZnRlciI6LTF9", "cursor"),  # {"after":-1}
                         ("state=lost", "state"), ("from=yesterday", "from"),
                         ("to=2026-12-07T10:00", "to"), ("limit=0", "limit"),
                         ("limit=501", "limit"), ("judge_id=x", "judge_id"),
                         ("q=a&q=b", "q")):
        r = await judge.get(f"/api/hearings?{query}")
        assert r.status == 400, query
        assert (await r.json())["field"] == field, query
    for path in (f"/api/hearings/{h['id']}/participants", f"/api/hearings/{h['id']}/invites",
                 f"/api/hearings/{h['id']}/audit", "/api/courts",
                 f"/api/hearings/{h['id']}/recordings"):
        assert (await judge.get(f"{path}?cursor=nonsense")).status == 400, path
        assert (await judge.get(f"{path}?sort=id")).status == 400, path


async def test_every_other_list_pages(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge, ids["secretary"])
    hid = h["id"]
    for i in range(11):
        r = await judge.post(f"/api/hearings/{hid}/participants",
                             json={"role": "witness", "display_name": f"Свидетель {i}"})
        assert r.status == 201
    people, pages = await walk(judge, f"/api/hearings/{hid}/participants", "participants", 5)
    assert [p["display_name"] for p in people] == [
        "Judge Name", "Secretary Name", *(f"Свидетель {i}" for i in range(11))]
    assert pages == 3 and len({p["id"] for p in people}) == 13
    # the audit log pages its events; the verdict is on the whole chain every time
    events, pages = await walk(judge, f"/api/hearings/{hid}/audit", "events", 5)
    assert len(events) >= 12 and [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert pages == (len(events) + 4) // 5
    log = await (await judge.get(f"/api/hearings/{hid}/audit?limit=5")).json()
    assert log["verified"] is True and log["next_cursor"]
    # invites: none yet, one page
    body = await (await judge.get(f"/api/hearings/{hid}/invites")).json()
    assert body == {"invites": [], "next_cursor": None}
    # courts and their courtrooms
    courts = [(await (await admin.post("/api/courts", json={"name": f"Суд {i}"})).json())["id"]
              for i in range(3)]
    got, pages = await walk(judge, "/api/courts", "courts", 2)
    assert [c["id"] for c in got] == courts and pages == 2
    for i in range(5):
        await admin.post(f"/api/courts/{courts[0]}/courtrooms", json={"name": f"Зал {i}"})
    got, pages = await walk(judge, f"/api/courts/{courts[0]}/courtrooms", "courtrooms", 2)
    assert [c["name"] for c in got] == [f"Зал {i}" for i in range(5)] and pages == 3
    body = await (await judge.get(f"/api/hearings/{hid}/recordings")).json()
    assert body == {"recordings": [], "next_cursor": None}


# -- the evidence, its custody, the stenogram versions and a segment's history ----------------

EVIDENCE_LISTS = {
    "/api/hearings/{hearing_id}/evidence": ("evidence", {"status", "kind"}),
    "/api/hearings/{hearing_id}/evidence/{evidence_id}/custody": ("events", {"action"}),
    "/api/cases/{case_id}/evidence/{evidence_id}/custody": ("events", {"action"}),
    "/api/hearings/{hearing_id}/stenogram/versions": ("versions", {"status"}),
    "/api/hearings/{hearing_id}/transcript/segments/{segment_id}/history": (
        "revisions", {"kind"}),
}


async def test_openapi_publishes_the_record_lists_filters(aiohttp_client, app_db):
    app, db, ids = app_db
    client = await aiohttp_client(app)
    spec = await (await client.get("/api/openapi.json")).json()
    for path, (key, filters) in EVIDENCE_LISTS.items():
        op = spec["paths"][path]["get"]
        params = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
        assert set(params) == {"cursor", "limit", *filters}, path
        answer = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert {key, "next_cursor"} <= set(answer["required"]), path
    params = spec["paths"]["/api/hearings/{hearing_id}/stenogram/versions"]["get"]["parameters"]
    status = next(p for p in params if p["name"] == "status")
    assert status["schema"]["enum"] == ["draft", "awaiting_judge", "signed"]
    # the lists a page needs whole, or that their window bounds, stay unpaged
    for path in ("/api/hearings/{hearing_id}/transcript", "/api/calendar"):
        names = {p["name"] for p in spec["paths"][path]["get"].get("parameters", [])}
        assert "cursor" not in names, path


async def test_evidence_and_its_custody_page_and_filter(aiohttp_client, db_url, tmp_path):
    from support.media_samples import make_image, make_media
    from test_hearing_evidence import upload, wait_for

    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False,
                                  transcribe_evidence=False, evidence_min_free_bytes=0)
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    h1 = await schedule(judge, ids["secretary"], case_number="2-88/2026")
    first, cid = h1["id"], h1["case_id"]
    assert (await judge.post(f"/api/hearings/{first}/transitions",
                             json={"to": "open"})).status == 200
    files = [("фото 1.png", make_image(tmp_path / "1.png", width=320).read_bytes()),
             ("фото 2.png", make_image(tmp_path / "2.png", width=330).read_bytes()),
             ("звонок.ogg", make_media(tmp_path / "a.ogg", "ogg-opus", seconds=1.0).read_bytes())]
    made = []
    for name, data in files:
        status, receipt = await upload(sec, first, data, filename=name)
        assert status == 200, receipt
        made.append(receipt["evidence_id"])
    a, b, c = made
    r = await judge.post(f"/api/hearings/{first}/evidence/{a}/decision",
                         json={"decision": "accept", "reason": "относимо"})
    assert r.status == 200, await r.text()

    rows, pages = await walk(judge, f"/api/hearings/{first}/evidence", "evidence", 2)
    assert [e["id"] for e in rows] == [a, b, c] and pages == 2
    rows, pages = await walk(judge, f"/api/hearings/{first}/evidence?status=pending",
                             "evidence", 1)
    assert [e["id"] for e in rows] == [b, c] and pages == 2
    rows, _ = await walk(judge, f"/api/hearings/{first}/evidence?kind=audio", "evidence", 1)
    assert [e["id"] for e in rows] == [c]
    # the next hearing of the case lists what the court accepted in the first, then its own
    h2 = await schedule(judge, ids["secretary"], case_number="2-88/2026")
    second = h2["id"]
    status, receipt = await upload(sec, second, make_image(tmp_path / "3.png", width=340)
                                   .read_bytes(), filename="фото 3.png")
    assert status == 200, receipt
    d = receipt["evidence_id"]
    rows, pages = await walk(judge, f"/api/hearings/{second}/evidence", "evidence", 1)
    assert [(e["id"], e["carried_from"]) for e in rows] == [(a, first), (d, None)]
    assert pages == 2
    rows, _ = await walk(judge, f"/api/hearings/{second}/evidence?status=pending&kind=image",
                         "evidence", 1)
    assert [e["id"] for e in rows] == [d]
    for bad in ("status=lost", "kind=pdf", "cursor=nonsense", "sort=id"):
        assert (await judge.get(f"/api/hearings/{first}/evidence?{bad}")).status == 400, bad

    # the custody of the accepted item, once its copies are made (no more rows come)
    async def fetch():
        return await (await judge.get(f"/api/hearings/{first}/evidence/{a}")).json()
    await wait_for(fetch, lambda i: i["transcode_state"] in ("done", "failed")
                   and i["preview_state"] in ("done", "failed"))
    whole = await (await judge.get(f"/api/hearings/{first}/evidence/{a}/custody")).json()
    assert whole["next_cursor"] is None and whole["evidence_id"] == a
    actions = [e["action"] for e in whole["events"]]
    # the preview made on arrival may land before or after the decision
    assert [x for x in actions if x != "evidence.preview_made"][:3] == [
        "evidence.upload_started", "evidence.received", "evidence.decision"]
    assert "evidence.preview_made" in actions
    for path in (f"/api/hearings/{first}/evidence/{a}/custody",
                 f"/api/cases/{cid}/evidence/{a}/custody"):
        for limit in (1, 2):
            rows, pages = await walk(judge, path, "events", limit)
            assert rows == whole["events"] and pages == -(-len(rows) // limit), (path, limit)
        rows, _ = await walk(judge, path + "?action=evidence.decision", "events", 1)
        assert [(e["action"], e["data"]["decision"]) for e in rows] == [
            ("evidence.decision", "accepted")]
        rows, _ = await walk(judge, path + "?action=evidence.upload_cancelled", "events", 1)
        assert rows == []
        assert (await judge.get(path + "?action=hearing.create")).status == 400
    # another item's custody holds only its own rows
    async def fetch_b():
        return await (await judge.get(f"/api/hearings/{first}/evidence/{b}")).json()
    await wait_for(fetch_b, lambda i: i["preview_state"] in ("done", "failed"))
    rows, _ = await walk(judge, f"/api/hearings/{first}/evidence/{b}/custody", "events", 1)
    assert [e["action"] for e in rows] == ["evidence.upload_started", "evidence.received",
                                           "evidence.preview_made"]
    assert all(e["data"].get("evidence_id", b) == b for e in rows)


async def test_versions_and_segment_history_page_and_filter(aiohttp_client, db_url, tmp_path):
    from hearing.api.context import STATE
    from test_hearing_stenogram import PASS, final

    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False)
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    r = await judge.post(f"/api/hearings/{hid}/participants",
                         json={"role": "witness", "display_name": "Сидоров Әлібек"})
    witness = (await r.json())["id"]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    seg = await app[STATE].transcripts.add_final(
        hid, final("mic1", 1000, "Я видел его у суд", ["Я", "видел", "его", "у", "суд"]))
    for who in (sec, judge):
        assert (await who.post("/api/me/signing-key", json={"passphrase": PASS})).status == 201
    segment_id = seg.segment_id

    async def edit(text: str) -> None:
        nonlocal segment_id
        r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
            "kind": "edit_text", "segment_id": segment_id, "text": text})
        assert r.status == 201, await r.text()
        segment_id = (await r.json())["segments"][0]["id"]

    async def version(*signers) -> None:
        assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 201
        number = (await (await sec.get(f"/api/hearings/{hid}/stenogram/versions?limit=500"))
                  .json())["versions"][-1]["number"]
        for who in signers:
            r = await who.post(f"/api/hearings/{hid}/stenogram/versions/{number}/sign",
                               json={"passphrase": PASS})
            assert r.status == 200, await r.text()

    await version(sec)                      # 1: awaiting the judge
    await edit("Я видел его у суда")
    await version(sec, judge)               # 2: signed
    await edit("Я видел его у здания суда")
    await version()                         # 3: draft
    r = await sec.post(f"/api/hearings/{hid}/transcript/revisions", json={
        "kind": "set_speaker", "segment_id": segment_id, "speaker": f"p{witness}"})
    assert r.status == 201, await r.text()
    segment_id = (await r.json())["segments"][0]["id"]
    await edit("Я видел его у здания суда.")
    await version()                         # 4: draft

    path = f"/api/hearings/{hid}/stenogram/versions"
    for limit, expected_pages in ((1, 4), (3, 2)):
        rows, pages = await walk(sec, path, "versions", limit)
        assert [(v["number"], v["status"]) for v in rows] == [
            (1, "awaiting_judge"), (2, "signed"), (3, "draft"), (4, "draft")]
        assert pages == expected_pages
    for status, numbers in (("draft", [3, 4]), ("awaiting_judge", [1]), ("signed", [2])):
        rows, _ = await walk(sec, f"{path}?status={status}", "versions", 1)
        assert [v["number"] for v in rows] == numbers, status
    assert (await sec.get(f"{path}?status=lost")).status == 400

    path = f"/api/hearings/{hid}/transcript/segments/{segment_id}/history"
    kinds = ["asr", "edit_text", "edit_text", "set_speaker", "edit_text"]
    for limit, expected_pages in ((1, 5), (2, 3)):
        rows, pages = await walk(sec, path, "revisions", limit)
        assert [r["kind"] for r in rows] == kinds and pages == expected_pages
        assert len({r["seq"] for r in rows}) == 5
    rows, pages = await walk(sec, f"{path}?kind=edit_text", "revisions", 2)
    assert [r["kind"] for r in rows] == ["edit_text"] * 3 and pages == 2
    rows, _ = await walk(sec, f"{path}?kind=merge", "revisions", 2)
    assert rows == []
    assert (await sec.get(f"{path}?kind=typo")).status == 400
    assert (await sec.get(f"/api/hearings/{hid}/transcript/segments/nope/history"
                          "?limit=1")).status == 404
