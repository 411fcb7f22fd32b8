"""Running the server for a court: metrics on their own address, readiness apart from
liveness, structured logs without secrets, HSTS over HTTPS, start-up errors that name the
setting, `courtroom check-config`, and the example configuration and dashboard in deploy/."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import logging
import os
import re
import socket
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from hearing import logs
from hearing.app import METRICS_SITE, make_app, serve_metrics
from hearing.config import Config, load_config
from hearing.db import Database

from hearing_testlib import PASSWORD, app_with_users, invite, login, schedule

ROOT = Path(__file__).resolve().parents[2]
COURTROOM = ROOT / ".venv" / "bin" / "courtroom"
DEPLOY = ROOT / "deploy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of a Prometheus exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float | None:
    return scrape.get((name, frozenset(labels.items())))


async def scrape_text(app: web.Application) -> str:
    host, port = app[METRICS_SITE].runner.addresses[0][:2]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{host}:{port}/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            return await r.text()


async def scrape(app: web.Application) -> dict:
    return samples(await scrape_text(app))


def series_names(text: str) -> set[str]:
    """Every series name a query may use, also of families with no sample yet."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum"),
                "gauge": ("",)}
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + sfx for sfx in suffixes.get(family.type, ("",))}
    return names


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def sqlite_url(tmp_path):
    from hearing.db import make_engine, upgrade
    url = f"sqlite:///{tmp_path / 'courtroom.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


# -- metrics ---------------------------------------------------------------------------------

async def test_metrics_after_a_hearing_with_a_websocket_client_and_errors(aiohttp_client,
                                                                          db_url, tmp_path):
    app, db, ids = app_with_users(db_url, tmp_path, transcribe=False)
    serve_metrics(app, "127.0.0.1", 0)
    judge = await login(aiohttp_client, app, "judge")
    other = await login(aiohttp_client, app, "judge2")
    h = await schedule(judge, ids["secretary"])
    hid = h["id"]
    r = await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    assert r.status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"])
    ws = await judge.client.ws_connect(f"/api/hearings/{hid}/ws")
    await asyncio.wait_for(ws.receive_json(), 10)  # the snapshot: subscribed
    assert (await judge.get("/api/hearings/999999")).status == 404
    assert (await other.get(f"/api/hearings/{hid}")).status == 403
    assert (await other.get(f"/api/hearings/{hid}")).status == 403

    m = await scrape(app)
    route = "/api/hearings/{hearing_id}"
    assert value(m, "courtroom_http_responses_total", method="GET", route=route,
                 status="404") == 1
    assert value(m, "courtroom_http_responses_total", method="GET", route=route,
                 status="403") == 2
    assert value(m, "courtroom_http_responses_total", method="POST",
                 route="/api/hearings/{hearing_id}/transitions", status="200") == 1
    assert not any(n == "courtroom_http_responses_total" and "999999" in str(labels)
                   for n, labels in m)  # templates, never raw paths
    assert value(m, "courtroom_hearings", state="open") == 1
    assert value(m, "courtroom_hearings", state="closed") == 0
    assert value(m, "courtroom_ws_clients", caller="staff") == 1
    assert value(m, "courtroom_ws_dropped_messages_total", reason="partial") == 0
    assert value(m, "courtroom_audit_rows_total") >= 2  # hearing.create, the transition
    assert value(m, "courtroom_db_transaction_seconds_count", outcome="ok") >= 2
    assert value(m, "courtroom_forwarded_packets_total", kind="audio") is not None
    assert value(m, "courtroom_asr_queue_depth", kind="final") == 0
    assert value(m, "courtroom_started") == 1

    await ws.close()
    ws_route = dict(method="GET", route="/api/hearings/{hearing_id}/ws")
    for _ in range(100):  # the server sees the close on its own time
        m = await scrape(app)
        if any(n == "courtroom_http_responses_total" and ("route", ws_route["route"]) in labels
               for n, labels in m):
            break
        await asyncio.sleep(0.05)
    assert value(m, "courtroom_ws_closed_total", reason="client") == 1
    assert value(m, "courtroom_ws_clients", caller="staff") == 0
    assert value(m, "courtroom_http_responses_total", status="101", **ws_route) == 1
    # never on the public port unless configured so
    assert (await judge.get("/metrics")).status == 404


async def test_a_webrtc_hearing_shows_participants_tracks_and_forwarding(aiohttp_client,
                                                                         sqlite_url, tmp_path):
    from support.testpeer import SignalTrack, tone
    from test_hearing_media import WsPeer, connect
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False, rtc_bind="127.0.0.1")
    serve_metrics(app, "127.0.0.1", 0)
    judge = await login(aiohttp_client, app, "judge")
    hid = (await schedule(judge))["id"]
    invites = [await invite(judge, hid, "witness", "Witness A"),
               await invite(judge, hid, "plaintiff", "Plaintiff B")]
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "open"})
    before = await scrape(app)
    peers = []
    for n, (inv, hz) in enumerate(zip(invites, (440, 660))):
        client = await aiohttp_client(app)
        bearer = {"Authorization": f"Bearer {inv['token']}"}
        await client.post("/api/join", headers=bearer)
        await judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")
        peer = WsPeer(await connect(client, hid, inv["token"]), f"P{n}",
                      SignalTrack(tone(hz, 1.0)))
        peers.append(peer)
    for peer in peers:
        await peer.peer.join()
    await asyncio.sleep(2.0)
    m = await scrape(app)
    assert value(m, "courtroom_participants_connected", hearing_id=str(hid)) == 2
    assert value(m, "courtroom_media_tracks", kind="audio") == 2  # each hears the other
    assert value(m, "courtroom_hearings_live") == 1
    assert value(m, "courtroom_ws_clients", caller="participant") == 2
    sent = value(m, "courtroom_forwarded_packets_total", kind="audio") - \
        value(before, "courtroom_forwarded_packets_total", kind="audio")
    assert sent > 50  # 20 ms Opus packets, both ways, for about two seconds
    assert value(m, "courtroom_forwarded_bytes_total", kind="audio") > \
        value(before, "courtroom_forwarded_bytes_total", kind="audio")
    pid = invites[0]["participant"]["id"]
    await judge.post(f"/api/hearings/{hid}/participants/{pid}/eject")
    for _ in range(100):
        m = await scrape(app)
        ended = {dict(labels)["reason"]: v for (n, labels), v in m.items()
                 if n == "courtroom_ws_closed_total"}
        if any(v for r, v in ended.items() if r != "client"):
            break
        await asyncio.sleep(0.05)
    assert sum(v for r, v in ended.items() if r != "client") == 1, ended
    await judge.post(f"/api/hearings/{hid}/transitions", json={"to": "closed"})
    for peer in peers:
        await peer.close()


@pytest.mark.slow
async def test_speech_streams_show_their_lag_and_final_latency(aiohttp_client, sqlite_url,
                                                               tmp_path):
    """A real Whisper stream on the server's scheduler: its final is counted in the
    per-stream latency histogram, and its lag is published."""
    import wave

    import numpy as np

    from asr.scheduler import Scheduler, SchedulerOptions, StreamKey
    from asr.stream import StreamOptions
    from hearing.api.context import STATE
    from hearing_testlib import SPEECH
    clip = SPEECH / "ru-dev" / "ast_ru_auth-incorrect.wav"
    if not clip.is_file():
        pytest.skip("no speech clips in ../shared/speech")
    with wave.open(str(clip)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False)
    serve_metrics(app, "127.0.0.1", 0)
    await aiohttp_client(app)
    scheduler = Scheduler(SchedulerOptions(run_workers=False))
    await scheduler.start()
    app[STATE].live.transcription.scheduler = scheduler  # the server's one scheduler
    finals = []
    stream = scheduler.open_stream(StreamKey(7, "p1"), StreamOptions(language="ru"),
                                   lambda ev: finals.append(ev) if ev.kind == "final" else None)
    stream.feed(0, np.concatenate([audio, np.zeros(24000, np.float32)]))
    m = await scrape(app)
    assert value(m, "courtroom_asr_model_loaded") == 1
    assert value(m, "courtroom_asr_lag_seconds", hearing_id="7", source_id="p1") is not None
    for _ in range(200):
        scheduler.step()
        await asyncio.sleep(0.01)
        if finals:
            break
    assert finals
    m = await scrape(app)
    labels = {"hearing_id": "7", "source_id": "p1"}
    assert value(m, "courtroom_asr_final_latency_seconds_count", **labels) == len(finals)
    assert value(m, "courtroom_asr_final_latency_seconds_bucket", le="+Inf",
                 **labels) == len(finals)
    assert 0 <= value(m, "courtroom_asr_model_busy_ratio") <= 1
    close = asyncio.ensure_future(stream.close())
    while not close.done():
        scheduler.step()
        await asyncio.sleep(0.01)
    await scheduler.stop()


async def test_grafana_dashboard_queries_only_metrics_that_exist(aiohttp_client, sqlite_url,
                                                                 tmp_path):
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False)
    serve_metrics(app, "127.0.0.1", 0)
    judge = await login(aiohttp_client, app, "judge")
    assert (await judge.get("/api/hearings/1")).status == 404
    names = series_names(await scrape_text(app))
    dashboard = json.loads((DEPLOY / "grafana" / "courtroom.json").read_text())
    queried = {name for panel in dashboard["panels"] for t in panel["targets"]
               for name in re.findall(r"\bcourtroom_[a-z_]+", t["expr"])}
    assert len(queried) >= 20
    assert queried - names == set()


async def test_ready_until_the_database_file_is_gone(aiohttp_client, sqlite_url, tmp_path):
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False)
    client = await aiohttp_client(app)
    r = await client.get("/api/ready")
    assert r.status == 200 and await r.json() == {"ready": True, "reasons": []}
    path = tmp_path / "courtroom.sqlite3"
    path.rename(tmp_path / "moved-away.sqlite3")
    try:
        r = await client.get("/api/ready")
        body = await r.json()
        assert r.status == 503 and body["ready"] is False
        assert any(reason.startswith("database:") for reason in body["reasons"]), body
        assert (await client.get("/api/health")).status == 200  # alive, not ready
    finally:
        (tmp_path / "moved-away.sqlite3").rename(path)
    assert (await client.get("/api/ready")).status == 200


# -- TLS and headers -------------------------------------------------------------------------

async def test_hsts_and_secure_cookie_over_https_only(sqlite_url, tmp_path):
    cert, key = self_signed(tmp_path)
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False, tls_cert=str(cert),
                                  tls_key=str(key))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://localhost:{port}/api/health", ssl=False) as r:
                assert r.headers["Strict-Transport-Security"] == \
                    "max-age=31536000; includeSubDomains"
            async with http.post(f"https://localhost:{port}/api/login", ssl=False,
                                 json={"username": "judge", "password": PASSWORD}) as r:
                assert r.status == 200
                assert "Secure" in r.headers["Set-Cookie"]
    finally:
        await runner.cleanup()

    plain = make_app(Config(data_dir=tmp_path, database_url=sqlite_url, transcribe=False),
                     Database(sqlite_url))
    runner = web.AppRunner(plain)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/api/health") as r:
                assert "Strict-Transport-Security" not in r.headers
            async with http.post(f"http://127.0.0.1:{port}/api/login",
                                 json={"username": "judge", "password": PASSWORD}) as r:
                assert "Secure" not in r.headers["Set-Cookie"]
    finally:
        await runner.cleanup()


# -- logs ------------------------------------------------------------------------------------

@pytest.fixture
def json_log():
    """Every log event of the process, as the JSON lines `courtroom serve` would write."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_json_log_lines_carry_request_hearing_and_caller(aiohttp_client, sqlite_url,
                                                               tmp_path, json_log):
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    r = await judge.get(f"/api/hearings/{h['id']}", headers={"X-Request-Id": "trace-0123456789"})
    assert r.status == 200 and r.headers["X-Request-Id"] == "trace-0123456789"
    events = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message", "request_id", "hearing_id",
                "caller"} <= e.keys() for e in events)
    mine = [e for e in events if e["request_id"] == "trace-0123456789"]
    assert mine and mine[-1]["logger"] == "hearing.http"
    assert mine[-1]["hearing_id"] == h["id"] and mine[-1]["caller"] == "staff"
    assert mine[-1]["route"] == "/api/hearings/{hearing_id}" and mine[-1]["status"] == 200


async def test_no_secret_reaches_the_log(aiohttp_client, sqlite_url, tmp_path, json_log):
    app, db, ids = app_with_users(sqlite_url, tmp_path, transcribe=False)
    judge = await login(aiohttp_client, app, "judge")
    h = await schedule(judge)
    inv = await invite(judge, h["id"])
    token = inv["token"]
    client = await aiohttp_client(app)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/me", headers=bearer)).status == 200
    assert (await client.post("/api/join", headers=bearer, json={})).status in (200, 201)
    assert (await client.get(f"/api/me?token={token}")).status == 401
    r = await client.post("/api/login", json={"username": "judge", "password": "wrong " + PASSWORD})
    assert r.status == 401
    cookie = judge.client.session.cookie_jar.filter_cookies(
        judge.client.make_url("/"))["courtroom_session"].value
    # whoever writes them, secrets in a log line are replaced
    log = logging.getLogger("hearing.test")
    log.warning("login as judge with password=%s", PASSWORD)
    log.warning("headers: {'Authorization': 'Bearer %s', 'Cookie': 'courtroom_session=%s'}",
                token, cookie)
    log.warning("invite link %s sent; csrf_token: %s", inv["link"], judge.csrf)
    try:
        raise RuntimeError(f"token={token}")
    except RuntimeError:
        log.exception("failed")
    text = json_log.getvalue()
    assert "hearing.http" in text and "[redacted]" in text
    for secret in (PASSWORD, token, cookie, judge.csrf):
        assert secret not in text


# -- start-up errors and check-config -----------------------------------------------------

def courtroom(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("COURTROOM_")}
    return subprocess.run([str(COURTROOM), *args], env={**base, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _misconfigurations(tmp_path: Path) -> dict[str, dict[str, str]]:
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    (not_a_model / "config.json").write_text("{}")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return {
        "asr_device": {"COURTROOM_ASR_DEVICE": "cuda"},
        "asr_model_dir": {"COURTROOM_ASR_MODEL_DIR": str(not_a_model)},
        "asr_weak_languages": {"COURTROOM_ASR_WEAK_LANGUAGES": "kk,en"},
        "asr_lanes": {"COURTROOM_ASR_LANES": "-2"},
        "database_url": {"COURTROOM_DATABASE_URL":
                         "postgresql+psycopg2://court:s3cret@127.0.0.1:1/courtroom"},
        "data_dir": {"COURTROOM_DATA_DIR": str(blocker / "var")},
        "tls_cert": {"COURTROOM_TLS_CERT": str(tmp_path / "missing.pem")},
        "public_url": {"COURTROOM_PUBLIC_URL": "http://court.example.kz"},
    }


@pytest.mark.parametrize("setting", ["asr_device", "asr_model_dir", "asr_weak_languages",
                                     "asr_lanes", "database_url", "data_dir", "tls_cert", "public_url"])
def test_each_misconfiguration_stops_serve_with_one_clear_line(setting, tmp_path):
    if setting == "asr_device":
        from asr.model import cuda_device_count
        if cuda_device_count():
            pytest.skip("this machine has a CUDA device")
    env = {"COURTROOM_DATA_DIR": str(tmp_path / "var"), "COURTROOM_METRICS_PORT": "0",
           **_misconfigurations(tmp_path)[setting]}
    done = courtroom(["serve", "--port", str(free_port())], env, tmp_path)
    assert done.returncode == 2, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"courtroom: {setting}: "), lines
    assert "s3cret" not in done.stderr
    assert not (tmp_path / "var" / "courtroom.sqlite3").exists()  # stopped before anything


def test_check_config_lists_every_problem_at_once(tmp_path):
    conf = tmp_path / "courtroom.toml"
    conf.write_text('[server]\npublic_url = "http://court.example.kz"\n'
                    f'tls_cert = "{tmp_path / "missing.pem"}"\nport = "eighty"\n'
                    'log_format = "xml"\n'
                    f'retranscribe_model_dir = "{tmp_path}"\n')
    done = courtroom(["--data-dir", str(tmp_path / "var"), "check-config", "--config",
                      str(conf)], {}, tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 5, done.stdout
    for setting in ("public_url", "tls_cert", "log_format", "port", "retranscribe_model_dir"):
        assert any(setting in line for line in errors), (setting, errors)


def test_the_example_one_node_configuration_checks(tmp_path):
    example = DEPLOY / "courtroom.toml"
    problems: list[str] = []
    cfg = load_config(example, env={}, problems=problems)
    assert problems == []
    assert cfg.public_url.startswith("https://") and cfg.metrics_port == 9464
    assert (cfg.metrics_host, cfg.log_format) == ("127.0.0.1", "json")
    # on this machine: its own certificate, data directory and passphrase file
    cert, key = self_signed(tmp_path)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("correct horse battery staple\n")
    env = {"COURTROOM_TLS_CERT": str(cert), "COURTROOM_TLS_KEY": str(key),
           "COURTROOM_DATA_DIR": str(tmp_path / "var"),
           "COURTROOM_AUDIT_KEY_PASSPHRASE_FILE": str(passphrase)}
    done = courtroom(["--config", str(example), "check-config"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configuration OK: https://court.example.kz/" in done.stdout
    # as it stands, on a machine without its certificate, check-config names what is missing
    done = courtroom(["--config", str(example), "check-config", "--no-database"],
                     {"COURTROOM_DATA_DIR": str(tmp_path / "var")}, tmp_path)
    assert done.returncode == 1 and "tls_cert: cannot read" in done.stdout


def test_log_format_follows_the_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    assert isinstance(logs.formatter("auto", Tty()), logs.TextFormatter)
    assert isinstance(logs.formatter("auto", io.StringIO()), logs.JsonFormatter)
    assert isinstance(logs.formatter("json", Tty()), logs.JsonFormatter)
    line = logs.TextFormatter().format(logging.LogRecord(
        "hearing.x", logging.INFO, __file__, 1, "password=%s", ("hunter22",), None))
    assert "hearing.x" in line and "hunter22" not in line
