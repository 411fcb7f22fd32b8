"""Evidence upload throughput and server memory over loopback.

    python bench/evidence_upload.py --size-mb 1024

Starts the hearing server in a subprocess on a fresh data directory, uploads as an invited
witness through /api/hearings/{id}/evidence/uploads (the server's resumable protocol, with
every authorisation and custody step) a WAV file of the given size (random PCM behind a real
header, so validation runs for real) in resumable PATCH requests, and prints throughput, the
server's peak RSS growth (VmHWM) and, for the same file in the same run, the time of
`sha256sum` and of a plain fsynced copy (`dd`)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the packages, and tests/support

JUDGE_PASSWORD = "bench judge password"


def serve_hearing(root: str, port: int) -> None:
    """The hearing server itself, with a judge account for the client to sign in with."""
    from aiohttp import web

    from hearing.accounts import add_user
    from hearing.app import make_app
    from hearing.config import Config
    from hearing.db import Database, make_engine, upgrade

    cfg = Config(data_dir=Path(root), transcribe=False, transcribe_evidence=False)
    Path(root).mkdir(parents=True, exist_ok=True)
    engine = make_engine(cfg.db_url)
    upgrade(engine)
    engine.dispose()
    db = Database(cfg.db_url)
    db.run_sync(lambda s: add_user(s, "bench-judge", JUDGE_PASSWORD, "judge", "Bench Judge"))

    async def main() -> None:
        runner = web.AppRunner(make_app(cfg, db))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        print(f"ready {site._server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


async def witness_prefix(url: str) -> tuple[str, dict[str, str]]:
    """Sign in as the judge, schedule a hearing, invite a witness who joins: the upload path
    and the witness's headers."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        r = await http.post(url + "/api/login", json={"username": "bench-judge",
                                                      "password": JUDGE_PASSWORD})
        csrf = {"X-CSRF-Token": (await r.json())["csrf_token"]}
        r = await http.post(url + "/api/hearings", headers=csrf, json={
            "case_number": "bench", "title": "bench", "kind": "civil", "language": "ru"})
        hid = (await r.json())["id"]
        r = await http.post(f"{url}/api/hearings/{hid}/participants", headers=csrf,
                            json={"role": "witness", "display_name": "Bench Witness"})
        pid = (await r.json())["id"]
        r = await http.post(f"{url}/api/hearings/{hid}/participants/{pid}/invites",
                            headers=csrf, json={})
        auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        (await http.post(url + "/api/join")).raise_for_status()
    return f"/api/hearings/{hid}/evidence/uploads", auth


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def make_source(path: Path, size: int) -> None:
    import numpy as np

    from support.media_samples import wav_header

    header = wav_header(size - 44)
    rng = np.random.default_rng(1)
    with open(path, "wb") as f:
        f.write(header)
        left = size - len(header)
        while left:
            n = min(8 << 20, left)
            f.write(rng.bytes(n))
            left -= n


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t, out


async def upload(url: str, src: Path, sha256: str | None, request_mb: int) -> dict:
    import aiohttp

    prefix, headers = await witness_prefix(url)
    size = src.stat().st_size
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(headers=headers) as http:
        r = await http.post(url + prefix, json={"filename": src.name, "size": size,
                                                "sha256": sha256, "content_type": "audio/wav"})
        r.raise_for_status()
        location = url + r.headers["Location"]
        offset = 0
        with open(src, "rb") as f:
            while offset < size:
                n = min(request_mb << 20, size - offset)

                async def body(start: int = offset, n: int = n):
                    left = n
                    f.seek(start)
                    while left:
                        block = await loop.run_in_executor(None, f.read, min(1 << 20, left))
                        left -= len(block)
                        yield block

                r = await http.patch(location, data=body(), headers={
                    "Upload-Offset": str(offset), "Content-Length": str(n),
                    "Content-Type": "application/offset+octet-stream"})
                if r.status != 204:
                    raise RuntimeError(f"PATCH at {offset}: {r.status} {await r.text()}")
                offset = int(r.headers["Upload-Offset"])
        t1 = time.perf_counter()
        r = await http.post(location + "/complete")
        receipt = await r.json()
        if r.status != 200:
            raise RuntimeError(f"complete: {r.status} {receipt}")
    t2 = time.perf_counter()
    return {"receipt": receipt, "transfer_s": t1 - t0, "complete_s": t2 - t1, "total_s": t2 - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--request-mb", type=int, default=64, help="bytes per PATCH request")
    ap.add_argument("--dir", help="scratch directory (default: a temp dir in ./var or /tmp)")
    ap.add_argument("--serve-hearing", nargs=2, metavar=("ROOT", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_hearing:
        serve_hearing(args.serve_hearing[0], int(args.serve_hearing[1]))
        return 0

    base = Path(args.dir) if args.dir else None
    work = Path(tempfile.mkdtemp(prefix="evidence-bench-", dir=base))
    server = None
    try:
        src = work / "evidence.wav"
        size = args.size_mb << 20
        t = time.perf_counter()
        make_source(src, size)
        print(f"source: {size / 2**20:.0f} MiB WAV made in {time.perf_counter() - t:.1f} s")

        sha_s, out = timed(["sha256sum", str(src)])
        digest = out.split()[0]
        t = time.perf_counter()
        h = hashlib.sha256()
        with open(src, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        py_s = time.perf_counter() - t
        assert h.hexdigest() == digest
        dd_s, _ = timed(["dd", f"if={src}", f"of={work / 'copy'}", "bs=1M", "conv=fsync",
                         "status=none"])
        (work / "copy").unlink()

        server = subprocess.Popen([sys.executable, __file__, "--serve-hearing",
                                   str(work / "server"), "0"], stdout=subprocess.PIPE, text=True)
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}"
        rss0 = status_kb(server.pid, "VmRSS")
        hwm0 = status_kb(server.pid, "VmHWM")
        result = asyncio.run(upload(url, src, digest, args.request_mb))
        ok = result["receipt"]["sha256"] == digest
        mb = size / 1e6
        print(f"upload:     {mb / result['total_s']:7.1f} MB/s end to end ({result['total_s']:.2f} s:"
              f" transfer {result['transfer_s']:.2f} s at {mb / result['transfer_s']:.1f} MB/s,"
              f" complete+validate {result['complete_s']:.2f} s); receipt hash "
              f"{'matches' if ok else 'DIFFERS'}")
        print(f"sha256sum:  {mb / sha_s:7.1f} MB/s ({sha_s:.2f} s)   python hashlib: "
              f"{mb / py_s:.1f} MB/s   dd conv=fsync copy: {mb / dd_s:.1f} MB/s ({dd_s:.2f} s)")
        print(f"ratio:      upload transfer / sha256sum = {sha_s and (mb / result['transfer_s']) / (mb / sha_s):.2f}"
              f"   upload transfer / dd copy = {(mb / result['transfer_s']) / (mb / dd_s):.2f}")
        hwm = status_kb(server.pid, "VmHWM")
        print(f"server RSS: {rss0 / 1024:.1f} MiB before, peak {hwm / 1024:.1f} MiB "
              f"(VmHWM), growth {(hwm - max(rss0, hwm0)) / 1024:.1f} MiB for "
              f"{size / 2**20:.0f} MiB uploaded (target < 64 MiB)")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
