"""The judge's console as a judge uses it: evidence shows the progress of its preview and the
decision waits for it (or for the judge's confirmation to decide unseen); someone arriving in
the lobby chimes and gets a notice with Admit and Later; level meters carry their values; the
transcript log scrolls by keyboard; every control is at least 44 px high; and switching the
language re-renders what is already on the screen."""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, add_final, join_lobby, shot
from support.media_samples import make_media

pytestmark = pytest.mark.slow

#: Records every text the evidence list's progress lines show, and every tone started.
WATCH = """
window.__progress = [];
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...a) { window.__tones += 1; return start.apply(this, a); };
new MutationObserver(() => {
  for (const el of document.querySelectorAll('#evidence .ev-progress-text')) {
    if (window.__progress.at(-1) !== el.textContent) window.__progress.push(el.textContent);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def open_hearing_with_witness(ctx, name="Сидоров С.С."):
    judge = StaffApi(ctx, "judge")
    hid = judge.hearing()["id"]
    inv = judge.invite(hid, "witness", name)
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    return judge, hid, inv


def join_and_admit(ctx, judge, hid, inv):
    assert ctx.request.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"}).ok
    judge.post(f"/api/hearings/{hid}/participants/{inv['participant']['id']}/admit")


def upload(ctx, hid, token, name, data, content_type):
    auth = {"Authorization": f"Bearer {token}"}
    r = ctx.request.post(f"/api/hearings/{hid}/evidence/uploads", headers=auth,
                         data={"filename": name, "size": len(data), "content_type": content_type})
    assert r.ok, r.text()
    url = f"/api/hearings/{hid}/evidence/uploads/{r.json()['id']}"
    r = ctx.request.patch(url, data=data, headers={
        **auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.ok, r.text()
    r = ctx.request.post(f"{url}/complete", headers=auth)
    assert r.ok, r.text()
    return r.json()


class BusyConverter:
    """The server's converter held busy (as by another hearing's long copy) until released:
    what arrives meanwhile waits its turn."""

    def __init__(self, server) -> None:
        from hearing.api.context import STATE
        self.release = threading.Event()
        server.app[STATE].evidence.transcoder._pool.submit(self.release.wait, 120)

    def __enter__(self) -> "BusyConverter":
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()


def until(page, condition: str, timeout_s: float = 30.0) -> None:
    """Wait for a page condition (the pages' CSP forbids wait_for_function's eval)."""
    for _ in range(int(timeout_s * 10)):
        if page.evaluate(f"() => Boolean({condition})"):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {condition}")


def console(ctx, hid):
    page = ctx.new_page()
    page.add_init_script(WATCH)
    page.goto(f"/judge/{hid}")
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    return page


def test_evidence_preview_progress_gates_the_decision(server, make_context, artifacts,
                                                      tmp_path):
    ctx = make_context()
    judge, hid, inv = open_hearing_with_witness(ctx)
    join_and_admit(ctx, judge, hid, inv)
    page = console(ctx, hid)
    video = make_media(tmp_path / "v.mp4", "mp4-h264", seconds=40, width=320, height=240,
                       fps=30).read_bytes()

    with BusyConverter(server) as busy:
        upload(ctx, hid, inv["token"], "видео с места.mp4", video, "video/mp4")
        row = page.locator("#evidence li", has_text="видео с места.mp4")
        expect(row.get_by_role("progressbar", name="Подготовка предпросмотра")).to_be_visible()
        expect(row.locator(".ev-progress-text")).to_have_text("Предпросмотр: в очереди на подготовку…")
        accept = row.get_by_role("button", name="Принять")
        expect(accept).to_be_disabled()
        expect(row.get_by_role("button", name="Отклонить")).to_be_disabled()
        expect(row).to_contain_text("Кнопки решения станут доступны, когда будет готов предпросмотр.")
        shot(page, artifacts, "judge-evidence-preview-waiting-desktop")
        busy.release.set()
        # The server reports how far the converter is; the console shows it as it goes.
        preview = row.get_by_label("Предпросмотр: видео с места.mp4")
        expect(preview).to_be_visible(timeout=90_000)
    expect(accept).to_be_enabled()
    shown = page.evaluate("window.__progress")
    assert any(re.fullmatch(r"Готовится предпросмотр: [1-9]\d?%", s) for s in shown), shown
    # The preview is the judge's to watch: it plays, the full forty seconds.
    duration = preview.evaluate("v => v.readyState >= 1 ? v.duration : new Promise((ok) => "
                                "v.addEventListener('loadedmetadata', () => ok(v.duration)))")
    assert 38 < duration < 42
    row.get_by_label("Основание").fill("Относится к делу")
    accept.click()
    expect(row).to_contain_text("принято — Относится к делу")
    # Accepted, it gets its full playback copy, which replaces the preview.
    expect(row.locator("video")).to_have_attribute("src", re.compile(r"/playback$"),
                                                   timeout=90_000)
    item = next(e for e in judge.get(f"/api/hearings/{hid}/evidence")["evidence"]
                if e["filename"] == "видео с места.mp4")
    assert item["preview_state"] == "done" and item["preview_until_s"] is None
    custody = judge.get(f"/api/hearings/{hid}/evidence/{item['id']}/custody")["events"]
    actions = [e["action"] for e in custody]
    assert actions.index("evidence.preview_made") < actions.index("evidence.decision")

    # Without a preview (the converter is busy) the judge may still decide, after saying so.
    other = make_media(tmp_path / "w.mp4", "mp4-h264", seconds=2).read_bytes()
    with BusyConverter(server):
        upload(ctx, hid, inv["token"], "звонок.mp4", other, "video/mp4")
        row = page.locator("#evidence li", has_text="звонок.mp4")
        reject = row.get_by_role("button", name="Отклонить")
        expect(reject).to_be_disabled()
        asked = []

        def answer(dialog, accept_it):
            asked.append(dialog.message)
            dialog.accept() if accept_it else dialog.dismiss()
        page.once("dialog", lambda d: answer(d, False))
        row.get_by_role("button", name="Решить без просмотра").click()
        expect(reject).to_be_disabled()
        page.once("dialog", lambda d: answer(d, True))
        row.get_by_role("button", name="Решить без просмотра").click()
        expect(reject).to_be_enabled()
        assert len(asked) == 2 and "«звонок.mp4»" in asked[0] and "без просмотра" in asked[0]
        row.get_by_label("Основание").fill("Не относится к делу")
        reject.click()
        expect(row).to_contain_text("отклонено — Не относится к делу")
    assert not ctx.js_errors


def test_lobby_arrival_chimes_and_the_notice_admits(server, make_context, artifacts):
    ctx = make_context()
    judge, hid, inv = open_hearing_with_witness(ctx)
    page = console(ctx, hid)
    phone = join_lobby(make_context(phone=True).new_page(), inv["link"])

    notices = page.locator("#lobby-notices")
    expect(notices).to_have_attribute("aria-live", "polite")
    notice = notices.get_by_role("group", name="Сидоров С.С. (Свидетель) ожидает в зале ожидания")
    expect(notice).to_be_visible()
    until(page, "window.__tones >= 2")  # the chime: two tones
    shot(page, artifacts, "judge-lobby-notice-desktop")
    # Admitted from the notice, by keyboard.
    notice.get_by_role("button", name="Допустить").focus()
    page.keyboard.press("Enter")
    expect(phone.locator("#phase-hearing")).to_be_visible()
    expect(notice).to_have_count(0)
    expect(page.locator("#people li", has_text="Сидоров С.С.")).to_be_visible()

    # "Later": the notice goes, the person stays in the lobby list, keyboard focus on their row.
    other = judge.invite(hid, "observer", "Посторонний Н.Н.")
    tones = page.evaluate("window.__tones")
    assert ctx.request.post("/api/join", headers={"Authorization": f"Bearer {other['token']}"}).ok
    later = notices.get_by_role("group", name=re.compile("^Посторонний Н.Н. "))
    expect(later).to_be_visible()
    until(page, f"window.__tones >= {tones + 2}")
    later.get_by_role("button", name="Позже").click()
    expect(later).to_have_count(0)
    waiting = page.locator("#lobby li", has_text="Посторонний Н.Н.")
    expect(waiting).to_be_visible()
    expect(waiting.get_by_role("button", name="Допустить")).to_be_focused()
    assert not ctx.js_errors


def test_console_meters_log_sizes_and_language(server, make_context, artifacts, tmp_path):
    from hearing.api.context import STATE
    ctx = make_context()
    judge, hid, inv = open_hearing_with_witness(ctx)
    join_and_admit(ctx, judge, hid, inv)
    pid = inv["participant"]["id"]
    sound = make_media(tmp_path / "a.ogg", "ogg-opus", seconds=1.0).read_bytes()
    upload(ctx, hid, inv["token"], "запись.ogg", sound, "audio/ogg")
    waiting = judge.invite(hid, "observer", "Посторонний Н.Н.")
    assert ctx.request.post("/api/join", headers={"Authorization": f"Bearer {waiting['token']}"}).ok
    page = console(ctx, hid)
    hub = server.app[STATE].hub

    def publish(message):
        server.loop.call_soon_threadsafe(lambda: hub.publish(hid, message, staff_only=True))

    # Meters say their value from the start, and follow the level.
    witness = page.locator("#people li", has_text="Сидоров С.С.")
    meter = witness.get_by_role("meter", name="Сидоров С.С.: уровень звука")
    for attr, value in (("aria-valuemin", "-60"), ("aria-valuemax", "0"), ("aria-valuenow", "-60")):
        expect(meter).to_have_attribute(attr, value)
    publish({"type": "meter", "levels": [
        {"source_id": f"p{pid}", "label": "Сидоров С.С.", "peak_db": -8.0, "rms_db": -18.0},
        {"source_id": "seat-witness", "label": "Трибуна свидетеля", "peak_db": -9.0, "rms_db": -21.0}]})
    expect(meter).to_have_attribute("aria-valuenow", "-18")
    seat = page.locator("#seats li", has_text="Трибуна свидетеля").get_by_role("meter")
    expect(seat).to_have_attribute("aria-valuenow", "-21")

    # The transcript log: named, reached by Tab, scrolled with the keyboard. The finals are
    # stored as the transcriber stores them, so a console that reconnects meanwhile reloads them.
    speaker = {"label": "Сидоров С.С.", "role": "witness", "participant_id": pid, "seat": None}
    for i in range(40):
        seg = add_final(server, hid, f"p{pid}", f"Фраза номер {i}.", 1000 * i, step_ms=300)
        publish({"type": "final", "source_id": f"p{pid}", "speaker": speaker,
                 "segment_id": seg.segment_id, "start_ms": seg.start_ms, "end_ms": seg.end_ms,
                 "text": seg.text, "words": [], "language": "ru", "model": "base"})
    log = page.get_by_role("log", name="Стенограмма в реальном времени")
    expect(log.locator(".seg.final")).to_have_count(40)
    # a console that loses its link and comes back reloads the stored finals: none is lost
    ctx.set_offline(True)
    expect(page.locator("body")).to_have_attribute("data-conn", "reconnecting")
    ctx.set_offline(False)
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    expect(log.locator(".seg.final")).to_have_count(40)
    expect(log.locator(".seg.final").last).to_contain_text("Фраза номер 39.")
    assert log.evaluate("e => e.scrollHeight > e.clientHeight + 100")
    log.focus()
    expect(log).to_be_focused()
    page.keyboard.press("Home")
    until(page, "document.querySelector('#transcript').scrollTop === 0")
    page.keyboard.press("PageDown")
    until(page, "document.querySelector('#transcript').scrollTop > 0")

    # Every control a judge presses is at least 44 CSS px high (and as wide).
    expect(page.locator("#evidence li", has_text="запись.ogg").get_by_role("button", name="Принять")).to_be_enabled(timeout=60_000)
    expect(page.locator("#lobby-notices .lobby-notice")).to_have_count(1)
    small = page.evaluate("""() => [...document.querySelectorAll(
        'button, a[href], select, input, summary, audio, video[controls]')]
      .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
      .map((e) => { const r = e.getBoundingClientRect();
                    return { what: e.outerHTML.slice(0, 80), w: r.width, h: r.height }; })
      .filter((b) => b.h < 44 || b.w < 44)""")
    assert small == [], small
    shot(page, artifacts, "judge-console-a11y-desktop")

    # Another language re-renders what is on the screen: roles, statuses, the notice, the log.
    page.get_by_label("Язык", exact=True).select_option("kk")
    expect(witness).to_contain_text("Куә")
    # admitted, but joined by REST alone: no live connection, so "not connected", in Kazakh
    expect(witness).to_contain_text("Байланыста емес")
    expect(page.locator("#evidence li", has_text="запись.ogg")).to_contain_text("қаралуда")
    expect(page.locator("#evidence li", has_text="запись.ogg").get_by_role("button", name="Қабылдау")).to_be_visible()
    expect(page.get_by_role("group", name="Посторонний Н.Н. (Бақылаушы) күту залында күтіп тұр")).to_be_visible()
    expect(witness.get_by_role("meter")).to_have_accessible_name("Сидоров С.С.: дыбыс деңгейі")
    expect(page.locator("#people")).not_to_contain_text("Свидетель")
    page.get_by_label("Тіл", exact=True).select_option("en")
    expect(witness).to_contain_text("Witness")
    expect(page.locator("#evidence li", has_text="запись.ogg")).to_contain_text("pending")
    expect(page.get_by_role("group", name="Посторонний Н.Н. (Observer) is waiting in the lobby")).to_be_visible()
    assert not ctx.js_errors


def test_staff_list_controls_and_language(server, make_context):
    ctx = make_context()
    judge = StaffApi(ctx, "judge")
    h = judge.hearing()
    judge.invite(h["id"], "witness", "Сидоров С.С.")
    page = ctx.new_page()
    page.goto("/")
    row = page.locator(f'#hearing-table tbody tr[data-hearing="{h["id"]}"]')
    row.get_by_role("button", name="Участники").click()
    detail = page.locator("#detail-people li", has_text="Сидоров С.С.")
    expect(detail).to_contain_text("Свидетель · Приглашён")
    small = page.evaluate("""() => [...document.querySelectorAll(
        'button, a[href], select, input, summary')]
      .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
      .map((e) => { const r = e.getBoundingClientRect();
                    return { what: e.outerHTML.slice(0, 80), w: r.width, h: r.height }; })
      .filter((b) => b.h < 44 || b.w < 44)""")
    assert small == [], small
    page.get_by_label("Язык", exact=True).select_option("kk")
    expect(row).to_contain_text("Тағайындалды")
    expect(page.locator("#who")).to_contain_text("Судья")
    expect(detail).to_contain_text("Куә · Шақырылды")
    assert not ctx.js_errors
