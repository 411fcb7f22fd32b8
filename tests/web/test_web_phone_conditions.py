"""The phone page under real conditions: with several others in the hearing the captions keep
at least three lines on a 360×740 screen; an audio-only view that attaches no video and that a
reload keeps; a "connection restored" notice that stays long enough to read; a choice of
microphone, camera and speaker with a speaker test; a language switch that redoes what is
already shown; an invalid invite explained in Kazakh alone; no device check for a closed
hearing. The others are real WebRTC peers (aiortc, pre-encoded video) in the server's loop."""

from __future__ import annotations

import io
import re
import wave

import aiohttp
import numpy as np
import pytest
from playwright.sync_api import expect

from axe import assert_accessible
from conftest import StaffApi, admitted_phone, shot
from support.testpeer import HearingPeer, PacketVideoTrack, SignalTrack, encode_vp8_loop

pytestmark = pytest.mark.slow


class Others:
    """Participants made of aiortc that join a hearing's media over its WebSocket, each
    sending silence and a small moving picture."""

    def __init__(self, server, judge: StaffApi, hearing_id: int) -> None:
        self.server, self.judge, self.hid = server, judge, hearing_id
        self.peers: list[HearingPeer] = []
        self.session: aiohttp.ClientSession | None = None

    def add(self, name: str, role: str = "witness") -> dict:
        inv = self.judge.invite(self.hid, role=role, name=name)
        self.server.call(self._join_lobby(inv["token"]))
        self.judge.post(f"/api/hearings/{self.hid}/participants/{inv['participant']['id']}/admit")
        self.server.call(self._join_media(inv["token"], name), timeout=60)
        return inv

    async def _join_lobby(self, token: str) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        async with self.session.post(f"{self.server.base}/api/join",
                                     headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200, await r.text()

    async def _join_media(self, token: str, name: str) -> None:
        packets = encode_vp8_loop(width=320, height=240, fps=10, seconds=1.0)
        peer = HearingPeer(self.session, self.server.base, self.hid, token, name,
                           audio=SignalTrack(), video=PacketVideoTrack(packets, fps=10))
        self.peers.append(peer)
        await peer.connect()
        await peer.peer.join()

    def close(self) -> None:
        async def work():
            for p in self.peers:
                await p.close()
            if self.session is not None:
                await self.session.close()
        self.server.call(work())


@pytest.fixture
def others(server):
    made: list[Others] = []

    def factory(judge, hearing_id):
        o = Others(server, judge, hearing_id)
        made.append(o)
        return o
    yield factory
    for o in made:
        o.close()


def open_hearing(make_context) -> tuple[StaffApi, dict]:
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "open"})
    return judge, h


#: How much of the captions box a user sees with the page at its top: the box cut by the
#: screen's bottom and by the sticky controls, in caption text lines.
CAPTION_ROOM = """() => {
  window.scrollTo(0, 0);
  const cap = document.querySelector("#captions").getBoundingClientRect();
  const controls = document.querySelector(".controls").getBoundingClientRect();
  const line = parseFloat(getComputedStyle(document.querySelector("#captions")).lineHeight);
  const bottom = Math.min(cap.bottom, controls.top, window.innerHeight);
  return { lines: (bottom - Math.max(cap.top, 0)) / line,
           pageWidth: document.documentElement.scrollWidth, screenWidth: window.innerWidth };
}"""

#: Per tile: whether its video element is shown, and the tracks attached to it.
TILE_MEDIA = """() => [...document.querySelectorAll("#tiles .tile")].map((el) => {
  const v = el.querySelector("video");
  const s = v.srcObject;
  return { source: el.dataset.source, shown: v.getClientRects().length > 0,
           video: s ? s.getVideoTracks().length : 0, audio: s ? s.getAudioTracks().length : 0 };
})"""


def test_captions_keep_three_lines_with_many_tiles_and_the_audio_only_view(
        server, make_context, others, artifacts):
    judge, h = open_hearing(make_context)
    _, phone, inv = admitted_phone(make_context, judge, h["id"])
    crowd = others(judge, h["id"])
    for name in ("Петрова П.П.", "Ким А.А.", "Омаров Б.Б.", "Жанова Г.Г."):
        crowd.add(name)
    tiles = phone.locator("#tiles .tile")
    expect(tiles).to_have_count(5, timeout=45_000)
    phone.wait_for_function("""() => [...document.querySelectorAll('#tiles video')]
        .filter((v) => v.srcObject && v.srcObject.getVideoTracks().length && v.videoWidth > 0).length >= 4""",
                            timeout=45_000)
    room = phone.evaluate(CAPTION_ROOM)
    shot(phone, artifacts, "phone-five-tiles")
    assert room["lines"] >= 3, room
    assert room["pageWidth"] <= room["screenWidth"], room  # the tiles scroll in their strip
    assert_accessible(phone, "phone hearing with five tiles")

    # The audio-only view: names, no video attached, the voices still there.
    toggle = phone.get_by_role("button", name="Только звук")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    media = phone.evaluate(TILE_MEDIA)
    assert len(media) == 5 and not any(m["shown"] or m["video"] for m in media), media
    assert all(m["audio"] == 1 for m in media if m["source"] != f"p{inv['participant']['id']}"), media
    assert phone.evaluate(CAPTION_ROOM)["lines"] >= 3
    assert_accessible(phone, "phone hearing, audio only")
    shot(phone, artifacts, "phone-audio-only")

    # A reload keeps the choice: back in the hearing, still no video.
    phone.reload()
    phone.get_by_role("button", name="Продолжить").click()
    expect(phone.locator("#phase-hearing")).to_be_visible()
    expect(phone.get_by_role("button", name="Только звук")).to_have_attribute("aria-pressed", "true")
    expect(tiles).to_have_count(5, timeout=45_000)
    phone.wait_for_function("""() => [...document.querySelectorAll('#tiles video')]
        .filter((v) => v.srcObject && v.srcObject.getAudioTracks().length).length >= 4""", timeout=45_000)
    media = phone.evaluate(TILE_MEDIA)
    assert not any(m["shown"] or m["video"] for m in media), media

    # And video comes back when asked for.
    phone.get_by_role("button", name="Только звук").click()
    phone.wait_for_function("""() => [...document.querySelectorAll('#tiles video')]
        .filter((v) => v.srcObject && v.srcObject.getVideoTracks().length && v.getClientRects().length).length >= 4""",
                            timeout=30_000)
    assert not phone.context.js_errors


RESTORED_WATCH = """() => {
  const b = document.querySelector("#conn-banner");
  const seen = window.restoredNotice = {};
  new MutationObserver(() => {
    const up = !b.hidden && b.classList.contains("ok");
    if (up && seen.shown === undefined) seen.shown = performance.now();
    if (!up && seen.shown !== undefined && seen.gone === undefined) seen.gone = performance.now();
  }).observe(b, { attributes: true, childList: true, subtree: true, characterData: true });
}"""


def test_connection_restored_notice_stays_long_enough_to_read(server, make_context, others):
    judge, h = open_hearing(make_context)
    _, phone, _ = admitted_phone(make_context, judge, h["id"])
    others(judge, h["id"]).add("Петрова П.П.")
    expect(phone.locator("#tiles .tile")).to_have_count(2, timeout=45_000)
    phone.evaluate(RESTORED_WATCH)
    phone.context.set_offline(True)
    banner = phone.locator("#conn-banner")
    expect(banner).to_have_text("Связь потеряна. Переподключение…")
    phone.context.set_offline(False)
    expect(banner).to_have_text("Связь восстановлена.")
    expect(banner).to_be_hidden(timeout=30_000)
    seen = phone.evaluate("window.restoredNotice")
    # The media's reconnection comes after the socket's: it must not cut the notice short.
    assert seen["gone"] - seen["shown"] >= 3000, seen
    # Media really came back within that time or after it: the other's tile is fed again.
    expect(phone.locator("#tiles .tile")).to_have_count(2, timeout=45_000)


def test_device_choice_and_speaker_test(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    inv = judge.invite(h["id"])
    phone = make_context(phone=True).new_page()
    phone.goto(inv["link"])
    expect(phone.get_by_role("button", name="Продолжить")).to_be_enabled()
    choice = phone.get_by_text("Выбрать микрофон, камеру и динамик")
    choice.click()  # folded away: most people need no choice
    mics = phone.get_by_label("Микрофон", exact=True)
    cams = phone.get_by_label("Камера", exact=True)
    expect(mics).to_be_visible()
    expect(cams).to_be_visible()
    mic_names = mics.locator("option").all_inner_texts()
    cam_names = cams.locator("option").all_inner_texts()
    assert len(mic_names) >= 2 and all(re.search("fake", n, re.I) for n in mic_names), mic_names
    assert cam_names and all(re.search("fake", n, re.I) for n in cam_names), cam_names
    assert_accessible(phone, "device check with device choice")
    shot(phone, artifacts, "phone-device-check")
    # Another microphone: the stream is asked for again with it, and a reload keeps it.
    other = mics.locator("option").nth(len(mic_names) - 1).get_attribute("value")
    assert other != mics.input_value()
    mics.select_option(other)
    in_use = "() => document.querySelector('#preview').srcObject.getAudioTracks()[0].getSettings().deviceId"
    phone.wait_for_function("(id) => document.querySelector('#preview').srcObject"
                            ".getAudioTracks()[0].getSettings().deviceId === id", arg=other, timeout=30_000)
    phone.reload()
    expect(phone.get_by_role("button", name="Продолжить")).to_be_enabled()
    choice.click()
    expect(mics).to_have_value(other)
    assert phone.evaluate(in_use) == other
    # The speaker test plays a tone to its end and says what to do if it is not heard.
    phone.get_by_role("button", name="Проверить звук").click()
    expect(phone.locator("#speaker-hint")).to_contain_text("Если вы его не слышите")
    phone.wait_for_function("() => { const a = document.querySelector('#speaker-tone'); "
                            "return a && a.ended && a.currentTime > 0.5; }", timeout=30_000)
    speakers = phone.evaluate("""async () => 'setSinkId' in HTMLMediaElement.prototype
        && (await navigator.mediaDevices.enumerateDevices()).some((d) => d.kind === 'audiooutput')""")
    if speakers:  # Chromium's fake outputs: chosen, the choice kept
        outputs = phone.get_by_label("Динамик", exact=True)
        names = outputs.locator("option").all_inner_texts()
        assert len(names) >= 2 and all(re.search("fake", n, re.I) for n in names), names
        last = outputs.locator("option").nth(len(names) - 1).get_attribute("value")
        outputs.select_option(last)
        phone.reload()
        expect(phone.get_by_role("button", name="Продолжить")).to_be_enabled()
        choice.click()
        expect(outputs).to_have_value(last)
    else:
        expect(phone.locator("#speaker-field")).to_be_hidden()
    assert not phone.context.js_errors


def small_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(np.arange(16000) / 5) * 8000).astype(np.int16).tobytes())
    return buf.getvalue()


def test_language_switch_redoes_what_is_shown(server, make_context, others):
    judge, h = open_hearing(make_context)
    _, phone, inv = admitted_phone(make_context, judge, h["id"])
    others(judge, h["id"]).add("Петрова П.П.", role="plaintiff")
    me = phone.locator(f'#tiles .tile[data-source="p{inv["participant"]["id"]}"]')
    tiles = phone.locator("#tiles")
    expect(tiles).to_contain_text("Петрова П.П. · Истец", timeout=45_000)
    expect(me).to_contain_text("Вы · Свидетель")
    phone.get_by_role("button", name="Доказательства").click()
    phone.locator("#evidence-file").set_input_files(
        {"name": "звонок.wav", "mimeType": "audio/wav", "buffer": small_wav()})
    expect(phone.locator("#upload-status")).to_have_text("Суд получил файл.", timeout=30_000)
    item = judge.get(f"/api/hearings/{h['id']}/evidence")["evidence"][0]
    judge.post(f"/api/hearings/{h['id']}/evidence/{item['id']}/decision",
               {"decision": "reject", "reason": "Не относится к делу"})
    decision = phone.locator("#my-evidence .decision")
    expect(decision).to_have_text("отклонено — Не относится к делу")
    # The phone's microphone speaks: its words come back as captions under its name and role.
    speaker = phone.locator("#captions .seg .speaker").first
    expect(speaker).to_contain_text("(Свидетель)", timeout=90_000)

    phone.locator("#lang").select_option("kk")
    expect(tiles).to_contain_text("Петрова П.П. · Талапкер")
    expect(me).to_contain_text("Сіз · Куә")
    expect(phone.locator("#upload-status")).to_have_text("Сот файлды алды.")
    expect(decision).to_have_text("қабылданбады — Не относится к делу")
    expect(phone.locator("#hearing-state")).to_have_text(re.compile(r"\S"))
    assert "Вы" not in tiles.inner_text()
    expect(speaker).to_contain_text("(Куә)")
    assert "Свидетель" not in phone.locator("#captions").inner_text()
    assert not phone.context.js_errors


def test_invalid_invite_in_kazakh_has_no_english(server, make_context):
    page = make_context(phone=True, lang="kk").new_page()
    page.goto("/join#not-a-real-token")
    expect(page.locator("#phase-error")).to_be_visible()
    text = page.locator("#phase-error").inner_text()
    assert "Шақыру" in text and not re.search("[A-Za-z]", text), text
    assert_accessible(page, "invalid invite, Kazakh")
    # Switched to Russian, the explanation follows.
    page.locator("#lang").select_option("ru")
    expect(page.locator("#error-text")).to_contain_text("Приглашение")


def test_closed_hearing_offers_no_device_check(server, make_context):
    judge, h = open_hearing(make_context)
    inv = judge.invite(h["id"])
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "closed"})
    phone = make_context(phone=True).new_page()
    phone.goto(inv["link"])
    expect(phone.locator("#phase-ended")).to_be_visible()
    expect(phone.locator("#ended-title")).to_have_text("Заседание закрыто")
    for name in ("Включить камеру", "Выключить камеру", "Продолжить", "Вернуться в заседание"):
        expect(phone.get_by_role("button", name=name)).to_have_count(0)
