"""A real `courtroom serve` in a child process for the API benchmarks: its own data directory
and port, started and answering /api/health before the measurement, stopped after it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def served(database_url: str, env: dict[str, str] | None = None
                 ) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """Yield (base URL, process) of a server on database_url, with extra COURTROOM_* env."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hearing.cli", "--data-dir", data, "serve", "--port",
             str(port)], env={**os.environ, "COURTROOM_DATABASE_URL": database_url,
                              **(env or {})},
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(300):
                    try:
                        async with http.get(base + "/api/health") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
            yield base, proc
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
