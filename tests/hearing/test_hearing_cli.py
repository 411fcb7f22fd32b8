"""The `courtroom` command line: configuration precedence, --help everywhere, the first-start
administrator, scheduling and invites from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearing.cli import build_parser
from hearing.config import load_config


def courtroom(*args, data_dir, env=None):
    return subprocess.run([sys.executable, "-m", "hearing.cli", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_config_file_then_environment(tmp_path):
    (tmp_path / "courtroom.toml").write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n')
    cfg = load_config(data_dir=str(tmp_path), env={"COURTROOM_PORT": "9443"})
    assert cfg.port == 9443 and cfg.host == "0.0.0.0"
    assert cfg.db_url.endswith("courtroom.sqlite3")
    (tmp_path / "courtroom.toml").write_text('[server]\nprot = 1\n')
    with pytest.raises(ValueError, match="prot"):
        load_config(data_dir=str(tmp_path), env={})
    assert load_config(env={}).host == "127.0.0.1"  # loopback unless configured


def test_every_command_has_help(capsys):
    parser = build_parser()
    actions = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    for name, sub in actions.items():
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([name, "--help"])
        assert exit_.value.code == 0
        assert "usage: courtroom" in capsys.readouterr().out
    assert {"serve", "db", "user", "hearing", "invite", "audit"} <= set(actions)


def test_shell_scheduling_and_invite(tmp_path):
    env = {"COURTROOM_DATABASE_URL": "", "JPW": "judge password 1"}
    assert courtroom("db", "upgrade", data_dir=tmp_path, env=env).returncode == 0
    out = courtroom("user", "add", "judge1", "--role", "judge", "--password-env", "JPW",
                    data_dir=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    out = courtroom("user", "add", "judge1", "--role", "judge", "--generate", data_dir=tmp_path,
                    env=env)
    assert out.returncode == 1 and "already exists" in out.stderr
    out = courtroom("hearing", "create", "--case", "2-5/2026", "--title", "Әлиев v. Ким",
                    "--judge", "judge1", "--lang", "kk+ru", data_dir=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    out = courtroom("invite", "1", "--role", "witness", "--name", "Сидоров", "--qr",
                    str(tmp_path / "qr"), data_dir=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "/join#" in out.stdout
    assert (tmp_path / "qr.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "qr.svg").read_text()
    out = courtroom("hearing", "list", data_dir=tmp_path, env=env)
    assert "2-5/2026" in out.stdout and "Әлиев v. Ким" in out.stdout
    out = courtroom("audit", "verify", "1", data_dir=tmp_path, env=env)
    assert out.returncode == 0 and "chain intact" in out.stdout


def test_first_start_creates_the_administrator(tmp_path):
    from hearing.commands.common import open_db
    from hearing.commands.serve import bootstrap_admin
    cfg = load_config(data_dir=str(tmp_path), env={})
    db = open_db(cfg)
    password = bootstrap_admin(db, cfg)
    assert password and (tmp_path / "initial-admin-password").read_text().strip() == password
    assert oct((tmp_path / "initial-admin-password").stat().st_mode & 0o777) == "0o600"
    assert bootstrap_admin(db, cfg) is None  # only once
    db.close()
