"""Degradation is shown, not hidden: in real Chromium, a phone's audio is cut and the judge's
console says whose audio is lost and for how long, shows the gap in its transcript at its
time, and the transcript answer and the protocol carry it; a stalled server shows the judge
a notice that sound and text may lag; and the console says when its own links (its live
socket, its camera and microphone) drop and come back."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admit, join_lobby, shot

pytestmark = pytest.mark.slow

#: Keeps the page's peer connections reachable, so a test can cut what the phone sends.
KEEP_PEERS = """
window.__peers = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) {
  const pc = new Native(...args);
  window.__peers.push(pc);
  return pc;
};
window.RTCPeerConnection.prototype = Native.prototype;
"""
CUT = """() => {
  window.__cut = [];
  for (const pc of window.__peers) for (const s of pc.getSenders()) {
    if (s.track && s.track.kind === "audio") {
      window.__cut.push([s, s.track]);
      s.replaceTrack(null);
    }
  }
  return window.__cut.length;
}"""
RESTORE = "() => { for (const [s, track] of window.__cut) s.replaceTrack(track); }"


def judge_console(make_context, hid):
    ctx = make_context()
    StaffApi(ctx, "judge")  # the console's session
    page = ctx.new_page()
    page.goto(f"/judge/{hid}")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.locator("body")).to_have_attribute("data-conn", "online")  # events reach it
    return page


def test_cut_phone_audio_is_shown_kept_and_printed(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing(secretary_id=server.users["secretary"])
    hid = h["id"]
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    console = judge_console(make_context, hid)
    panel = console.locator("#health-slot")

    inv = judge.invite(hid, name="Сидоров С.С.")
    pid = inv["participant"]["id"]
    phone_ctx = make_context(phone=True)
    phone_ctx.add_init_script(KEEP_PEERS)
    phone = join_lobby(phone_ctx.new_page(), inv["link"])
    admit(judge, hid, inv, phone)
    expect(panel).to_have_attribute("data-state", "ok")
    # the witness's audio reaches the server before it is cut
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = judge.get(f"/api/hearings/{hid}/health")
        if any(s["source_id"] == f"p{pid}" and s["packets_per_s"] > 0 for s in health["sources"]):
            break
        time.sleep(0.5)
    assert phone.evaluate(CUT) == 1

    lost = panel.locator("li.error", has_text="Аудио от Сидоров С.С.")
    expect(lost).to_be_visible(timeout=30_000)
    expect(lost).to_contain_text(re.compile(r"не поступает уже \d+ с"))
    expect(panel).to_have_attribute("data-state", "degraded")
    gaps = judge.get(f"/api/hearings/{hid}/transcript")["gaps"]
    assert any(g["source_id"] == f"p{pid}" and g["reason"] == "lost" and g["end_ms"] is None
               for g in gaps), gaps
    shot(console, artifacts, "judge-health-lost-desktop")
    time.sleep(3)
    phone.evaluate(RESTORE)

    # back: the console lists the gap with its length, and shows it in the transcript
    row = console.locator("#transcript .seg.gap", has_text="Аудио от Сидоров С.С.")
    expect(row).to_contain_text(re.compile(r"потеряно \d+ с"), timeout=30_000)
    expect(panel.locator(".health-gaps")).to_contain_text(
        re.compile(r"Аудио от Сидоров С\.С\..* потеряно \d+ с"))
    closed = next(g for g in judge.get(f"/api/hearings/{hid}/transcript")["gaps"]
                  if g["source_id"] == f"p{pid}" and g["reason"] == "lost")
    assert closed["end_ms"] - closed["start_ms"] >= 2500
    expect(row.locator(".at")).to_have_text(re.compile(r"^0:0\d:\d\d$"))

    # after the close the recording keeps it, and the protocol prints it at its time
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "closed"})
    secretary = StaffApi(make_context(), "secretary")
    rec = next(r for r in secretary.get(f"/api/hearings/{hid}/recordings")["recordings"]
               if r["source_id"] == f"p{pid}")
    assert any(e - s >= 2500 for s, e in rec["gaps"]), rec["gaps"]
    text = secretary.ctx.request.get(f"/api/hearings/{hid}/export/txt").text()
    assert re.search(r"\[00:0\d:\d\d\] \[аудио от Сидоров С\.С\. потеряно \d+ с\]", text), text
    assert not console.context.js_errors


def test_stalled_server_and_dropped_console_are_shown(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    hid = judge.hearing()["id"]
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    console = judge_console(make_context, hid)
    panel = console.locator("#health-slot")
    expect(panel).to_have_attribute("data-state", "ok")
    expect(panel).to_contain_text("Связь и запись в порядке.")

    # the console's media runs the hearing here (its health is watched) before the stall
    deadline = time.monotonic() + 60
    while not judge.get(f"/api/hearings/{hid}/health")["here"]:
        assert time.monotonic() < deadline, "the hearing's media never started on the server"
        time.sleep(0.5)
    # the server's event loop is blocked for four seconds (a flood it cannot keep up with)
    server.loop.call_soon_threadsafe(time.sleep, 4.0)
    notice = panel.locator("li.warn", has_text="Сервер перегружен")
    expect(notice).to_be_visible(timeout=30_000)
    expect(notice).to_contain_text(re.compile(r"задержка \d+ с"))
    shot(console, artifacts, "judge-health-stalled-desktop")

    # the console's own link: lost, then back, each said in the panel
    console.context.set_offline(True)
    expect(panel.locator("li.error", has_text="Пульт потерял связь с сервером")).to_be_visible()
    console.context.set_offline(False)
    expect(panel.locator("li.ok", has_text="Связь пульта с сервером восстановлена")).to_be_visible()
    # the notices go once their causes are gone
    expect(panel).to_have_attribute("data-state", "ok", timeout=40_000)
    assert not console.context.js_errors


def test_judge_is_told_when_their_own_media_drops(server, make_context, artifacts):
    """The server stops answering the judge's peer connection (as when ICE consent expires):
    the console says the judge's own camera and microphone are cut, and that they are back
    once its connection is made again."""
    from hearing.api.context import STATE
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    hid = h["id"]
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    console = judge_console(make_context, hid)
    panel = console.locator("#health-slot")
    console.locator("#media-join").click()
    expect(console.locator('#tiles .tile[data-source="self"]')).to_be_visible()
    me = next(p for p in judge.get(f"/api/hearings/{hid}")["participants"]
              if p["role"] == "judge")
    room = server.app[STATE].live.get(hid).room
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the judge's media reaches the room
        peer = room.participants.get(f"p{me['id']}")
        if peer is not None and peer.source.audio_packets > 0:
            break
        time.sleep(0.5)
    server.call(room.participant_dropped(f"p{me['id']}"))
    cut = panel.locator("li.error", has_text="Ваши камера и микрофон: связь прервана")
    expect(cut).to_be_visible(timeout=45_000)
    shot(console, artifacts, "judge-health-own-media-desktop")
    back = panel.locator("li.ok", has_text="Ваши камера и микрофон снова на связи")
    expect(back).to_be_visible(timeout=60_000)
    assert not console.context.js_errors
