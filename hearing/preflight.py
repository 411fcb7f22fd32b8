"""Checks of a configuration against the machine it is to run on, all at once: `courtroom
serve` refuses to start on any error (one line per problem, naming the setting, exit code 2)
and `courtroom check-config` lists them. The same checks of the disk and the database answer
the readiness endpoint while the server runs.

A public URL that is plain HTTP on an address other than loopback is an error, not a warning:
browsers give the microphone and camera only to pages served over HTTPS (or from localhost),
so every phone that followed such an invite would join deaf and mute."""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hearing.bus import prefix_problem
from hearing.config import Config, weak_languages
from hearing.logs import FORMATS, LEVELS

if TYPE_CHECKING:
    from hearing.state import AppState

ASR_DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class Problem:
    setting: str
    message: str
    #: False: worth saying, but the server runs (e.g. plain HTTP on the local network)
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


def check(cfg: Config, *, database: bool = True) -> list[Problem]:
    """Every problem of ``cfg`` on this machine, errors and warnings."""
    paths = _paths(cfg)
    problems = [*_values(cfg), *_tls(cfg), *_public_url(cfg), *_nodes(cfg), *paths,
                *_asr(cfg), *_seal(cfg)]
    if database and not (paths and not cfg.database_url):  # the SQLite file is in data_dir
        problems += _database(cfg)
    return problems


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _values(cfg: Config) -> list[Problem]:
    out = []
    if not 1 <= cfg.port <= 65535:
        out.append(Problem("port", f"{cfg.port} is not a TCP port (1-65535)"))
    if not 0 <= cfg.metrics_port <= 65535:
        out.append(Problem("metrics_port", f"{cfg.metrics_port} is not a TCP port (0 disables "
                                           "metrics)"))
    if cfg.log_format not in FORMATS:
        out.append(Problem("log_format", f"{cfg.log_format!r} is not one of "
                                         f"{', '.join(FORMATS)}"))
    if cfg.log_level.lower() not in LEVELS:
        out.append(Problem("log_level", f"{cfg.log_level!r} is not one of {', '.join(LEVELS)}"))
    if problem := prefix_problem(cfg.bus_prefix):
        out.append(Problem("bus_prefix", problem))
    if cfg.audit_key_passphrase_file and not os.access(cfg.audit_key_passphrase_file, os.R_OK):
        out.append(Problem("audit_key_passphrase_file",
                           f"{cfg.audit_key_passphrase_file} does not exist or is not readable"))
    return out


def _tls(cfg: Config) -> list[Problem]:
    if not cfg.tls_cert and not cfg.tls_key:
        return []
    if not cfg.tls_cert:
        return [Problem("tls_cert", "tls_key is set but tls_cert is not")]
    out = []
    for setting, path in (("tls_cert", cfg.tls_cert), ("tls_key", cfg.tls_key)):
        if not path:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            out.append(Problem(setting, f"cannot read {path} ({exc.strerror or exc})"))
    if out:
        return out
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            cfg.tls_cert, cfg.tls_key or None)
    except (ssl.SSLError, ValueError) as exc:
        out.append(Problem("tls_cert", f"{cfg.tls_cert} and {cfg.tls_key or 'its key'} are not "
                                       f"a PEM certificate and its private key ({exc})"))
    return out


def _public_url(cfg: Config) -> list[Problem]:
    if cfg.public_url:
        parts = urlsplit(cfg.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [Problem("public_url", f"{cfg.public_url!r} is not an http(s):// URL")]
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            return [Problem("public_url", f"{cfg.public_url} is not HTTPS: phones allow the "
                                          "microphone only on HTTPS pages (set an https:// URL "
                                          "and tls_cert/tls_key, or a TLS proxy)")]
        return []
    if not cfg.tls_cert and not is_loopback(cfg.host):
        return [Problem("public_url", f"serving plain HTTP on {cfg.host}: phones following "
                                      "invites cannot use their microphone; set tls_cert/tls_key "
                                      "or an https:// public_url", fatal=False)]
    return []


def _nodes(cfg: Config) -> list[Problem]:
    if cfg.nats_url and not cfg.node_urls.strip():
        return [Problem("node_urls", "several nodes (nats_url is set) but node_urls lists none: "
                                     "a phone sent to the node that holds its hearing may only "
                                     "connect to the nodes listed there", fatal=False)]
    return []


def writable(directory: Path) -> str | None:
    """None if files can be created in ``directory`` (made if missing), else why not."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _paths(cfg: Config) -> list[Problem]:
    data = Path(cfg.data_dir)
    why = writable(data)
    if why:
        return [Problem("data_dir", f"cannot write to {data} ({why})")]
    blobs = data / "blobs"
    if blobs.exists():
        why = writable(blobs)
        if why:
            return [Problem("data_dir", f"cannot write blobs to {blobs} ({why})")]
    return []


def _asr(cfg: Config) -> list[Problem]:
    if not (cfg.transcribe or cfg.transcribe_evidence):
        return []
    out = []
    if cfg.asr_device not in ASR_DEVICES:
        out.append(Problem("asr_device", f"{cfg.asr_device!r} is not one of "
                                         f"{', '.join(ASR_DEVICES)}"))
    elif cfg.asr_device == "cuda":
        from asr.model import cuda_device_count
        if cuda_device_count() == 0:
            out.append(Problem("asr_device", "'cuda' but this machine has no CUDA device "
                                             "(set asr_device = \"cpu\")"))
    if cfg.asr_model_dir:
        out += model_dir_problems(cfg.asr_model_dir)
    if cfg.asr_lanes < 0:
        out.append(Problem("asr_lanes", f"{cfg.asr_lanes}: 0 (auto) or a number of lanes"))
    for setting in ("asr_weak_languages", "retranscribe_weak_languages"):
        unknown = set(weak_languages(getattr(cfg, setting)) or ()) - {"kk", "ru"}
        if unknown:
            out.append(Problem(setting, f"{', '.join(sorted(unknown))}: not a hearing "
                                        f"language (kk, ru), or \"auto\" or \"none\""))
    if cfg.retranscribe_model_dir:
        out += model_dir_problems(cfg.retranscribe_model_dir, "retranscribe_model_dir")
    return out


def _seal(cfg: Config) -> list[Problem]:
    """The court's seal for protocol PDFs loads (key, certificate, passphrase), so a wrong file
    shows at start-up, not at the first export."""
    if not (cfg.seal_key_file or cfg.seal_cert_file):
        return []
    if not (cfg.seal_key_file and cfg.seal_cert_file):
        return [Problem("seal_key_file", "seal_key_file and seal_cert_file go together")]
    from stenogram.pades import SealError, load_seal
    try:
        load_seal(cfg.seal_key_file, cfg.seal_cert_file, cfg.seal_key_passphrase_file)
    except SealError as e:
        return [Problem("seal_key_file", str(e))]
    return []


def model_dir_problems(model_dir: str, setting: str = "asr_model_dir") -> list[Problem]:
    path = Path(model_dir)
    if not path.is_dir():
        return [Problem(setting, f"{path} is not a directory")]
    missing = [n for n in ("model.bin", "config.json") if not (path / n).is_file()]
    if missing:
        return [Problem(setting, f"{path} is not a CTranslate2 Whisper model (no "
                                 f"{' or '.join(missing)})")]
    return []


def database_problem(url: str, timeout_s: int = 5) -> str | None:
    """None if the database answers, else why not (the password never shown)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "not a database URL"
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                why = writable(Path(path).parent)
                if why:
                    return f"cannot write to {Path(path).parent} ({why})"
                if not Path(path).exists():
                    return None  # made at the first start
            engine = create_engine(url)
        else:
            engine = create_engine(url, connect_args={"connect_timeout": timeout_s})
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any driver's error is the answer
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"cannot connect to {shown} ({first[0] if first else type(exc).__name__})"
    return None


def _database(cfg: Config) -> list[Problem]:
    why = database_problem(cfg.db_url)
    return [Problem("database_url", why)] if why else []


async def readiness(state: "AppState") -> list[str]:
    """Why the running server cannot take work now (empty: ready)."""
    import asyncio

    from sqlalchemy import text
    cfg, reasons = state.config, []
    if not state.started:
        reasons.append("starting: the server has not finished starting")
    url = state.db.url
    if url.startswith("sqlite") and "///" in url:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).is_file():
            reasons.append(f"database: the database file {path} is missing")
    if not reasons or not reasons[-1].startswith("database"):
        try:
            await asyncio.wait_for(state.db.run(lambda s: s.execute(text("select 1"))), 5)
        except Exception as exc:  # noqa: BLE001
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            reasons.append(f"database: unreachable ({first[0] if first else type(exc).__name__})")
    why = await asyncio.get_running_loop().run_in_executor(None, writable, Path(cfg.data_dir))
    if why:
        reasons.append(f"disk: cannot write to {cfg.data_dir} ({why})")
    if cfg.transcribe and cfg.asr_model_dir:
        reasons += [f"model: {p.message}" for p in model_dir_problems(cfg.asr_model_dir)]
    return reasons
