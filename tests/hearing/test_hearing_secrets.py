"""The first-start administrator password reaches only the 0600 file or the operator's
terminal: never the server's log (its output under a service manager) nor a log record."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time

from hearing.commands.common import open_db
from hearing.commands.serve import announce_admin, bootstrap_admin
from hearing.config import load_config


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_under_a_service_manager_logs_no_password(tmp_path):
    env = {**os.environ, "COURTROOM_DATABASE_URL": "", "COURTROOM_TRANSCRIBE": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "hearing.cli", "--data-dir", str(tmp_path),
                             "serve", "--port", str(free_port())], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    out = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            out.append(line)
            if not line or line.startswith("Participants join"):
                break
    finally:
        proc.terminate()
        out.append(proc.communicate(timeout=60)[0])
    log = "".join(out)
    secret = tmp_path / "initial-admin-password"
    password = secret.read_text().strip()
    assert "First start" in log and str(secret) in log, log
    assert password not in log
    assert oct(secret.stat().st_mode & 0o777) == "0o600"


def test_the_password_goes_to_a_terminal_only_and_never_to_logging(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = load_config(data_dir=str(tmp_path), env={})
    db = open_db(cfg)
    password = bootstrap_admin(db, cfg)
    db.close()
    secret = tmp_path / "initial-admin-password"
    piped, tty = io.StringIO(), Terminal()
    announce_admin(password, secret, piped)
    announce_admin(password, secret, tty)
    assert password not in piped.getvalue() and str(secret) in piped.getvalue()
    assert password in tty.getvalue()
    assert caplog.records  # the database start did log
    assert not [r for r in caplog.records if password in r.getMessage()]
