"""Access levels where the record is read piecemeal, on both databases: an evidence item says
its level; a sealed item leaves a lawyer's list and its live events reach only the staff who
hold the level (the judge, not the court administrator); a log note inside a sealed part is
listed and announced to the judge, never to the administrator."""

from __future__ import annotations

import asyncio

from support.media_samples import make_image

from hearing_testlib import LAWYER, app_with_users, login, receive_type, schedule
from test_hearing_evidence import accept, drain, upload


async def put(staff, path, body):
    return await staff.client.put(path, json=body, headers={"X-CSRF-Token": staff.csrf})


def about(messages, eid):
    """The live evidence events about item ``eid``."""
    return [m for m in messages if m["type"] == "evidence" and (
        m.get("evidence_id") == eid or (m.get("evidence") or {}).get("id") == eid)]


async def test_sealed_items_and_notes_reach_only_those_who_hold_the_level(
        aiohttp_client, db_url, tmp_path):
    app, _, ids = app_with_users(db_url, tmp_path, transcribe=False)
    judge = await login(aiohttp_client, app, "judge")
    admin = await login(aiohttp_client, app, "admin")
    h = await schedule(judge, ids["secretary"], language="ru")
    hid, base = h["id"], f"/api/hearings/{h['id']}"
    lawyer_id = (await (await admin.post("/api/users", json=LAWYER)).json())["id"]
    r = await judge.post(f"/api/cases/{h['case_id']}/parties", json={
        "role": "defence_lawyer", "display_name": "Омаров Н.", "user_id": lawyer_id})
    assert r.status == 201, await r.text()
    lawyer = await login(aiohttp_client, app, "lawyer")
    assert (await judge.post(f"{base}/transitions", json={"to": "open"})).status == 200
    await asyncio.sleep(0.7)  # the hearing clock passes the part sealed below
    r = await judge.post(f"{base}/closures/marks", json={
        "start_ms": 100, "end_ms": 400, "level": "sealed", "reason": "сведения о ребёнке"})
    assert r.status == 201, await r.text()

    jws = await judge.client.ws_connect(f"{base}/ws")
    aws = await admin.client.ws_connect(f"{base}/ws")
    await receive_type(jws, "hello")
    await receive_type(aws, "hello")

    # every item says its level; the judge seals one, and the lawyer's list loses it
    status, opened = await upload(judge, hid, make_image(tmp_path / "a.png").read_bytes(),
                                  filename="a.png", content_type="image/png")
    assert status in (200, 201), opened
    status, secret = await upload(judge, hid, make_image(tmp_path / "b.png", width=336)
                                  .read_bytes(), filename="b.png", content_type="image/png")
    assert status in (200, 201), secret
    eid = secret["evidence_id"]
    r = await put(judge, f"{base}/evidence/{eid}/access", {"level": "sealed"})
    assert r.status == 200, await r.text()
    for item in (await (await judge.get(f"{base}/evidence")).json())["evidence"]:
        assert item["access_level"] == ("sealed" if item["id"] == eid else "public")
    got = await (await judge.get(f"{base}/evidence/{eid}")).json()
    assert got["access_level"] == "sealed"
    await accept(judge, hid, opened["evidence_id"])  # a party sees what was accepted
    await accept(judge, hid, eid)  # a live decision about the sealed item
    listed = (await (await lawyer.get(f"{base}/evidence")).json())["evidence"]
    assert [e["id"] for e in listed] == [opened["evidence_id"]]
    assert listed[0]["access_level"] == "public"
    assert (await lawyer.get(f"{base}/evidence/{eid}")).status == 403

    # notes: one inside the sealed part, one after it
    r = await judge.post(f"{base}/notes", json={"text": "Оглашены сведения о ребёнке",
                                                "at_ms": 200})
    assert r.status == 201, await r.text()
    hidden = (await r.json())["id"]
    r = await judge.post(f"{base}/notes", json={"text": "Допрос продолжен", "at_ms": 600})
    assert r.status == 201, await r.text()
    shown = (await r.json())["id"]

    def note_ids(body):
        return [n["id"] for n in body["notes"]]
    assert note_ids(await (await judge.get(f"{base}/notes")).json()) == [hidden, shown]
    assert note_ids(await (await admin.get(f"{base}/notes")).json()) == [shown]

    # live: the judge hears of both notes and of the sealed item; the administrator of
    # neither, though of the open item and the later note
    seen_by_admin = []
    while not any(m["type"] == "note" for m in seen_by_admin):
        seen_by_admin.append(await asyncio.wait_for(aws.receive_json(), 5.0))
    seen_by_admin += await drain(aws)
    seen_by_judge = await drain(jws)
    assert [m["note"]["id"] for m in seen_by_judge if m["type"] == "note"] == [hidden, shown]
    assert about(seen_by_judge, eid)
    sealed_at = next(i for i, m in enumerate(seen_by_admin) if m["type"] == "closure")
    assert not about(seen_by_admin[sealed_at:], eid)
    assert about(seen_by_admin[:sealed_at], eid)  # received while it was public
    assert [m["note"]["id"] for m in seen_by_admin if m["type"] == "note"] == [shown]
    await jws.close()
    await aws.close()
    assert (await judge.post(f"{base}/transitions", json={"to": "closed"})).status == 200
