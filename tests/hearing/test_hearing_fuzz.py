"""Fuzz every operation of /api/openapi.json with schemathesis: whatever the body, path or
caller, the server answers with a clear 4xx, never a 500 or a dropped connection."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database

from hearing_testlib import PASSWORD, make_users


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
        http = requests.Session()
        r = http.post(base + "/api/login", json={"username": "judge", "password": PASSWORD})
        csrf = r.json()["csrf_token"]
        h = http.post(base + "/api/hearings", headers={"X-CSRF-Token": csrf}, json={
            "case_number": "1", "title": "t", "kind": "civil", "language": "ru"}).json()
        assert h["id"] == 1
        spec = http.get(base + "/api/openapi.json").json()
        schema = schemathesis.openapi.from_dict(spec)
        failures = []
        for result in schema.get_all_operations():
            op = result.ok()
            if op.path.endswith("/ws"):
                continue

            @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy())
            def check(case):
                resp = case.call(base_url=base, session=http, headers={"X-CSRF-Token": csrf},
                                 timeout=10)
                if resp.status_code >= 500:
                    failures.append(f"{op.method.upper()} {op.path}: {resp.status_code} "
                                    f"{resp.text[:200]} for {case.path_parameters} {case.body!r:.200}")
                kind = (resp.headers.get("content-type") or [""])[0]
                assert kind.startswith("application/json"), f"{op.method} {op.path}: {kind}"
            check()
        assert not failures, "\n".join(failures)
    finally:
        stop()
        db.close()
