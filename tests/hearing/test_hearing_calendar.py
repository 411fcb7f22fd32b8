"""The courtroom calendar as the court's staff use it: a booked courtroom refuses a second
hearing at the same time (409 naming the booking), one hearing in session per courtroom,
cancelling frees the room, two bookings racing for one slot, and the week view."""

from __future__ import annotations

import asyncio

import pytest

from hearing_testlib import app_with_users, login, schedule


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path)


async def rooms(admin, *names: str) -> list[dict]:
    court = await (await admin.post("/api/courts", json={"name": "Medeu District Court"})).json()
    out = []
    for name in names:
        r = await admin.post(f"/api/courts/{court['id']}/courtrooms", json={"name": name})
        assert r.status == 201, await r.text()
        out.append(await r.json())
    return out


async def book(staff, room_id: int | None, at: str, minutes: int | None = None, **extra):
    """POST a hearing; the raw answer (the test looks at its status)."""
    body = {"case_number": extra.pop("case_number", "2-100/2026"), "title": "Иванов к Петрову",
            "kind": "civil", "language": "ru", "scheduled_at": at, **extra}
    if room_id is not None:
        body["courtroom_id"] = room_id
    if minutes is not None:
        body["duration_min"] = minutes
    return await staff.post("/api/hearings", json=body)


async def test_a_booked_courtroom_refuses_an_overlapping_hearing(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    (room,) = await rooms(admin, "Зал 1")
    r = await book(judge, room["id"], "2026-12-07T10:00:00+05:00", 90, case_number="2-1/2026")
    assert r.status == 201, await r.text()
    first = await r.json()
    assert first["duration_min"] == 90

    # another judge, half an hour into the first booking: refused, naming what holds the room
    r = await book(judge2, room["id"], "2026-12-07T11:00:00+05:00", case_number="2-2/2026")
    assert r.status == 409
    err = await r.json()
    assert err["error"] == "courtroom_booked"
    assert err["hearing"]["id"] == first["id"]
    assert err["hearing"]["case_number"] == "2-1/2026"
    assert err["hearing"]["scheduled_at"] == "2026-12-07T05:00:00.000000Z"
    assert err["hearing"]["ends_at"] == "2026-12-07T06:30:00.000000Z"
    assert "2-1/2026" in err["message"]
    # right after it ends, or elsewhere at the same time, is free
    r = await book(judge2, room["id"], "2026-12-07T11:30:00+05:00", 60, case_number="2-3/2026")
    assert r.status == 201, await r.text()
    second = await r.json()
    assert (await book(judge2, None, "2026-12-07T10:00:00+05:00")).status == 201
    # a booking that starts earlier and runs into it is refused too
    assert (await book(judge2, room["id"], "2026-12-07T09:00:00+05:00", 61)).status == 409
    assert (await book(judge2, room["id"], "2026-12-07T09:00:00+05:00", 60)).status == 201
    # the length is one minute to a day
    for bad in (0, 1441):
        assert (await book(judge, room["id"], "2026-12-09T10:00:00+05:00", bad)).status == 400

    # rescheduling into a booking, or lengthening over the next one, is refused the same way
    r = await judge2.patch(f"/api/hearings/{second['id']}",
                           json={"scheduled_at": "2026-12-07T10:30:00+05:00"})
    assert r.status == 409 and (await r.json())["hearing"]["id"] == first["id"]
    r = await judge.patch(f"/api/hearings/{first['id']}", json={"duration_min": 91})
    assert r.status == 409 and (await r.json())["hearing"]["id"] == second["id"]
    r = await judge.patch(f"/api/hearings/{first['id']}", json={"duration_min": 30})
    assert r.status == 200 and (await r.json())["duration_min"] == 30
    # moving a hearing within its own booking does not collide with itself
    r = await judge.patch(f"/api/hearings/{first['id']}",
                          json={"scheduled_at": "2026-12-07T10:15:00+05:00"})
    assert r.status == 200, await r.text()

    # cancelling: the presiding judge or the administrator; it frees the courtroom
    sec = await login(aiohttp_client, app, "secretary")
    r = await judge.post("/api/hearings", json={
        "case_number": "2-9/2026", "title": "t", "kind": "civil", "language": "ru",
        "secretary_id": ids["secretary"], "courtroom_id": room["id"],
        "scheduled_at": "2026-12-08T10:00:00+05:00"})
    third = await r.json()
    t = f"/api/hearings/{third['id']}/transitions"
    assert (await sec.post(t, json={"to": "cancelled"})).status == 403
    assert (await judge2.post(t, json={"to": "cancelled"})).status == 403
    r = await judge.post(f"/api/hearings/{first['id']}/transitions", json={"to": "cancelled"})
    assert r.status == 200 and (await r.json())["state"] == "cancelled"
    r = await admin.post(t, json={"to": "cancelled"})
    assert r.status == 200 and (await r.json())["state"] == "cancelled"
    r = await book(judge2, room["id"], "2026-12-07T10:00:00+05:00", 90)
    assert r.status == 201, await r.text()
    # a cancelled hearing never takes place and is not changed
    assert (await judge.post(f"/api/hearings/{first['id']}/transitions",
                             json={"to": "open"})).status == 409
    r = await judge.patch(f"/api/hearings/{first['id']}", json={"title": "x"})
    assert r.status == 409 and "cancelled" in (await r.json())["message"]
    log = await (await judge.get(f"/api/hearings/{first['id']}/audit")).json()
    assert {"from": "scheduled", "to": "cancelled"} in [
        e["data"] for e in log["events"] if e["action"] == "hearing.transition"]


async def test_one_hearing_in_session_per_courtroom(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    room, other = await rooms(admin, "Зал 1", "Зал 2")
    a = await (await book(judge, room["id"], "2026-12-07T10:00:00+05:00")).json()
    b = await (await book(judge2, room["id"], "2026-12-07T11:00:00+05:00")).json()
    c = await (await book(judge2, other["id"], "2026-12-07T10:00:00+05:00")).json()
    assert (await judge.post(f"/api/hearings/{a['id']}/transitions",
                             json={"to": "open"})).status == 200
    # the next hearing waits while the first is open or in recess
    for state in ("open", "recess"):
        if state == "recess":
            await judge.post(f"/api/hearings/{a['id']}/transitions", json={"to": "recess"})
        r = await judge2.post(f"/api/hearings/{b['id']}/transitions", json={"to": "open"})
        assert r.status == 409, state
        err = await r.json()
        assert err["error"] == "courtroom_in_use" and err["hearing"]["id"] == a["id"]
    # another courtroom is not affected
    assert (await judge2.post(f"/api/hearings/{c['id']}/transitions",
                              json={"to": "open"})).status == 200
    assert (await judge.post(f"/api/hearings/{a['id']}/transitions",
                             json={"to": "closed"})).status == 200
    r = await judge2.post(f"/api/hearings/{b['id']}/transitions", json={"to": "open"})
    assert r.status == 200, await r.text()


async def test_two_bookings_racing_for_one_slot(aiohttp_client, app_db):
    """Two judges book the same courtroom at the same moment, over and over: every time
    exactly one gets it, and the courtroom never holds two hearings at once."""
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    (room,) = await rooms(admin, "Зал 1")
    for day in range(10, 20):
        at = f"2026-12-{day}T10:00:00+05:00"
        answers = await asyncio.gather(book(judge, room["id"], at, 120),
                                       book(judge2, room["id"], at.replace("10:00", "11:00")))
        assert sorted(r.status for r in answers) == [201, 409], day
    r = await admin.get(f"/api/hearings?courtroom_id={room['id']}")
    assert len((await r.json())["hearings"]) == 10
    # and two judges opening their hearings in that courtroom at once: one is in session
    mine = await (await book(judge, room["id"], "2026-12-25T10:00:00+05:00")).json()
    theirs = await (await book(judge2, room["id"], "2026-12-26T10:00:00+05:00")).json()
    answers = await asyncio.gather(
        judge.post(f"/api/hearings/{mine['id']}/transitions", json={"to": "open"}),
        judge2.post(f"/api/hearings/{theirs['id']}/transitions", json={"to": "open"}))
    assert sorted(r.status for r in answers) == [200, 409]
    r = await admin.get(f"/api/hearings?courtroom_id={room['id']}&state=open")
    assert len((await r.json())["hearings"]) == 1


async def test_week_view_of_courtrooms_and_hearings(aiohttp_client, app_db):
    app, db, ids = app_db
    admin = await login(aiohttp_client, app, "admin")
    judge = await login(aiohttp_client, app, "judge")
    judge2 = await login(aiohttp_client, app, "judge2")
    sec = await login(aiohttp_client, app, "secretary")
    mine, shared, elsewhere = await rooms(admin, "Зал 1", "Зал 2", "Зал 3")
    # 01:00 on Monday in Almaty is still Sunday in UTC: it belongs to Monday's column
    own = await (await book(judge, mine["id"], "2026-12-07T01:00:00+05:00", 45,
                            secretary_id=ids["secretary"], case_number="2-1/2026")).json()
    ok = await book(judge, shared["id"], "2026-12-09T10:00:00+05:00", case_number="2-2/2026")
    own2 = await ok.json()
    theirs = await (await book(judge2, shared["id"], "2026-12-09T15:00:00+05:00",
                               case_number="2-3/2026")).json()
    hidden = await (await book(judge2, elsewhere["id"], "2026-12-09T15:00:00+05:00",
                               case_number="2-4/2026")).json()
    await book(judge, mine["id"], "2026-12-14T10:00:00+05:00", case_number="next week")
    cancelled = await (await book(judge, mine["id"], "2026-12-10T10:00:00+05:00")).json()
    await judge.post(f"/api/hearings/{cancelled['id']}/transitions", json={"to": "cancelled"})

    r = await judge.get("/api/calendar?from=2026-12-07")
    assert r.status == 200, await r.text()
    week = await r.json()
    assert (week["from"], week["to"], week["days"]) == ("2026-12-07", "2026-12-14", 7)
    assert week["timezone"] == "Asia/Almaty"
    # their own hearings, and the other bookings of the courtrooms they sit in
    assert [h["id"] for h in week["hearings"]] == [own["id"], own2["id"], theirs["id"]]
    first = week["hearings"][0]
    assert first["start"] == "2026-12-06T20:00:00.000000Z"
    assert first["end"] == "2026-12-06T20:45:00.000000Z"
    assert (first["case_number"], first["courtroom"], first["judge"], first["state"],
            first["mine"]) == ("2-1/2026", "Зал 1", "Judge Name", "scheduled", True)
    assert week["hearings"][2]["mine"] is False  # booked, but not theirs to open
    assert [c["name"] for c in week["courtrooms"]] == ["Зал 1", "Зал 2"]
    # the secretary sees the hearings they keep the record of and that courtroom
    sweek = await (await sec.get("/api/calendar?from=2026-12-07")).json()
    assert [h["id"] for h in sweek["hearings"]] == [own["id"]]
    # the administrator sees every courtroom; filters narrow by courtroom and judge
    aweek = await (await admin.get("/api/calendar?from=2026-12-07")).json()
    assert {h["id"] for h in aweek["hearings"]} == {own["id"], own2["id"], theirs["id"],
                                                    hidden["id"]}
    assert [c["name"] for c in aweek["courtrooms"]] == ["Зал 1", "Зал 2", "Зал 3"]
    r = await admin.get(f"/api/calendar?from=2026-12-07&courtroom_id={shared['id']}")
    assert [h["id"] for h in (await r.json())["hearings"]] == [own2["id"], theirs["id"]]
    r = await admin.get(f"/api/calendar?from=2026-12-07&judge_id={ids['judge2']}")
    assert [h["id"] for h in (await r.json())["hearings"]] == [theirs["id"], hidden["id"]]
    r = await admin.get("/api/calendar?from=2026-12-09&days=1")
    assert {h["id"] for h in (await r.json())["hearings"]} == {own2["id"], theirs["id"],
                                                               hidden["id"]}
    # the next week has the next hearing
    nxt = await (await judge.get("/api/calendar?from=2026-12-14")).json()
    assert [h["case_number"] for h in nxt["hearings"]] == ["next week"]
    for bad in ("from=07.12.2026", "days=0", "days=32", "court=1", "from=9999-12-31"):
        assert (await judge.get(f"/api/calendar?{bad}")).status == 400, bad
    # the default is this week
    r = await judge2.get("/api/calendar")
    assert r.status == 200 and (await r.json())["days"] == 7
