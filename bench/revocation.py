"""How long a revoked participant's WebSocket stays open: from the answer to the revoking
DELETE to the close frame arriving at the participant, with many other participants connected
to the same hearing (SQLite, in-process server).

    python bench/revocation.py [--participants 200] [--revocations 50]

The time of the DELETE itself is printed next to it, so a busy machine shows up in both."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, WSMsgType
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hearing.accounts import add_user  # noqa: E402
from hearing.app import make_app  # noqa: E402
from hearing.config import Config  # noqa: E402
from hearing.db import Database, upgrade  # noqa: E402

PASSWORD = "benchmark password"


async def main(participants: int, revocations: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-revocation-"))
    url = f"sqlite:///{tmp / 'db.sqlite3'}"
    db = Database(url)
    upgrade(db.engine)
    db.run_sync(lambda s: add_user(s, "judge", PASSWORD, "judge", "Judge"))
    app = make_app(Config(data_dir=tmp, database_url=url, transcribe=False,
                          ws_rate_per_s=1000), db)
    async with TestClient(TestServer(app)) as judge:
        r = await judge.post("/api/login", json={"username": "judge", "password": PASSWORD})
        csrf = {"X-CSRF-Token": (await r.json())["csrf_token"]}
        r = await judge.post("/api/hearings", headers=csrf, json={
            "case_number": "1/2026", "title": "bench", "kind": "civil", "language": "ru"})
        hid = (await r.json())["id"]
        sockets = []
        # no staff cookie here: participants sign in with their token
        phones = ClientSession(connector=TCPConnector(limit=0))
        for i in range(participants):
            r = await judge.post(f"/api/hearings/{hid}/participants", headers=csrf,
                                 json={"role": "witness", "display_name": f"W{i}"})
            pid = (await r.json())["id"]
            r = await judge.post(f"/api/hearings/{hid}/participants/{pid}/invites",
                                 headers=csrf, json={})
            inv = await r.json()
            ws = await phones.ws_connect(judge.make_url(f"/api/hearings/{hid}/ws"))
            await ws.send_json({"type": "auth", "token": inv["token"]})
            while (await ws.receive_json())["type"] != "hello":
                pass
            sockets.append((inv["id"], ws))
        delete_ms, close_ms = [], []
        for invite_id, ws in sockets[:revocations]:
            t0 = time.perf_counter()
            r = await judge.delete(f"/api/hearings/{hid}/invites/{invite_id}", headers=csrf)
            assert r.status == 200
            t1 = time.perf_counter()
            while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
                pass
            t2 = time.perf_counter()
            delete_ms.append((t1 - t0) * 1000)
            close_ms.append((t2 - t1) * 1000)
        for _, ws in sockets:
            await ws.close()
        await phones.close()
    db.close()

    def line(name: str, xs: list[float]) -> str:
        xs = sorted(xs)
        return (f"{name:<36} p50 {statistics.median(xs):7.2f} ms   "
                f"p95 {xs[int(len(xs) * 0.95) - 1]:7.2f} ms   max {xs[-1]:7.2f} ms")
    print(f"{participants} participants connected, {revocations} invites revoked one by one")
    print(line("DELETE invite (answer)", delete_ms))
    print(line("answer -> close frame at the client", close_ms))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=200)
    ap.add_argument("--revocations", type=int, default=50)
    args = ap.parse_args()
    asyncio.run(main(args.participants, args.revocations))
