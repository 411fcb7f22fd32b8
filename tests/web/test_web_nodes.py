"""A court of two servers in Chromium: phones whose pages come from node b, while node a holds
the hearing, take their media to node a by themselves and hear each other; the judge's console
on node b is offered the console on node a for its media. Both nodes share PostgreSQL and
NATS."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from hearing.api.context import STATE
from hearing.config import Config
from hearing.db import Database

from conftest import LiveServer, StaffApi, admit, new_context, shot

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db_url", ["postgres"], indirect=True)]


def node(data_dir, db_url: str, nats_url: str, bus_prefix: str, name: str) -> LiveServer:
    data_dir.mkdir()
    srv = LiveServer(data_dir)  # its own SQLite file stays unused
    srv.db.close()
    srv.url, srv.db = db_url, Database(db_url)
    srv.config = Config(host="127.0.0.1", port=srv.port, data_dir=data_dir, database_url=db_url,
                        rtc_bind="127.0.0.1", nats_url=nats_url, bus_prefix=bus_prefix,
                        transcribe=False,
                        # the browser's and every node's sockets share this test process: a
                        # busy machine's unread media is no reason to refuse a hearing here
                        load_max_udp_backlog_bytes=64 * 1024 * 1024,
                        node_id=f"node-{name}-{uuid.uuid4().hex[:6]}", node_url=srv.base)
    return srv


@pytest.fixture
def nodes(db_url, nats_url, bus_prefix, tmp_path):
    a = node(tmp_path / "a", db_url, nats_url, bus_prefix, "a")
    b = node(tmp_path / "b", db_url, nats_url, bus_prefix, "b")
    for srv in (a, b):  # the court's nodes, which a page may be sent to
        srv.config.node_urls = f"{a.base},{b.base}"
        srv.start()
    a.add_user("judge", "judge", "Судья Ахметова А.Б.")
    yield a, b
    for srv in (b, a):
        srv.stop()
        srv.db.close()


def lobby_through(browser, srv: LiveServer, link: str):
    """A phone opens its invite link on ``srv`` and waits in the lobby. ``page.sockets`` and
    ``page.frames_in`` record where its WebSockets went and what they received."""
    ctx = new_context(browser, srv, phone=True)
    page = ctx.new_page()
    page.sockets, page.frames_in = [], []
    page.on("websocket", lambda ws: (page.sockets.append(ws.url), ws.on(
        "framereceived", lambda payload: page.frames_in.append(payload))))
    page.goto(f"{srv.base}/join#{link.split('#', 1)[1]}")
    page.get_by_role("button", name="Продолжить").click()
    expect(page.locator("#phase-lobby")).to_be_visible()
    return ctx, page


def test_a_phone_started_on_another_node_takes_its_media_to_the_owner(
        nodes, browser, artifacts):
    a, b = nodes
    contexts = []
    try:
        judge_ctx = new_context(browser, a)
        contexts.append(judge_ctx)
        judge = StaffApi(judge_ctx, "judge")
        hid = judge.hearing()["id"]
        w_inv = judge.invite(hid, name="Сидоров С.С.")
        p_inv = judge.invite(hid, name="Петрова П.П.")
        # The witness waits on node b before anyone holds the hearing: its join there is
        # answered "moved". The plaintiff comes through node b later, when its hello already
        # names node a, and goes straight there. Both pages stay on node b.
        w_ctx, witness = lobby_through(browser, b, w_inv["link"])
        contexts.append(w_ctx)
        judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})  # node a holds it
        admit(judge, hid, w_inv, witness)
        p_ctx, plaintiff = lobby_through(browser, b, p_inv["link"])
        contexts.append(p_ctx)
        admit(judge, hid, p_inv, plaintiff)
        w_src, p_src = f"p{w_inv['participant']['id']}", f"p{p_inv['participant']['id']}"
        w_tile = witness.locator(f'#tiles .tile[data-source="{p_src}"]')
        p_tile = plaintiff.locator(f'#tiles .tile[data-source="{w_src}"]')
        expect(w_tile).to_contain_text("Петрова П.П.", timeout=45_000)
        expect(p_tile).to_contain_text("Сидоров С.С.", timeout=45_000)
        expect(p_tile).to_have_class(re.compile(r"\bspeaking\b"), timeout=30_000)
        expect(w_tile).to_have_class(re.compile(r"\bspeaking\b"), timeout=30_000)
        assert witness.url.startswith(b.base) and plaintiff.url.startswith(b.base)
        ws_a, ws_b = (f"{s.base.replace('http', 'ws')}/api/hearings/{hid}/ws" for s in (a, b))
        assert witness.sockets[:2] == [ws_b, ws_a] and plaintiff.sockets[:2] == [ws_b, ws_a]
        assert any('"moved"' in str(f) for f in witness.frames_in), "told to move"
        assert not any('"moved"' in str(f) for f in plaintiff.frames_in), "went straight"

        def seats(srv):  # noqa: ANN001, ANN202
            async def read():  # noqa: ANN202
                live = srv.app[STATE].live.get(hid)
                return set(live.room.participants) if live is not None else None
            return srv.call(read())
        assert {w_src, p_src} <= seats(a), "both phones' media runs on node a"
        assert seats(b) is None, "node b holds no media of the hearing"
        shot(witness, artifacts, "join-moved-to-owner-phone")
        assert not witness.context.js_errors and not plaintiff.context.js_errors

        # A console's session cookie belongs to its own origin: the judge's console on node b
        # keeps its events there and offers the console on node a for camera and microphone.
        console_ctx = new_context(browser, b)
        contexts.append(console_ctx)
        StaffApi(console_ctx, "judge")
        console = console_ctx.new_page()
        console.goto(f"/judge/{hid}")
        expect(console.locator("body")).to_have_attribute("data-conn", "online")
        console.locator("#media-join").click()
        note = console.locator("#media-elsewhere a")
        expect(note).to_have_attribute("href", f"{a.base}/judge/{hid}")
        expect(console.locator("#media-elsewhere")).to_contain_text("другой сервер")
        assert seats(b) is None
        shot(console, artifacts, "judge-media-elsewhere-desktop")
        assert not console_ctx.js_errors
    finally:
        for ctx in contexts:
            ctx.close()
