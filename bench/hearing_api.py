"""Throughput of the create-hearing -> add participant -> invite -> join flow, on SQLite and
PostgreSQL, and server memory after many joins.

    python bench/hearing_api.py [--flows 300] [--joins 10000] [--concurrency 8] [--json OUT]

The server runs as a real `courtroom serve` subprocess; figures are printed next to a baseline
measured in the same run (GET /api/health, which touches no database), so a busy machine shows
up in both numbers."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run_pool(n: int, concurrency: int, job) -> float:
    """Run job(i) n times with `concurrency` in flight; return operations per second."""
    counter = iter(range(n))
    t0 = time.perf_counter()

    async def worker():
        for i in counter:
            await job(i)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t0)


async def measure(base: str, pid: int, flows: int, joins: int, concurrency: int) -> dict:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        r = await http.post(base + "/api/login", json={"username": "judge", "password": PASSWORD})
        hdr = {"X-CSRF-Token": (await r.json())["csrf_token"]}

        async def health(i):
            async with http.get(base + "/api/health") as resp:
                await resp.read()

        async def flow(i):
            async with http.post(base + "/api/hearings", headers=hdr, json={
                    "case_number": f"2-{i}/2026", "title": "Bench", "kind": "civil",
                    "language": "kk+ru"}) as resp:
                hid = (await resp.json())["id"]
            async with http.post(f"{base}/api/hearings/{hid}/participants", headers=hdr,
                                 json={"role": "witness", "display_name": f"W {i}"}) as resp:
                pid_ = (await resp.json())["id"]
            async with http.post(f"{base}/api/hearings/{hid}/participants/{pid_}/invites",
                                 headers=hdr, json={}) as resp:
                token = (await resp.json())["token"]
            async with http.post(base + "/api/join",
                                 headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
            return hid

        baseline = await run_pool(max(500, flows), concurrency, health)
        flow_rate = await run_pool(flows, concurrency, flow)

        # many joins into one big hearing: 10,000 participants each joining once
        async with http.post(base + "/api/hearings", headers=hdr, json={
                "case_number": "big", "title": "Bench", "kind": "civil",
                "language": "ru"}) as resp:
            hid = (await resp.json())["id"]
        tokens: list[str] = []

        async def invite(i):
            async with http.post(f"{base}/api/hearings/{hid}/participants", headers=hdr,
                                 json={"role": "observer", "display_name": f"O {i}"}) as resp:
                p = (await resp.json())["id"]
            async with http.post(f"{base}/api/hearings/{hid}/participants/{p}/invites",
                                 headers=hdr, json={}) as resp:
                tokens.append((await resp.json())["token"])
        await run_pool(joins, concurrency, invite)
        rss_before = rss_mb(pid)

        async def join(i):
            async with http.post(base + "/api/join",
                                 headers={"Authorization": f"Bearer {tokens[i]}"}) as resp:
                assert resp.status == 200
        join_rate = await run_pool(joins, concurrency, join)
        rss_after = rss_mb(pid)
    return {"baseline_health_rps": round(baseline, 1), "flow_per_s": round(flow_rate, 2),
            "flow_requests_per_s": round(flow_rate * 4, 1), "join_per_s": round(join_rate, 1),
            "flow_vs_baseline": round(flow_rate * 4 / baseline, 3),
            "rss_before_joins_mb": round(rss_before, 1), "rss_after_joins_mb": round(rss_after, 1),
            "joins": joins}


def prepare(url: str) -> None:
    db = Database(url)
    upgrade(db.engine)
    db.run_sync(lambda s: add_user(s, "judge", PASSWORD, "judge", "Bench Judge"))
    db.close()


async def one_backend(name: str, url: str, args) -> dict:
    prepare(url)
    async with served(url) as (base, proc):
        result = await measure(base, proc.pid, args.flows, args.joins, args.concurrency)
    return {"database": name, **result}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", type=int, default=300)
    ap.add_argument("--joins", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    ap.add_argument("--json")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(asyncio.run(one_backend("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args)))
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(args.postgres)
    try:
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            results.append(asyncio.run(one_backend(
                "postgresql", f"{args.postgres}?options=-csearch_path%3D{schema}", args)))
        finally:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL skipped: {exc}".splitlines()[0])
    cols = ["database", "baseline_health_rps", "flow_per_s", "flow_requests_per_s",
            "flow_vs_baseline", "join_per_s", "rss_before_joins_mb", "rss_after_joins_mb"]
    print(" | ".join(cols))
    for r in results:
        print(" | ".join(str(r[c]) for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
