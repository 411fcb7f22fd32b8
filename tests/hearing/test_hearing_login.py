"""Sign-in under attack: parallel guesses, backoff, a court's proxy, and the database kept free
while passwords are hashed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hearing import auth
from hearing.api.context import STATE
from hearing.app import make_app
from hearing.auth import LoginLimiter
from hearing.config import Config
from hearing.db import Database

from hearing_testlib import PASSWORD, make_users


@pytest.fixture
def app(db_url, tmp_path):
    db = Database(db_url)
    make_users(db)
    return make_app(Config(data_dir=tmp_path, database_url=db_url), db)


@pytest.fixture
def checks(monkeypatch):
    """The thread of every password check, in order."""
    threads: list[str] = []
    real = auth.check_password

    def counted(password_hash, password):
        threads.append(threading.current_thread().name)
        return real(password_hash, password)
    monkeypatch.setattr(auth, "check_password", counted)
    return threads


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def clocked(app) -> FakeClock:
    clock = FakeClock()
    app[STATE].limiter.clock = clock
    return clock


async def attempt(client, username, password):
    r = await client.post("/api/login", json={"username": username, "password": password})
    return r.status, await r.json(), r.headers


async def test_parallel_guesses_are_counted_before_the_hash(aiohttp_client, app, checks):
    client = await aiohttp_client(app)
    answers = await asyncio.gather(*(attempt(client, "judge", f"guess {i}") for i in range(40)))
    statuses = [status for status, _, _ in answers]
    assert len(checks) <= app[STATE].config.login_attempts
    assert statuses.count(401) == len(checks)
    assert statuses.count(429) == 40 - len(checks)
    for status, body, headers in answers:
        if status == 429:
            assert body["retry_after_s"] >= 1 and headers["Retry-After"] == str(body["retry_after_s"])
    # another person behind the same address signs in at once
    status, body, _ = await attempt(client, "secretary", PASSWORD)
    assert status == 200, body
    # the hash never ran on the database's thread(s)
    assert checks and not any(name.startswith("db") for name in checks), checks


async def test_backoff_doubles_and_the_right_password_works_after_it(aiohttp_client, app):
    clock = clocked(app)
    client = await aiohttp_client(app)
    for _ in range(5):
        assert (await attempt(client, "judge", "wrong"))[0] == 401
    status, body, _ = await attempt(client, "judge", PASSWORD)
    assert (status, body["retry_after_s"]) == (429, 1)
    clock.now += 1
    assert (await attempt(client, "judge", "wrong"))[0] == 401
    status, body, _ = await attempt(client, "judge", PASSWORD)
    assert (status, body["retry_after_s"]) == (429, 2)  # doubled
    clock.now += 2
    assert (await attempt(client, "judge", PASSWORD))[0] == 200
    # a successful login forgets the failures
    for _ in range(5):
        assert (await attempt(client, "judge", "wrong"))[0] == 401


async def test_one_names_failures_do_not_stop_the_others_behind_its_address(aiohttp_client,
                                                                            app, checks):
    clock = clocked(app)
    client = await aiohttp_client(app)
    for _ in range(20):
        status, body, _ = await attempt(client, "judge", "wrong")
        if status == 429:
            clock.now += body["retry_after_s"]
            status, body, _ = await attempt(client, "judge", "wrong")
        assert status == 401, body
    assert len(checks) == 20
    status, body, _ = await attempt(client, "secretary", PASSWORD)
    assert status == 200, body
    assert (await attempt(client, "nobody", "x"))[0] == 401
    assert (await attempt(client, "judge", PASSWORD))[0] == 429


def test_limiter_backoff_is_capped_and_an_address_only_gently_slowed():
    clock = FakeClock()
    lim = LoginLimiter(5, 300, backoff_s=1, backoff_max_s=8, address_attempts=50, clock=clock)
    waits = []
    for _ in range(12):
        wait, _ = lim.begin("10.0.0.1", "judge")
        waits.append(wait)
        if wait:
            clock.now += wait
            assert lim.begin("10.0.0.1", "judge")[0] == 0
    assert waits == [0] * 5 + [1, 2, 4, 8, 8, 8, 8]
    # many names from one proxy: only after 50 attempts does the address wait, from 1 s up
    for i in range(50 - 12):
        assert lim.begin("10.0.0.1", f"user{i}") == (0.0, clock.now)
    assert lim.begin("10.0.0.1", "secretary")[0] == 1
    assert lim.begin("10.0.0.2", "judge")[0] == 0  # nobody elsewhere is slowed
    # the window forgets old attempts
    clock.now += 301
    assert lim.begin("10.0.0.1", "judge")[0] == 0


async def test_a_new_accounts_password_is_hashed_off_the_database_thread(aiohttp_client, app,
                                                                        monkeypatch):
    threads: list[str] = []
    real = auth.hash_password

    def traced(password):
        threads.append(threading.current_thread().name)
        return real(password)
    monkeypatch.setattr(auth, "hash_password", traced)
    client = await aiohttp_client(app)
    r = await client.post("/api/login", json={"username": "admin", "password": PASSWORD})
    r = await client.post("/api/users", headers={"X-CSRF-Token": (await r.json())["csrf_token"]},
                          json={"username": "clerk", "password": "a long password",
                                "role": "secretary", "display_name": "Clerk"})
    assert r.status == 201, await r.text()
    assert threads and not any(name.startswith("db") for name in threads), threads
    assert (await attempt(client, "clerk", "a long password"))[0] == 200


async def test_a_lawyer_signs_in_and_out_like_staff_but_is_never_staff(aiohttp_client, app):
    client = await aiohttp_client(app)
    _, body, _ = await attempt(client, "admin", PASSWORD)
    r = await client.post("/api/users", headers={"X-CSRF-Token": body["csrf_token"]},
                          json={"username": "advocate", "password": "a long password",
                                "role": "lawyer", "display_name": "Адвокат Омаров Н.",
                                "contact": "+77010000001"})
    assert r.status == 201, await r.text()
    lawyer = await aiohttp_client(app)
    status, body, _ = await attempt(lawyer, "advocate", "a long password")
    assert status == 200 and body["user"]["role"] == "lawyer"
    me = await (await lawyer.get("/api/me")).json()
    assert me["kind"] == "party" and me["csrf_token"] == body["csrf_token"]
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    assert (await lawyer.get("/api/users")).status == 403
    assert (await lawyer.post("/api/users", headers=csrf, json={
        "username": "x", "password": "a long password", "role": "judge",
        "display_name": "X"})).status == 403
    assert (await lawyer.post("/api/logout", headers=csrf)).status == 200
    assert (await lawyer.get("/api/me")).status == 401
