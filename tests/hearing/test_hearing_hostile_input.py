"""Hostile request bodies, ids, dates and paths: each answers a clear 4xx (or, where the
input is acceptable after cleaning, 2xx), never a 500; a wrong method answers 405."""

from __future__ import annotations

import asyncio

import pytest


from hearing_testlib import app_with_users, invite, login, schedule

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.fixture
def app_db(db_url, tmp_path):
    return app_with_users(db_url, tmp_path)


def hearing(**extra) -> dict:
    return {"case_number": "2-1/2026", "title": "t", "kind": "civil", "language": "ru", **extra}


# (method, path, raw JSON body or dict, expected statuses); {h} is an existing hearing,
# {p} an existing participant of it.
CASES = {  # each group is one test: one sign-in for all its cases
    "deep nesting": {
        "deep body": ("POST", "/api/hearings", DEEP, {400}),
        "deep field": ("POST", "/api/hearings",
                       '{"case_number": "1", "title": ' + DEEP + "}", {400}),
        "deep patch": ("PATCH", "/api/hearings/{h}", '{"vocabulary": ' + DEEP + "}", {400}),
    },
    "huge and unknown ids": {
        "judge_id 2**63": ("POST", "/api/hearings", hearing(judge_id=2**63), {400}),
        "judge_id 10**30": ("POST", "/api/hearings", hearing(judge_id=10**30), {400}),
        "judge_id unknown": ("POST", "/api/hearings", hearing(judge_id=999_999), {400}),
        "secretary_id 2**63": ("POST", "/api/hearings", hearing(secretary_id=2**63), {400}),
        "secretary_id unknown": ("POST", "/api/hearings", hearing(secretary_id=2**31 - 1), {400}),
        "court_id 10**30": ("POST", "/api/hearings", hearing(court_id=10**30), {400}),
        "courtroom_id 2**63": ("POST", "/api/hearings", hearing(courtroom_id=2**63), {400}),
        "courtroom_id unknown": ("POST", "/api/hearings", hearing(courtroom_id=77), {400, 404}),
        "patch secretary_id 2**63": ("PATCH", "/api/hearings/{h}", {"secretary_id": 2**63}, {400}),
        "patch secretary_id unknown": ("PATCH", "/api/hearings/{h}", {"secretary_id": 99}, {400}),
        "user_id 2**63": ("POST", "/api/hearings/{h}/participants",
                          {"role": "witness", "display_name": "x", "user_id": 2**63}, {400}),
        "user_id unknown": ("POST", "/api/hearings/{h}/participants",
                            {"role": "witness", "display_name": "x", "user_id": 123_456}, {400}),
    },
    "extreme dates": {
        "year 9999 -12:00": ("POST", "/api/hearings",
                             hearing(scheduled_at="9999-12-31T23:00:00-12:00"), {400}),
        "year 0001 +14:00": ("POST", "/api/hearings",
                             hearing(scheduled_at="0001-01-01T01:00:00+14:00"), {400}),
        "patch year 9999 -12:00": ("PATCH", "/api/hearings/{h}",
                                   {"scheduled_at": "9999-12-31T23:59:59.999999-12:00"}, {400}),
        "patch year 0001 +14:00": ("PATCH", "/api/hearings/{h}",
                                   {"scheduled_at": "0001-01-01T00:00:00+14:00"}, {400}),
        "year 9999 +14:00 fits": ("POST", "/api/hearings",
                                  hearing(scheduled_at="9999-12-31T23:00:00+14:00"), {201, 400}),
    },
    "unicode digits in paths": {
        "recording ²": ("GET", "/api/hearings/{h}/recordings/²/audio", None, {404}),
        "recording r²": ("GET", "/api/hearings/{h}/recordings/r²/audio", None, {404}),
        "recording r١٢": ("GET", "/api/hearings/{h}/recordings/r١٢/audio", None, {404}),
        "recording c𝟙": ("GET", "/api/hearings/{h}/recordings/c𝟙/audio", None, {404}),
        "recording r2**63": ("GET", f"/api/hearings/{{h}}/recordings/r{2**63}/audio", None, {404}),
        "hearing ²": ("GET", "/api/hearings/²", None, {404}),
        "hearing ١": ("GET", "/api/hearings/١", None, {404}),
        "hearing 2**63": ("GET", f"/api/hearings/{2**63}", None, {404}),
        "participant ٣": ("POST", "/api/hearings/{h}/participants/٣/invites", {}, {404}),
        "evidence 𝟗": ("GET", "/api/hearings/{h}/evidence/𝟗", None, {404}),
    },
    "NUL and lone surrogates": {
        "NUL in name": ("POST", "/api/hearings/{h}/participants",
                        {"role": "witness", "display_name": "Ив\x00анов"}, {201, 400}),
        "NUL in title": ("POST", "/api/hearings", hearing(title="a\x00b", case_number="\x00"),
                         {201, 400}),
        "lone surrogate in name": ("POST", "/api/hearings/{h}/participants",
                                   '{"role": "witness", "display_name": "a\\ud800b"}', {201, 400}),
        "lone surrogate in title": ("POST", "/api/hearings",
                                    '{"case_number": "\\udfff", "title": "\\ud83d", '
                                    '"kind": "civil", "language": "ru"}', {201, 400}),
        "surrogate in court": ("POST", "/api/courts", '{"name": "\\udc00"}', {201, 400, 403}),
        "NUL in seat name": ("PUT", "/api/hearings/{h}/seats/judge", {"name": "\x00"},
                             {200, 400, 404}),
    },
}


@pytest.mark.parametrize("group", list(CASES))
async def test_hostile_request_gets_a_clear_4xx(aiohttp_client, app_db, group):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    inv = await invite(judge, h["id"])
    wrong = []
    for case, (method, path, body, expected) in CASES[group].items():
        path = path.format(h=h["id"], p=inv["participant"]["id"])
        headers = {"X-CSRF-Token": judge.csrf}
        if isinstance(body, str):
            kw = {"data": body.encode("utf-8", "surrogatepass"),
                  "headers": {**headers, "Content-Type": "application/json"}}
        elif body is not None:
            kw = {"json": body, "headers": headers}
        else:
            kw = {"headers": headers}
        r = await judge.client.request(method, path, **kw)
        text = await r.text()
        if (r.status not in expected or r.content_type != "application/json"
                or (r.status >= 400 and not (await r.json()).get("message"))):
            wrong.append(f"{case}: {method} {path} -> {r.status} {text[:300]}")
    assert not wrong, "\n".join(wrong)
    # the server is still fine for the next request
    assert (await judge.get(f"/api/hearings/{h['id']}")).status == 200


async def test_deeply_nested_websocket_message_gets_an_error_and_the_socket_lives(
        aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    ws = await judge.client.ws_connect(f"/api/hearings/{h['id']}/ws")

    async def next_of(kind):
        while True:
            msg = await asyncio.wait_for(ws.receive_json(), 5)
            if msg["type"] == kind:
                return msg
    await next_of("hello")
    await ws.send_str(DEEP)
    err = await next_of("error")
    assert err["error"] == "bad_json"
    await ws.send_str('{"type": "ping", "id": 1}')
    msg = await asyncio.wait_for(ws.receive_json(), 5)
    assert msg["type"] != "error" or msg["error"] != "bad_json"
    assert not ws.closed
    await ws.close()


async def test_deeply_nested_websocket_auth_is_refused_not_crashed(aiohttp_client, app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    anon = await aiohttp_client(app)
    ws = await anon.ws_connect(f"/api/hearings/{h['id']}/ws")
    await ws.send_str("[" * 2000 + "]" * 2000)
    msg = await asyncio.wait_for(ws.receive_json(), 5)
    assert msg["error"] == "unauthorized"
    await ws.close()
    assert ws.close_code == 4401


WRONG_METHODS = [
    ("DELETE", "/api/hearings", {"GET", "POST"}),
    ("PUT", "/api/hearings/{h}", {"GET", "PATCH"}),
    ("GET", "/api/login", {"POST"}),
    ("POST", "/api/hearings/{h}/recordings/r1/audio", {"GET"}),
    ("PATCH", "/api/openapi.json", {"GET"}),
]


async def test_wrong_method_answers_405_with_allow_and_unknown_path_404(aiohttp_client,
                                                                       app_db):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    for method, path, allow in WRONG_METHODS:
        r = await judge.client.request(method, path.format(h=h["id"]),
                                       headers={"X-CSRF-Token": judge.csrf})
        assert r.status == 405, f"{method} {path}: {await r.text()}"
        assert {m.strip() for m in r.headers["Allow"].split(",")} >= allow
        assert (await r.json())["error"] == "method_not_allowed"
    for method in ("GET", "POST", "DELETE"):
        r = await judge.client.request(method, "/api/no-such-thing",
                                       headers={"X-CSRF-Token": judge.csrf})
        assert r.status == 404
        assert (await r.json())["error"] == "not_found"
