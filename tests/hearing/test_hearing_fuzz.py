"""Fuzz every operation of /api/openapi.json with schemathesis, signed in as each role would
be (a judge's session cookie with its CSRF header; a participant's invite token) and with path
ids that exist, so that the requests reach body validation and the handlers: whatever the body,
the server answers with a clear 4xx or a success, never a 500 or a dropped connection. Each run
prints its status-code distribution (pytest -s), which shows how far the requests got."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database

from hearing_testlib import PASSWORD, make_users

MAX_EXAMPLES = 25
#: Run after every other operation of its run: it ends the session the run signs in with.
LAST = ("POST", "/api/logout")


def serve_in_thread(app, port):
    from aiohttp import web
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def stop():
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    return stop


def _auth_of(op) -> str:
    """The role an operation declares, read back from its OpenAPI security requirement."""
    schemes = {name for req in op.definition.raw.get("security", []) for name in req}
    if not schemes:
        return "none"
    return {frozenset({"session"}): "staff", frozenset({"invite"}): "participant"}.get(
        frozenset(schemes), "any")


class Fixture:
    """A signed-in judge, a hearing with a participant holding a valid invite, and the ids the
    fuzzed paths point at."""

    def __init__(self, base: str) -> None:
        self.base = base
        admin, admin_csrf = self.staff("admin")
        court = admin.post(base + "/api/courts", headers={"X-CSRF-Token": admin_csrf},
                           json={"name": "Суд"}).json()
        self.judge, self.csrf = self.staff("judge")

        def post(path, body):
            r = self.judge.post(base + path, headers={"X-CSRF-Token": self.csrf}, json=body)
            assert r.status_code == 201, r.text
            return r.json()
        hearing = post("/api/hearings", {"case_number": "1", "title": "t", "kind": "civil",
                                         "language": "ru"})
        # transitions get a hearing of their own: closing it must not end the others' tests
        moving = post("/api/hearings", {"case_number": "2", "title": "t", "kind": "civil",
                                        "language": "ru"})
        witness = post(f"/api/hearings/{hearing['id']}/participants",
                       {"role": "witness", "display_name": "Сидоров"})
        expert = post(f"/api/hearings/{hearing['id']}/participants",
                      {"role": "expert", "display_name": "Петров"})
        self.token = post(f"/api/hearings/{hearing['id']}/participants/{witness['id']}/invites",
                          {})["token"]
        revocable = post(f"/api/hearings/{hearing['id']}/participants/{expert['id']}/invites",
                         {})
        upload = post(f"/api/hearings/{hearing['id']}/evidence/uploads",
                      {"filename": "a.txt", "size": 3})
        self.hearing_id, self.moving_id = hearing["id"], moving["id"]
        self.ids = {"hearing_id": hearing["id"], "participant_id": witness["id"],
                    "invite_id": revocable["id"], "court_id": court["id"], "number": 1,
                    "upload": upload["id"], "recording_id": "r1", "fmt": "txt",
                    "seat": "judge", "segment_id": "s1", "evidence_id": 1}

    def staff(self, username: str) -> tuple[requests.Session, str]:
        """A signed-in session (its cookie) and its CSRF token."""
        http = requests.Session()
        r = http.post(self.base + "/api/login", json={"username": username,
                                                      "password": PASSWORD})
        assert r.status_code == 200, r.text
        return http, r.json()["csrf_token"]

    def path_ids(self, op) -> dict:
        names = [p.name for p in op.path_parameters]
        ids = {n: self.ids[n] for n in names if n in self.ids}
        if op.path.endswith("/transitions"):
            ids["hearing_id"] = self.moving_id
        return ids


def fuzz(schema, fx: Fixture, role: str) -> tuple[Counter, list[str]]:
    """Every operation the role may call, with positive and negative bodies."""
    if role == "staff":
        http, headers = fx.judge, {"X-CSRF-Token": fx.csrf}
        roles = {"staff", "any", "none"}
    else:
        http, headers = requests.Session(), {"Authorization": f"Bearer {fx.token}"}
        roles = {"participant", "any"}
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if _auth_of(op) in roles and not op.path.endswith("/ws")]
    ops.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    statuses: Counter = Counter()
    failures: list[str] = []
    for op in ops:
        fixed = fx.path_ids(op)
        strategy = st.one_of(op.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
                             op.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed))

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case):
            resp = case.call(base_url=fx.base, session=http, headers=headers, timeout=20)
            statuses[resp.status_code] += 1
            where = f"{op.method.upper()} {op.path} {case.path_parameters} {case.body!r:.200}"
            if resp.status_code >= 500:
                failures.append(f"{resp.status_code} {resp.text[:200]} for {where}")
            if resp.status_code >= 400:
                kind = (resp.headers.get("content-type") or [""])[0]
                assert kind.startswith("application/json"), f"{where}: {kind}"
        check()
    return statuses, failures


def test_api_survives_fuzzing(db_url, tmp_path):
    db = Database(db_url)
    make_users(db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stop = serve_in_thread(make_app(Config(data_dir=tmp_path, database_url=db_url,
                                           login_attempts=10_000), db), port)
    base = f"http://127.0.0.1:{port}"
    try:
        fx = Fixture(base)
        spec = requests.get(base + "/api/openapi.json").json()
        schema = schemathesis.openapi.from_dict(spec)
        # Credentials come from the fixture, never from the declared security schemes: an
        # invented Authorization header would override the session cookie and end every
        # request at the login check.
        schema.config.generation.update(with_security_parameters=False)
        report = []
        for role in ("participant", "staff"):  # the staff run ejects and revokes
            statuses, failures = fuzz(schema, fx, role)
            total = sum(statuses.values())
            line = (f"{db_url.split(':')[0]} {role}: {total} requests, " + ", ".join(
                f"{code}: {n}" for code, n in sorted(statuses.items())))
            print(line)
            report.append(line)
            assert not failures, "\n".join([line, *failures])
            # most requests got past the login check to validation or the handler
            assert statuses[401] < total / 10, line
            assert statuses[400] + statuses[422] > 0 and sum(
                n for code, n in statuses.items() if code < 300) > 0, line
    finally:
        stop()
        db.close()
