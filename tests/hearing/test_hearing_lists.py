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
