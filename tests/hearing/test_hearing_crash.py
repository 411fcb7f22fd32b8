"""SIGKILL the server while it appends audit events: every acknowledged event survives and the
chain still verifies after restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
from sqlalchemy import func, select

from hearing.db import Database
from hearing.models import AuditEvent

from hearing_testlib import PASSWORD, make_users


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url, data_dir, port):
    env = {**os.environ, "COURTROOM_DATABASE_URL": db_url}
    return subprocess.Popen([sys.executable, "-m", "hearing.cli", "--data-dir", str(data_dir),
                             "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_up(base, proc):
    """Until the server answers; a loaded machine can take many seconds to import it all."""
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                async with http.get(base + "/api/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def test_sigkill_keeps_every_acknowledged_event(db_url, tmp_path):
    db = Database(db_url)
    make_users(db)
    db.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, tmp_path, port)
    acked = 0
    try:
        await wait_up(base, proc)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            r = await http.post(base + "/api/login", json={"username": "judge",
                                                          "password": PASSWORD})
            csrf = (await r.json())["csrf_token"]
            hdr = {"X-CSRF-Token": csrf}
            r = await http.post(base + "/api/hearings", headers=hdr, json={
                "case_number": "1-1/2026", "title": "t", "kind": "criminal", "language": "ru"})
            hid = (await r.json())["id"]
            r = await http.post(f"{base}/api/hearings/{hid}/participants", headers=hdr,
                                json={"role": "witness", "display_name": "W"})
            pid = (await r.json())["id"]
            async def worker(k):
                nonlocal acked
                i = k
                while True:
                    try:
                        async with http.post(
                                f"{base}/api/hearings/{hid}/participants/{pid}/mute",
                                headers=hdr, json={"muted": i % 2 == 0}) as resp:
                            assert resp.status == 200, await resp.text()
                            await resp.read()
                            acked += 1
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        return  # the server is gone
                    i += 4

            workers = [asyncio.create_task(worker(k)) for k in range(4)]
            await asyncio.sleep(1.5)
            proc.send_signal(signal.SIGKILL)  # with requests in flight
            await asyncio.wait_for(asyncio.gather(*workers), 30)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert acked > 5

    db = Database(db_url)
    stored = db.run_sync(lambda s: s.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.hearing_id == hid, AuditEvent.action == "mute")).scalar())
    db.close()
    assert stored >= acked  # acknowledged means durable
    # restart: the server comes back and the chain verifies
    proc = start_server(db_url, tmp_path, port)
    try:
        await wait_up(base, proc)
    finally:
        proc.terminate()
        proc.wait(10)
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "audit", "verify", str(hid)],
                         env={**os.environ, "COURTROOM_DATABASE_URL": db_url},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
