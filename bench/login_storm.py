"""A judge's GET /api/hearings latency while 60 wrong logins arrive at once, on SQLite and
PostgreSQL, against a baseline without the storm measured in the same run.

    python bench/login_storm.py [--logins 60] [--json OUT]

The server runs as a real `courtroom serve` subprocess. Two storms: "distinct names" (every
login a different known name from its own address list entry, with the rate limit raised so
that each one reaches argon2: the hashing itself must not hold the database) and "one name"
(the default limits, as a brute-force attempt meets them)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hearing.accounts import add_user  # noqa: E402
from hearing.db import Database, upgrade  # noqa: E402
from _server import served  # noqa: E402

PASSWORD = "benchmark password"


def prepare(url: str, users: int) -> None:
    db = Database(url)
    upgrade(db.engine)

    def work(s):
        add_user(s, "judge", PASSWORD, "judge", "Bench Judge")
        for i in range(users):
            add_user(s, f"clerk{i}", PASSWORD, "secretary", f"Clerk {i}")
    db.run_sync(work)
    db.close()


def summary(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[math.ceil(0.95 * len(ms)) - 1], 1), "max_ms": round(ms[-1], 1)}


async def judge_gets(http, base: str, stop: asyncio.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        async with http.get(base + "/api/hearings") as r:
            await r.read()
            assert r.status == 200, r.status
        latencies.append(time.perf_counter() - t0)
        await asyncio.sleep(0.01)


async def storm(base: str, names: list[str]) -> tuple[float, dict[int, int]]:
    """All logins at once, each on its own connection; (seconds until the last answer,
    count per status)."""
    statuses: dict[int, int] = {}

    async def one(name):
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/api/login",
                                 json={"username": name, "password": "wrong guess"}) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
    t0 = time.perf_counter()
    await asyncio.gather(*(one(n) for n in names))
    return time.perf_counter() - t0, statuses


async def measure(base: str, logins: int, names: list[str]) -> dict:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(base + "/api/login",
                             json={"username": "judge", "password": PASSWORD}) as r:
            hdr = {"X-CSRF-Token": (await r.json())["csrf_token"]}
        for i in range(20):
            async with http.post(base + "/api/hearings", headers=hdr, json={
                    "case_number": f"2-{i}/2026", "title": "Bench", "kind": "civil",
                    "language": "kk+ru"}) as r:
                assert r.status == 201
        # baseline: the judge alone for 3 s
        base_lat: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(judge_gets(http, base, stop, base_lat))
        await asyncio.sleep(3)
        stop.set()
        await task
        # the storm: the judge keeps reading while every login is in flight
        storm_lat: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(judge_gets(http, base, stop, storm_lat))
        duration, statuses = await storm(base, names[:logins])
        stop.set()
        await task
    return {"baseline": summary(base_lat), "storm": summary(storm_lat),
            "storm_s": round(duration, 2), "statuses": statuses}


async def one_backend(name: str, url: str, scenario: str, args) -> dict:
    if scenario == "distinct names":
        names = [f"clerk{i}" for i in range(args.logins)]
        limits = {"COURTROOM_LOGIN_ATTEMPTS": "1000", "COURTROOM_LOGIN_ADDRESS_ATTEMPTS": "1000"}
    else:
        names = ["judge"] * args.logins
        limits = {}
    async with served(url, {"COURTROOM_TRANSCRIBE": "0", **limits}) as (base, _proc):
        result = await measure(base, args.logins, names)
    return {"database": name, "scenario": scenario, **result}


def run_all(name: str, make_url, args) -> list[dict]:
    out = []
    for scenario in ("distinct names", "one name"):
        url = make_url()
        prepare(url, args.logins)
        out.append(asyncio.run(one_backend(name, url, scenario, args)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logins", type=int, default=60)
    ap.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += run_all("sqlite", lambda: f"sqlite:///{tmp}/{secrets.token_hex(4)}.sqlite3",
                           args)
    admin = create_engine(args.postgres)
    schemas: list[str] = []

    def pg_url() -> str:
        schemas.append(f"bench_{secrets.token_hex(4)}")
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schemas[-1]}"'))
        return f"{args.postgres}?options=-csearch_path%3D{schemas[-1]}"
    try:
        results += run_all("postgresql", pg_url, args)
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL skipped: {exc}".splitlines()[0])
    finally:
        for schema in schemas:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    print("database | storm | logins' statuses | storm s | judge GET p50/p95/max ms "
          "baseline | during storm")
    for r in results:
        b, s = r["baseline"], r["storm"]
        print(f"{r['database']} | {r['scenario']} | {r['statuses']} | {r['storm_s']} | "
              f"{b['p50_ms']}/{b['p95_ms']}/{b['max_ms']} (n={b['n']}) | "
              f"{s['p50_ms']}/{s['p95_ms']}/{s['max_ms']} (n={s['n']})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
