"""A server shut down in the middle of a hearing stops everything it started: with a remote
participant connected over real WebRTC, the judge's console open and the courtroom's
microphones being captured, the shutdown leaves no asyncio task and no thread running
(database pool, recorders, audio tap, capture)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path


from hearing.auth import verify_password
from hearing.app import make_app
from hearing.config import Config
from hearing.db import Database, upgrade

from hearing_testlib import OwnServer, invite, login, make_users, schedule
from support.testpeer import SignalTrack, tone
from test_hearing_media import WsPeer, connect

REPO = Path(__file__).resolve().parents[2]
PACKAGES = tuple(str(REPO / name) + "/" for name in ("hearing", "media", "hardware", "asr",
                                                       "stenogram"))
SEAT_MAP = """
name = "Courtroom 1"
device = "lavfi:sine=f=440:r=48000"  # a live device that never ends on its own

[seats.judge]
channel = 1
role = "judge"
"""


async def read_until(ws, done, timeout: float = 20.0) -> None:
    async def read():
        async for msg in ws:
            if done(msg.json()):
                return
        raise AssertionError("the WebSocket closed")
    await asyncio.wait_for(read(), timeout)


async def wait_for(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.05)


def code_of(task: asyncio.Task) -> str:
    coro = task.get_coro()
    where = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    return f"{where.co_filename}:{where.co_firstlineno}" if where else "?"


def describe(tasks) -> str:  # noqa: ANN001
    return "\n  ".join(sorted(f"{t.get_name()}: {getattr(t.get_coro(), '__qualname__', '?')} "
                              f"({code_of(t)})" for t in tasks))


async def test_shutdown_mid_hearing_leaves_no_task_or_thread(tmp_path):
    loop = asyncio.get_running_loop()
    # The login hashing pool is the process's, shared by every server in it (hearing.auth):
    # started here first, whether or not an earlier test did.
    await verify_password(None, "warm the pool")
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    db = Database(url)
    upgrade(db.engine)
    make_users(db)
    cfg = Config(data_dir=tmp_path, database_url=url, transcribe=False, rtc_bind="127.0.0.1",
                 reconnect_window_s=30)
    app = make_app(cfg, db)
    own = await OwnServer(app).start()
    client_for = own.client

    admin = await login(client_for, app, "admin")
    judge = await login(client_for, app, "judge")
    r = await admin.post("/api/courts", json={"name": "District Court", "timezone": "Asia/Almaty"})
    assert r.status == 201, await r.text()
    r = await admin.post(f"/api/courts/{(await r.json())['id']}/courtrooms",
                         json={"name": "Courtroom 1", "seat_map": SEAT_MAP})
    assert r.status == 201, await r.text()
    h = await schedule(judge, courtroom_id=(await r.json())["id"])
    hid = h["id"]
    witness = await invite(judge, hid, "witness", "Witness A")
    console = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert r.status == 200, await r.text()
    phone = await client_for(app)
    bearer = {"Authorization": f"Bearer {witness['token']}"}
    assert (await phone.post("/api/join", headers=bearer)).status == 200
    peer = WsPeer(await connect(phone, hid, witness["token"]), "A", SignalTrack(tone(440, 1.0)))
    r = await judge.post(f"/api/hearings/{hid}/participants/{witness['participant']['id']}/admit")
    assert r.status == 200, await r.text()
    await peer.peer.join()

    # mid-hearing: the witness's audio and the courtroom mic are both being recorded
    recorded: set[str] = set()

    def both_recorded(m: dict) -> bool:
        if m["type"] == "media" and m["event"]["type"] == "recording.chunk":
            recorded.add(m["event"]["source_id"])
        return {f"p{witness['participant']['id']}", "seat.judge"} <= recorded
    await read_until(console, both_recorded)

    await own.server.close()  # the server's shutdown: on_shutdown, then on_cleanup (state.close)
    ours = [t for t in asyncio.all_tasks() - tasks_before if code_of(t).startswith(PACKAGES)]
    assert not ours, "the server's tasks still running after its shutdown:\n  " + describe(ours)

    # the test's own parts go too: the aiortc phone, the HTTP clients; then nothing is left
    await peer.close()
    await console.close()
    await own.close_clients()
    try:
        await wait_for(lambda: not asyncio.all_tasks() - tasks_before, 5, "no task left")
    except AssertionError:
        raise AssertionError("tasks still running after shutdown:\n  "
                             + describe(asyncio.all_tasks() - tasks_before)) from None
    # The loop's shared executor (joins, file work) must have nothing left to run: it ends at
    # once, and its idle threads with it.
    await asyncio.wait_for(loop.shutdown_default_executor(), 10)
    try:
        await wait_for(lambda: not set(threading.enumerate()) - threads_before, 5,
                       "no thread left")
    except AssertionError:
        left = sorted(f"{t.name} (daemon={t.daemon})"
                      for t in set(threading.enumerate()) - threads_before)
        raise AssertionError("threads still running after shutdown:\n  "
                             + "\n  ".join(left)) from None
