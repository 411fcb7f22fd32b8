"""Browser-test fixtures: the hearing server on a free loopback port (its own thread and event
loop, SQLite in a temp folder), Debian's Chromium driven by Playwright with a fake camera and
a real speech clip as the microphone, and staff sign-in helpers."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import wave
from pathlib import Path

import pytest

from hearing import audit
from hearing.accounts import add_user
from hearing.config import Config
from hearing.db import Database, make_engine, upgrade

CHROMIUM = Path("/usr/bin/chromium")
SPEECH_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "speech" / "ru-dev"
if not SPEECH_DIR.is_dir():
    SPEECH_DIR = Path("/work/shared/speech/ru-dev")
#: The witness's microphone: "Учился на медные деньги, с двенадцати лет сам их зарабатываю."
SPEECH_CLIP = "nsh_ru_ru_0018.wav"
PASSWORD = "correct horse battery"
#: The signing keys' passphrase in the browser tests.
PASSPHRASE = "long enough passphrase 1"
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts" / "web"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic",
                "--autoplay-policy=no-user-gesture-required",
                "--use-fake-device-for-media-stream"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app (make_app + page routes) served from a background thread."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"sqlite:///{data_dir / 'courtroom.sqlite3'}"
        engine = make_engine(self.url)
        upgrade(engine)
        engine.dispose()
        self.config = Config(host="127.0.0.1", port=self.port, data_dir=data_dir,
                             database_url=self.url, rtc_bind="127.0.0.1")
        self.db = Database(self.url)
        self.base = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = None
        self.app = None

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        from aiohttp import web
        from hearing.app import make_app
        from hearing.api.pages import add_page_routes
        self.app = make_app(self.config, self.db)
        if not any(getattr(r, "canonical", None) == "/join" for r in self.app.router.resources()):
            add_page_routes(self.app)
        self.runner = web.AppRunner(self.app, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def start(self) -> "LiveServer":
        self.thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        try:
            self.call(self.runner.cleanup())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def add_user(self, username: str, role: str, display_name: str) -> int:
        def work(s):
            u = add_user(s, username, PASSWORD, role, display_name)
            audit.append(s, 0, "test", "user.create", {"user_id": u.id})
            return u.id
        return self.db.run_sync(work)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """The clip padded with a second of silence at each end (16-bit PCM, as Chromium wants)."""
    src = SPEECH_DIR / SPEECH_CLIP
    if not src.exists():
        pytest.skip(f"speech clip missing: {src}")
    out = tmp_path_factory.mktemp("audio") / "witness.wav"
    with wave.open(str(src)) as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    assert params.sampwidth == 2, "Chromium's fake capture needs 16-bit PCM"
    pad = b"\0" * params.sampwidth * params.nchannels * params.framerate
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(pad + frames + pad)
    return out


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("web-server")).start()
    srv.users = {name: srv.add_user(name, role, display)
                 for name, role, display in (("admin", "admin", "Администратор"),
                                             ("judge", "judge", "Судья Ахметова А.Б."),
                                             ("secretary", "secretary", "Секретарь Ким Е.В."))}
    yield srv
    srv.stop()


# Module scope: sync Playwright holds an event loop in this thread while it runs, which would
# stop any later asyncio test of the session from starting.
@pytest.fixture(scope="module")
def playwright_instance():
    if not CHROMIUM.exists():
        pytest.skip("Debian's /usr/bin/chromium is not installed (make test installs it)")
    api = pytest.importorskip("playwright.sync_api")
    sync_playwright = api.sync_playwright
    # The machine is shared and busy: give pages time, without making a real failure slow.
    api.expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance, speech_wav):
    """Chromium whose microphone plays the speech clip (looped) and whose camera is fake.
    Media permission is decided per context (granted, or not granted = denied)."""
    b = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=[*BROWSER_ARGS, f"--use-file-for-fake-audio-capture={speech_wav}"])
    yield b
    b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def new_context(browser, server, *, phone: bool = False, media: bool = True, lang: str = "ru"):
    ctx = browser.new_context(
        base_url=server.base, viewport=PHONE if phone else DESKTOP,
        device_scale_factor=1, is_mobile=phone, has_touch=phone,
        locale={"ru": "ru-RU", "kk": "kk-KZ", "en": "en-GB"}[lang],
        permissions=["microphone", "camera"] if media else [])
    ctx.set_default_timeout(30_000)
    ctx.add_init_script("try { if (!localStorage.getItem('courtroom.lang')) "
                        f"localStorage.setItem('courtroom.lang', '{lang}') }} catch (e) {{}}")
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    ctx.js_errors = errors
    return ctx


def sign_in(ctx, username: str) -> str:
    """Sign a staff member in through the API (the sign-in page has its own test); the
    context's pages then share the session cookie. Returns the CSRF token."""
    r = ctx.request.post("/api/login", data={"username": username, "password": PASSWORD})
    assert r.ok, r.text()
    return r.json()["csrf_token"]


class StaffApi:
    """REST calls as a signed-in staff member, for setting up what a test is not about."""

    def __init__(self, ctx, username: str) -> None:
        self.ctx = ctx
        self.csrf = sign_in(ctx, username)

    def get(self, path: str):
        r = self.ctx.request.get(path)
        assert r.ok, f"GET {path}: {r.status} {r.text()}"
        return r.json()

    def post(self, path: str, body: dict | None = None, ok: bool = True):
        r = self.ctx.request.post(path, data=body or {}, headers={"X-CSRF-Token": self.csrf})
        if ok:
            assert r.ok, f"POST {path}: {r.status} {r.text()}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

    def hearing(self, secretary_id: int | None = None, **extra) -> dict:
        # one case per hearing: a case carries its accepted evidence into its next hearing
        body = {"case_number": f"2-{next(_case_numbers)}/2026", "title": "Иванов А. к ТОО «Береке»",
                "kind": "civil", "language": "ru", **extra}
        if secretary_id:
            body["secretary_id"] = secretary_id
        return self.post("/api/hearings", body)

    def invite(self, hearing_id: int, role: str = "witness", name: str = "Сидоров С.С.") -> dict:
        p = self.post(f"/api/hearings/{hearing_id}/participants",
                      {"role": role, "display_name": name})
        inv = self.post(f"/api/hearings/{hearing_id}/participants/{p['id']}/invites", {})
        return {"participant": p, **inv}


def add_final(server, hearing_id: int, source_id: str, text: str, start_ms: int, low=(),
              step_ms: int = 400, **extra):
    """Store a machine final as the live transcriber would (one word every ``step_ms``; the
    words at the indexes in ``low`` with probability 0.3, the others 0.95); the segment."""
    from hearing.api.context import STATE
    from stenogram import segment_from_final
    words = [{"text": w, "start_ms": start_ms + i * step_ms,
              "end_ms": start_ms + (i + 1) * step_ms - 50,
              "probability": 0.3 if i in low else 0.95} for i, w in enumerate(text.split())]
    event = {"source_id": source_id, "start_ms": start_ms, "end_ms": words[-1]["end_ms"],
             "text": text, "words": words, "language": "ru", "model": "test", **extra}
    return server.call(server.app[STATE].transcripts.add_final(hearing_id,
                                                               segment_from_final(event)))


_case_numbers = itertools.count(1234)


def signed_version(secretary: StaffApi, judge: StaffApi, hearing_id: int) -> int:
    """A stenogram version made by the secretary and signed by both (keys made as needed);
    its number."""
    for who in (secretary, judge):
        who.post("/api/me/signing-key", {"passphrase": PASSPHRASE})
    number = secretary.post(f"/api/hearings/{hearing_id}/stenogram/versions")["number"]
    for who in (secretary, judge):
        who.post(f"/api/hearings/{hearing_id}/stenogram/versions/{number}/sign",
                 {"passphrase": PASSPHRASE})
    return number


def join_lobby(page, link: str):
    """A phone opens its invite link and, past the device check, waits in the lobby."""
    from playwright.sync_api import expect
    page.goto(link)
    page.get_by_role("button", name="Продолжить").click()
    expect(page.locator("#phase-lobby")).to_be_visible()
    return page


def admit(judge: StaffApi, hearing_id: int, inv: dict, page) -> None:  # noqa: ANN001
    """The judge admits the phone waiting in the lobby; its page enters the hearing."""
    from playwright.sync_api import expect
    judge.post(f"/api/hearings/{hearing_id}/participants/{inv['participant']['id']}/admit")
    expect(page.locator("#phase-hearing")).to_be_visible()


def admitted_phone(make_context, judge: StaffApi, hearing_id: int, name: str = "Сидоров С.С.",
                   role: str = "witness"):
    """A new phone invited, through the lobby and admitted: (context, page, invite)."""
    inv = judge.invite(hearing_id, role=role, name=name)
    ctx = make_context(phone=True)
    page = join_lobby(ctx.new_page(), inv["link"])
    admit(judge, hearing_id, inv, page)
    return ctx, page, inv


def shot(page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def make_context(browser, server):
    made = []

    def factory(**kw):
        ctx = new_context(browser, server, **kw)
        made.append(ctx)
        return ctx
    yield factory
    for ctx in made:
        ctx.close()
