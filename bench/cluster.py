"""Benchmark of a court of several servers: N simulated hearings spread over 1, 2 and 3
`courtroom serve` nodes (child processes on one PostgreSQL schema and the NATS server), with
the speech recognised in the nodes or by 1-2 `courtroom asr-worker` processes where that
command exists. Each layout runs under a fresh ``bus_prefix`` on the NATS server (so it meets
no other court there), whose JetStream streams and buckets it deletes at its end.

    python bench/cluster.py --quick                 # under 3 minutes: 2 hearings, 10 s each
    python bench/cluster.py --hearings 4 --measure 60 --nodes 1,2,3 --workers 0,1,2

Each hearing: a courtroom with 2 seats (a 2-channel WAV of Russian speech replayed as its
microphones, `file:` device), 3 phones (aiortc peers from tests/support/testpeer.py, each
playing speech clips from ../shared/speech in a loop, audio only: video costs the same on
every layout and is measured by bench/media_hearing.py) that join by invite, are admitted and
signal through the hearing WebSocket of a node (round robin; a node that does not own the
hearing sends them to the owner), and the judge's console: a WebSocket on every node, so each
event is seen both on the node where it happened and on the others.

Printed per layout (nodes x workers):
- ``hearings_at_real_time``: hearings whose every phone received every other phone's audio at
  >= 90 % of its 50 frames/s during the measurement and whose final captions came within 10 s
  of the end of the words (p95);
- ``event_latency_ms`` p50/p95 of a raised or lowered hand (a phone's WebSocket message to the
  judge console's "hand" event), ``within`` one node (console on the phone's node) and
  ``across`` nodes (console on another node, carried by NATS);
- ``final_latency_ms`` p95: the end of the words on the hearing clock to the final caption at
  the first console that showed it;
- ``cores_per_hearing``: CPU time of the node and worker processes over the measured wall time,
  per hearing, and the same apart for the nodes (media, events, speech when in the node) and
  the asr-workers (the phones and consoles, all in this process, are printed apart);
- ``udp_backlog_max_bytes`` and ``has_room`` of each node at the end (its /metrics);
- ``hearings_refused``: hearings a node would not take, or whose phones' media it would not
  take, because it was past a load limit (``load_max_*``; hearing/load.py): on a machine
  shared with other work that is the node protecting the hearings it has;
- ``failover_s`` (largest layout of several nodes): kill -9 the owner of hearing 1, then the
  seconds until another node holds its lease (n/a when no lease changed hands).

Nothing passes or fails; the machine is shared, so read the figures with its load average."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hearing.load import udp_backlog  # noqa: E402,F401  (the same reading the nodes export)
from support.bus_prefix import delete_prefix, fresh_prefix  # noqa: E402

PG_URL = os.environ.get("COURTROOM_BENCH_POSTGRES_URL",
                        "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("COURTROOM_BENCH_NATS_URL", "nats://127.0.0.1:4222")
SPEECH = REPO.parent / "shared" / "speech" / "ru-dev"
PASSWORD = "correct horse battery"
SEAT_MAP = """name = "Bench courtroom"
device = "hw:0"
[seats.judge]
channel = 1
role = "judge"
[seats.witness]
channel = 2
role = "witness"
"""
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def cpu_s(pid: int) -> float:
    try:
        cols = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(cols[11]) + int(cols[12])) / TICK  # utime + stime
    except (OSError, IndexError):
        return 0.0


def asr_worker_available() -> bool:
    exe = REPO / ".venv" / "bin" / "courtroom"
    done = subprocess.run([str(exe), "asr-worker", "--help"], capture_output=True, text=True)
    return done.returncode == 0


# -- speech ------------------------------------------------------------------------------------
def clips(n: int, offset: int) -> list[np.ndarray]:
    from hardware.simulator import read_mono16k
    files = sorted(SPEECH.glob("*.wav"))
    return [read_mono16k(str(files[(offset + i) % len(files)])) for i in range(n)]


def talk(parts: list[np.ndarray], gap_s: float, lead_s: float) -> np.ndarray:
    """Clips (16 kHz) one after another with silence between, as one signal."""
    silence = np.zeros(int(gap_s * 16_000), np.float32)
    out = [np.zeros(int(lead_s * 16_000), np.float32)]
    for x in parts:
        out += [x * np.float32(0.5 / max(1e-6, float(np.abs(x).max()))), silence]
    return np.concatenate(out)


def phone_signal(index: int) -> np.ndarray:
    """48 kHz speech for one phone: its own clips, with pauses (so finals come)."""
    x = talk(clips(4, 7 * index), gap_s=2.0, lead_s=1.5 * (index % 3))
    t16 = np.arange(len(x)) / 16_000
    return np.interp(np.arange(len(x) * 3) / 48_000, t16, x).astype(np.float32)


def courtroom_wav(path: Path, seconds: float, index: int) -> Path:
    """Two seats at 16 kHz taking turns, long enough for the run."""
    n = int(seconds * 16_000)
    rng = np.random.default_rng(index)
    x = rng.standard_normal((2, n)).astype(np.float32) * np.float32(1e-3)
    pos, seat = 16_000, 0
    for clip in clips(40, 100 + 13 * index):
        clip = clip * np.float32(0.5 / max(1e-6, float(np.abs(clip).max())))
        if pos + len(clip) >= n:
            break
        x[seat, pos:pos + len(clip)] += clip
        pos += len(clip) + 2 * 16_000
        seat = 1 - seat
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes((np.clip(x.T, -1, 0.99997) * 32768).round().astype("<i2").tobytes())
    return path


# -- processes ---------------------------------------------------------------------------------
@dataclass
class Node:
    name: str
    url: str
    metrics_url: str
    proc: subprocess.Popen


def pg_schema() -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    from hearing.db import make_engine, upgrade
    schema = f"bench_{secrets.token_hex(5)}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return schema, url


def drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = :n AND pid <> pg_backend_pid()"), {"n": schema})
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def add_staff(url: str) -> None:
    from hearing.accounts import add_user
    from hearing.auth import hash_password
    from hearing.db import Database
    db = Database(url)
    hashed = hash_password(PASSWORD)
    db.run_sync(lambda s: [add_user(s, n, PASSWORD, r, n.title(), password_hash=hashed)
                           for n, r in (("admin", "admin"), ("judge", "judge"))])
    db.close()


def node_env(url: str, data: Path, name: str, port: int, metrics: int, several: bool,
             workers: int, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURTROOM_")}
    env.update(COURTROOM_DATABASE_URL=url, COURTROOM_DATA_DIR=str(data),
               COURTROOM_METRICS_PORT=str(metrics), COURTROOM_RTC_BIND="127.0.0.1",
               COURTROOM_LOG_LEVEL="warning", COURTROOM_LOG_FORMAT="json",
               COURTROOM_NODE_ID=name, COURTROOM_NODE_URL=f"http://127.0.0.1:{port}",
               COURTROOM_TRANSCRIBE_EVIDENCE="0", PYTHONPATH=str(REPO))
    if several or workers:
        env["COURTROOM_NATS_URL"] = NATS_URL
        env["COURTROOM_BUS_PREFIX"] = prefix
    if workers:
        env["COURTROOM_ASR_MODE"] = "workers"
    return env


async def wait_health(url: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: the node exited with {proc.returncode}")
            try:
                async with http.get(url + "/api/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url}: no answer in {timeout_s} s")


async def start_nodes(n: int, url: str, data: Path, logs: Path, workers: int,
                      prefix: str) -> list[Node]:
    nodes = []
    for i in range(n):
        port, metrics = free_port(), free_port()
        name = f"node-{i + 1}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "hearing.cli", "serve", "--port", str(port)],
            env=node_env(url, data, name, port, metrics, n > 1, workers, prefix), cwd=REPO,
            stdout=open(logs / f"{name}.log", "ab"), stderr=subprocess.STDOUT)
        nodes.append(Node(name, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics}", proc))
        if i == 0:  # the first start writes the keys into the shared data directory
            await wait_health(nodes[0].url, proc)
    for node in nodes[1:]:
        await wait_health(node.url, node.proc)
    return nodes


def start_workers(n: int, url: str, data: Path, logs: Path,
                  prefix: str) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        env = node_env(url, data, f"asr-{i + 1}", 0, 0, True, 1, prefix)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "hearing.cli", "asr-worker", "--threads", "1",
             "--worker-id", f"asr-{i + 1}"], env=env, cwd=REPO,
            stdout=open(logs / f"asr-{i + 1}.log", "ab"), stderr=subprocess.STDOUT))
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# -- one hearing -------------------------------------------------------------------------------
@dataclass
class Sim:
    index: int
    hearing_id: int = 0
    open_wall: float = 0.0  # wall time of hearing clock zero
    phones: list = field(default_factory=list)  # HearingPeer
    participant_ids: list[int] = field(default_factory=list)
    consoles: list = field(default_factory=list)  # (node url, ws)
    #: (participant id, raised) -> (sent at, phone's node url)
    hands_sent: dict = field(default_factory=dict)
    hand_latency: dict = field(default_factory=lambda: {"within": [], "across": []})
    finals: dict = field(default_factory=dict)  # (source, start_ms) -> first seen, latency s
    measuring: bool = False
    refused: str = ""  # why a node refused the hearing or a phone's media (its load limits)


async def post(http: aiohttp.ClientSession, url: str, csrf: str, body: dict | None = None,
               headers: dict | None = None) -> dict:
    async with http.post(url, json=body if body is not None else {},
                         headers={"X-CSRF-Token": csrf, **(headers or {})}) as r:
        if r.status >= 300:
            raise RuntimeError(f"POST {url}: {r.status} {await r.text()}")
        return await r.json()


async def login(nodes: list[Node], who: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # an IP host
    async with http.post(nodes[0].url + "/api/login",
                         json={"username": who, "password": PASSWORD}) as r:
        r.raise_for_status()
        return http, (await r.json())["csrf_token"]


async def console(sim: Sim, node_url: str, ws: aiohttp.ClientWebSocketResponse) -> None:
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.TEXT:
            continue
        now = time.time()
        m = json.loads(msg.data)
        if not sim.measuring:
            continue
        if m.get("type") == "hand":
            p = m.get("participant") or {}
            sent = sim.hands_sent.get((p.get("id"), p.get("hand_raised")))
            if sent is not None:
                at, phone_node = sent
                kind = "within" if phone_node == node_url else "across"
                sim.hand_latency[kind].append((now - at) * 1000)
        elif m.get("type") == "final" and m.get("end_ms") is not None:
            key = (m.get("source_id"), m.get("start_ms"))
            if key not in sim.finals:
                sim.finals[key] = now - (sim.open_wall + m["end_ms"] / 1000)


async def set_up(sim: Sim, nodes: list[Node], judge, admin, court_id: int, tmp: Path,
                 seconds: float) -> None:
    from support.testpeer import HearingPeer, SignalTrack
    (jhttp, jcsrf), (ahttp, acsrf) = judge, admin
    base = nodes[sim.index % len(nodes)].url
    wav = courtroom_wav(tmp / f"courtroom-{sim.index}.wav", seconds, sim.index)
    room = await post(ahttp, f"{base}/api/courts/{court_id}/courtrooms", acsrf,
                      {"name": f"Courtroom {sim.index + 1}", "seat_map": SEAT_MAP,
                       "device": f"file:{wav}"})
    h = await post(jhttp, f"{base}/api/hearings", jcsrf, {
        "case_number": f"2-{1000 + sim.index}/2026", "title": f"Bench hearing {sim.index}",
        "kind": "civil", "language": "ru", "courtroom_id": room["id"]})
    sim.hearing_id = hid = h["id"]
    tokens = []
    for j in range(3):
        p = await post(jhttp, f"{base}/api/hearings/{hid}/participants", jcsrf,
                       {"role": "witness", "display_name": f"Phone {j + 1}",
                        "contact": "+7 700 000 0000"})
        inv = await post(jhttp, f"{base}/api/hearings/{hid}/participants/{p['id']}/invites",
                         jcsrf, {})
        sim.participant_ids.append(p["id"])
        tokens.append(inv["token"])
    for node in nodes:  # the judge's console, on every node
        ws = await jhttp.ws_connect(f"{node.url}/api/hearings/{hid}/ws")
        await ws.receive_json(timeout=10)
        sim.consoles.append((node.url, ws))
        asyncio.ensure_future(console(sim, node.url, ws))
    opened = await post(jhttp, f"{base}/api/hearings/{hid}/transitions", jcsrf, {"to": "open"})
    sim.open_wall = time.time() - opened["clock_ms"] / 1000
    for j, token in enumerate(tokens):
        node = nodes[(sim.index + j + 1) % len(nodes)].url
        phone = HearingPeer(aiohttp.ClientSession(), node, hid, token, f"h{hid}p{j}",
                            audio=SignalTrack(phone_signal(3 * sim.index + j)))
        phone.peer.light = True  # count and decode at packet level, no jitter buffer
        await phone.connect()
        async with phone.session.post(f"{node}/api/join",
                                      headers={"Authorization": f"Bearer {token}"}) as r:
            r.raise_for_status()
        await post(jhttp, f"{base}/api/hearings/{hid}/participants/"
                          f"{sim.participant_ids[j]}/admit", jcsrf)
        await phone.peer.join()
        sim.phones.append(phone)


async def raise_hands(sim: Sim, every_s: float) -> None:
    if not sim.phones:
        return
    raised = {pid: False for pid in sim.participant_ids}
    n = 0
    while True:
        for phone, pid in zip(sim.phones, sim.participant_ids):
            raised[pid] = not raised[pid]
            n += 1
            sim.hands_sent[(pid, raised[pid])] = (time.time(), phone.base_url)
            try:
                await phone.ws.send_json({"type": "hand", "raised": raised[pid], "id": n})
            except Exception:  # reconnecting: the next one goes out
                pass
            await asyncio.sleep(every_s / len(sim.phones))


def audio_counts(sim: Sim) -> list[dict[str, int]]:
    """Per phone: audio frames received so far per source."""
    out = []
    for phone in sim.phones:
        per: dict[str, int] = {}
        for mid, t in phone.peer.tracks.items():
            if t.get("kind") == "audio" and t.get("source_id"):
                per[t["source_id"]] = per.get(t["source_id"], 0) + phone.peer.audio_frames.get(mid, 0)
        out.append(per)
    return out


async def scrape(node: Node) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(node.metrics_url + "/metrics", timeout=aiohttp.ClientTimeout(5)) as r:
                text = await r.text()
    except Exception:
        return {}
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith("courtroom_node_") or s.name == "courtroom_hearings_live":
                out[s.name] = s.value
    return out


def lease_of(url: str, hearing_id: int) -> tuple[str, int] | None:
    from hearing import leases
    from hearing.db import Database
    db = Database(url)
    try:
        lease = db.run_sync(lambda s: leases.current(s, hearing_id))
    finally:
        db.close()
    return (lease.node_id, lease.fence) if lease else None


# -- one layout --------------------------------------------------------------------------------
async def run_layout(n_nodes: int, n_workers: int, args, failover: bool) -> dict:
    schema, url = pg_schema()
    prefix = fresh_prefix("bench")  # this layout's own subjects, streams and buckets
    tmp = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    data, logs = tmp / "data", tmp / "logs"
    data.mkdir()
    logs.mkdir()
    nodes: list[Node] = []
    workers: list[subprocess.Popen] = []
    sims = [Sim(i) for i in range(args.hearings)]
    sessions = []
    tasks: list[asyncio.Future] = []
    try:
        add_staff(url)
        nodes = await start_nodes(n_nodes, url, data, logs, n_workers, prefix)
        workers = start_workers(n_workers, url, data, logs, prefix)
        judge, admin = await login(nodes, "judge"), await login(nodes, "admin")
        sessions += [judge[0], admin[0]]
        court = await post(admin[0], nodes[0].url + "/api/courts", admin[1],
                           {"name": "Bench District Court"})
        seconds = args.warmup + args.measure + 60
        async def hearing(sim: Sim) -> None:
            try:
                await set_up(sim, nodes, judge, admin, court["id"], tmp, seconds)
            except RuntimeError as exc:  # a node past its load limits says so: a figure too
                sim.refused = str(exc)
        await asyncio.gather(*(hearing(sim) for sim in sims))
        await asyncio.sleep(args.warmup)  # joins settle, the model loads
        procs = [n.proc for n in nodes] + workers
        cpu0 = {p.pid: cpu_s(p.pid) for p in procs}
        own0, wall0 = time.process_time(), time.monotonic()
        audio0 = [audio_counts(s) for s in sims]
        for sim in sims:
            sim.measuring = True
            tasks.append(asyncio.ensure_future(raise_hands(sim, args.hand_every_s)))
        await asyncio.sleep(args.measure)
        wall = time.monotonic() - wall0
        node_cpu = sum(cpu_s(n.proc.pid) - cpu0[n.proc.pid] for n in nodes)
        cpu = node_cpu + sum(cpu_s(p.pid) - cpu0[p.pid] for p in workers)
        own = time.process_time() - own0
        audio1 = [audio_counts(s) for s in sims]
        for t in tasks:
            t.cancel()
        for sim in sims:
            sim.measuring = False
        scrapes = {n.name: await scrape(n) for n in nodes}

        real_time, within, across, finals = 0, [], [], []
        per_hearing = []
        for sim, a0, a1 in zip(sims, audio0, audio1):
            rates = [min(((c1.get(src, 0) - c0.get(src, 0)) / wall for src in c1), default=0.0)
                     for c0, c1 in zip(a0, a1)]
            sources_ok = all(len(c1) >= 2 for c1 in a1)
            media_ok = sources_ok and bool(rates) and min(rates) >= 45.0
            lat = list(sim.finals.values())
            captions_ok = bool(lat) and float(np.percentile(lat, 95)) <= 10.0
            real_time += media_ok and captions_ok and not sim.refused
            within += sim.hand_latency["within"]
            across += sim.hand_latency["across"]
            finals += lat
            per_hearing.append({"hearing_id": sim.hearing_id,
                                "phone_audio_fps_min": round(min(rates), 1) if rates else 0.0,
                                "media_ok": media_ok, "finals": len(lat),
                                "captions_ok": captions_ok, "refused": sim.refused[:300],
                                "phone_nodes": [p.base_url.rsplit(":", 1)[1] for p in sim.phones]})
        result = {
            "nodes": n_nodes, "asr_workers": n_workers, "hearings": args.hearings,
            "measured_s": round(wall, 1),
            "hearings_at_real_time": real_time,
            "hearings_refused": sum(bool(s.refused) for s in sims),
            "event_latency_within_node_ms": {"p50": pct(within, 50), "p95": pct(within, 95),
                                             "n": len(within)},
            "event_latency_across_nodes_ms": {"p50": pct(across, 50), "p95": pct(across, 95),
                                              "n": len(across)},
            "final_latency_ms": {"p50": pct([x * 1000 for x in finals], 50),
                                 "p95": pct([x * 1000 for x in finals], 95), "n": len(finals)},
            "server_cores": round(cpu / wall, 3),
            "cores_per_hearing": round(cpu / wall / args.hearings, 3),
            "node_cores_per_hearing": round(node_cpu / wall / args.hearings, 3),
            "worker_cores_per_hearing": round((cpu - node_cpu) / wall / args.hearings, 3),
            "bench_process_cores": round(own / wall, 3),
            "machine_load_avg_1min": round(os.getloadavg()[0], 2),
            "per_hearing": per_hearing,
            "nodes_at_end": {name: {"udp_backlog_bytes": m.get("courtroom_node_udp_backlog_bytes"),
                                    "has_room": m.get("courtroom_node_has_room"),
                                    "asr_lag_max_s": m.get("courtroom_node_asr_lag_max_seconds"),
                                    "hearings_live": m.get("courtroom_hearings_live")}
                             for name, m in scrapes.items()},
        }
        if failover:
            result["failover_s"] = await measure_failover(url, nodes, sims[0].hearing_id)
        return result
    finally:
        for t in tasks:
            t.cancel()
        for sim in sims:
            for phone in sim.phones:
                try:
                    await asyncio.wait_for(phone.close(), 5)
                except Exception:
                    pass
                await phone.session.close()
            for _, ws in sim.consoles:
                await ws.close()
        for http in sessions:
            await http.close()
        stop([n.proc for n in nodes] + workers)
        drop_schema(schema)
        if n_nodes > 1 or n_workers:
            await delete_prefix(NATS_URL, prefix)
        if args.keep_logs:
            print(f"logs: {logs}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


async def measure_failover(url: str, nodes: list[Node], hearing_id: int) -> float | str:
    """kill -9 the owner of the hearing; seconds until another node holds its lease."""
    held = lease_of(url, hearing_id)
    if held is None:
        return "n/a (no node holds a lease on the hearing)"
    owner = next((n for n in nodes if n.name == held[0]), None)
    if owner is None:
        return f"n/a (the lease is held by {held[0]!r}, not a node of this run)"
    owner.proc.send_signal(signal.SIGKILL)
    owner.proc.wait()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 45:
        now = lease_of(url, hearing_id)
        if now is not None and now[0] != held[0]:
            return round(time.monotonic() - t0, 2)
        await asyncio.sleep(0.1)
    return "n/a (no other node took the lease within 45 s)"


async def main_async(args) -> list[dict]:
    from media.rtc import apply_bind_addresses
    apply_bind_addresses(["127.0.0.1"])
    worker_counts = [int(x) for x in args.workers.split(",")]
    layouts = [(int(n), w) for n in args.nodes.split(",") for w in worker_counts]
    if args.quick:  # speech in the nodes on 1, 2, 3 nodes; then 2 nodes with one worker
        layouts = [(1, 0), (2, 0), (3, 0), (2, 1)]
    if any(w for _, w in layouts) and not asr_worker_available():
        print("courtroom asr-worker is not available: layouts with workers are left out",
              file=sys.stderr)
        layouts = [(n, w) for n, w in layouts if not w]
    largest = max((n for n, _ in layouts if n > 1), default=0)
    results = []
    failover_done = False
    for n, w in layouts:
        failover = n == largest and not failover_done
        failover_done |= failover
        t0 = time.monotonic()
        try:
            r = await run_layout(n, w, args, failover)
        except Exception as exc:  # one layout failing still prints the others
            r = {"nodes": n, "asr_workers": w, "error": f"{type(exc).__name__}: {exc}"}
        r["layout_wall_s"] = round(time.monotonic() - t0, 1)
        print(json.dumps({k: v for k, v in r.items() if k != "per_hearing"}), file=sys.stderr)
        results.append(r)
    return results


def summary(results: list[dict]) -> dict:
    """Ratios against the first layout (one node, speech in the node)."""
    ok = [r for r in results if "error" not in r]
    if not ok:
        return {}
    base = ok[0]
    out = {}
    for r in ok[1:]:
        key = f"{r['nodes']}n{r['asr_workers']}w_vs_{base['nodes']}n{base['asr_workers']}w"
        out[key] = {
            "cores_per_hearing_ratio": round(r["cores_per_hearing"] / max(base["cores_per_hearing"], 1e-6), 2),
            "event_p95_across_vs_within": (
                round(r["event_latency_across_nodes_ms"]["p95"] / r["event_latency_within_node_ms"]["p95"], 2)
                if r["event_latency_across_nodes_ms"]["p95"] and r["event_latency_within_node_ms"]["p95"] else None),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 hearings, 10 s measured per layout; 1, 2, 3 nodes, then 2 nodes "
                             "with one asr-worker (under 3 minutes)")
    parser.add_argument("--hearings", type=int, default=4)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--workers", default="0,1", help="asr-worker counts (0: speech in the nodes)")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--measure", type=float, default=60.0)
    parser.add_argument("--hand-every-s", type=float, default=1.5)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.hearings, args.warmup, args.measure = 2, 5.0, 10.0
    results = asyncio.run(main_async(args))
    out = {"layouts": results, "ratios": summary(results)}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
