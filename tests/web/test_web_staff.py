"""Staff pages: sign in, schedule a hearing, invite a participant (link + QR), run the hearing
from the judge's console (open, lobby admit, mute, raised hand, recess, close), and the
interface language switch that is remembered."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, StaffApi, shot

pytestmark = pytest.mark.slow


def sign_in_page(page, username):
    page.goto("/")
    page.get_by_label(re.compile("Имя пользователя|User name")).fill(username)
    page.get_by_label(re.compile("Пароль|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(Войти|Sign in)$")).click()


def test_sign_in_schedule_invite_and_run_the_console(server, make_context, artifacts):
    ctx = make_context()
    page = ctx.new_page()
    page.goto("/")
    sign_in_page(page, "judge")
    expect(page.locator("#hearings")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("Судья Ахметова")
    page.get_by_text("Назначить заседание").click()
    page.get_by_label("Дело").fill("2-777/2026")
    page.get_by_label("Наименование").fill("Нурланов Е. к АО «Достык»")
    page.get_by_label("Вид дела").select_option("civil")
    page.get_by_label("Секретарь").select_option(label="Секретарь Ким Е.В.")
    page.get_by_label("Время").fill("2026-12-01T10:30")
    page.get_by_role("button", name="Назначить", exact=True).click()
    row = page.locator("#hearing-table tbody tr", has_text="2-777/2026")
    expect(row).to_be_visible()
    # Times are shown in the court's zone (Asia/Almaty), whatever the browser's zone.
    expect(row).to_contain_text("01.12.2026, 10:30")
    page.get_by_label("ФИО").fill("Сидоров С.С.")
    page.get_by_label("Процессуальный статус").select_option("witness")
    page.get_by_role("button", name="Добавить и создать приглашение").click()
    invite = page.get_by_test_id("invite")
    expect(invite).to_contain_text("Сидоров С.С.")
    expect(invite.get_by_role("img", name=re.compile("QR"))).to_be_visible()
    link = invite.locator("a.invite-link").inner_text()
    assert re.match(rf"^{re.escape(server.base)}/join#\S+$", link)
    shot(page, artifacts, "staff-home-desktop")
    page.set_viewport_size({"width": 360, "height": 740})
    shot(page, artifacts, "staff-home-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    hid = int(row.get_attribute("data-hearing"))

    # The witness opens the invite on a phone and waits in the lobby.
    phone = make_context(phone=True).new_page()
    phone.goto(link)
    phone.get_by_role("button", name="Продолжить").click()
    expect(phone.locator("#phase-lobby")).to_be_visible()

    page.goto(f"/judge/{hid}")
    expect(page.locator("#state-badge")).to_have_text("Назначено")
    page.get_by_role("button", name="Открыть заседание").click()
    expect(page.locator("#state-badge")).to_have_text("Идёт заседание")
    expect(page.locator("#clock")).to_have_text(re.compile(r"^0:00:0\d$"))
    expect(phone.locator("#lobby-state")).to_have_text("Идёт заседание")
    lobby = page.locator("#lobby li", has_text="Сидоров С.С.")
    expect(lobby).to_be_visible()
    expect(page.locator("#lobby-count")).to_have_text("1")
    shot(page, artifacts, "judge-lobby-desktop")
    lobby.get_by_role("button", name="Допустить").click()
    expect(phone.locator("#phase-hearing")).to_be_visible()
    person = page.locator("#people li", has_text="Сидоров С.С.")
    expect(person).to_contain_text("В заседании")

    phone.get_by_role("button", name="Поднять руку").click()
    expect(person.get_by_role("img", name="Поднял(а) руку")).to_be_visible()
    person.get_by_role("button", name="Выкл. звук").click()
    expect(phone.locator("#muted-notice")).to_be_visible()
    expect(person.get_by_role("button", name="Вкл. звук")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Перерыв").click()
    expect(phone.locator("#hearing-state")).to_have_text("Перерыв")
    shot(page, artifacts, "judge-console-desktop")
    page.set_viewport_size({"width": 360, "height": 740})
    shot(page, artifacts, "judge-console-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("button", name="Продолжить").click()
    expect(page.locator("#state-badge")).to_have_text("Идёт заседание")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Закрыть заседание").click()
    expect(page.locator("#state-badge")).to_have_text("Закрыто")
    expect(phone.locator("#phase-ended")).to_be_visible()
    expect(phone.locator("#ended-title")).to_have_text("Заседание закрыто")
    assert not ctx.js_errors and not phone.context.js_errors


def test_language_switch_is_remembered(server, make_context, artifacts):
    ctx = make_context(lang="ru")
    page = ctx.new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Вход для сотрудников суда")).to_be_visible()
    page.get_by_label("Язык", exact=True).select_option("kk")
    expect(page.get_by_role("heading", name="Сот қызметкерлерінің кіруі")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "kk"
    page.reload()
    expect(page.get_by_role("heading", name="Сот қызметкерлерінің кіруі")).to_be_visible()
    shot(page, artifacts, "staff-signin-kk-desktop")
    page.set_viewport_size({"width": 360, "height": 740})
    shot(page, artifacts, "staff-signin-kk-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_label("Тіл", exact=True).select_option("en")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # Wrong password: a clear message, in the chosen language.
    page.get_by_label("User name").fill("judge")
    page.get_by_label("Password").fill("nope")
    page.get_by_label("Password").press("Enter")  # the keyboard is enough
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")


def wav_bytes(seconds=1.0, rate=16000) -> bytes:
    import io
    import math
    import struct
    import wave
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                               for i in range(int(seconds * rate))))
    return buf.getvalue()


def upload_as_participant(ctx, hid, token, name, data):
    auth = {"Authorization": f"Bearer {token}"}
    r = ctx.request.post(f"/api/hearings/{hid}/evidence/uploads", headers=auth,
                         data={"filename": name, "size": len(data), "content_type": "audio/wav"})
    assert r.ok, r.text()
    uid = r.json()["id"]
    r = ctx.request.patch(f"/api/hearings/{hid}/evidence/uploads/{uid}", data=data,
                          headers={**auth, "Upload-Offset": "0",
                                   "Content-Type": "application/offset+octet-stream"})
    assert r.ok, r.text()
    r = ctx.request.post(f"/api/hearings/{hid}/evidence/uploads/{uid}/complete", headers=auth)
    assert r.ok, r.text()
    return r.json()


def test_console_levels_seats_and_evidence_decisions(server, make_context, artifacts):
    from hearing.api.context import STATE
    ctx = make_context()
    judge = StaffApi(ctx, "judge")
    h = judge.hearing()
    hid = h["id"]
    inv = judge.invite(hid, "witness", "Сидоров С.С.")
    pid = inv["participant"]["id"]
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    r = ctx.request.post("/api/join", headers={"Authorization": f"Bearer {inv['token']}"})
    assert r.ok
    judge.post(f"/api/hearings/{hid}/participants/{pid}/admit")
    upload_as_participant(ctx, hid, inv["token"], "запись разговора.wav", wav_bytes())
    upload_as_participant(ctx, hid, inv["token"], "второй файл.wav", wav_bytes(0.5))

    page = ctx.new_page()
    page.goto(f"/judge/{hid}")
    witness = page.locator("#people li", has_text="Сидоров С.С.")
    expect(witness).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    hub = server.app[STATE].hub

    def publish(message):
        server.loop.call_soon_threadsafe(lambda: hub.publish(hid, message, staff_only=True))

    publish({"type": "meter", "levels": [
        {"source_id": f"p{pid}", "label": "Сидоров С.С.", "peak_db": -8.0, "rms_db": -18.0},
        {"source_id": "seat-witness", "label": "Трибуна свидетеля", "peak_db": -40.0, "rms_db": -70.0}]})
    expect(witness).to_have_class(re.compile(r"\bspeaking\b"))
    expect(witness.get_by_role("img", name="говорит")).to_be_visible()
    expect(witness.get_by_role("meter")).to_have_attribute("aria-valuenow", "-18")
    seat = page.locator("#seats li", has_text="Трибуна свидетеля")
    expect(seat).to_be_visible()
    expect(seat).not_to_have_class(re.compile(r"\bspeaking\b"))
    publish({"type": "meter", "levels": [
        {"source_id": f"p{pid}", "label": "Сидоров С.С.", "peak_db": -60.0, "rms_db": -80.0},
        {"source_id": "seat-witness", "label": "Трибуна свидетеля", "peak_db": -6.0, "rms_db": -15.0}]})
    expect(seat).to_have_class(re.compile(r"\bspeaking\b"))
    expect(witness).not_to_have_class(re.compile(r"\bspeaking\b"))
    publish({"type": "alert", "source_id": "seat-witness", "kind": "clipping",
             "message": "перегрузка входа"})
    expect(seat).to_contain_text("перегрузка входа")

    # Live transcript: the provisional tail is marked as such, then replaced by the final text.
    speaker = {"label": "Сидоров С.С.", "role": "witness", "participant_id": pid, "seat": None}
    # (partials name only their source; the console knows who that is)
    publish({"type": "partial", "source_id": f"p{pid}", "segment_id": None,
             "start_ms": 61_000, "end_ms": 62_000, "text": "я видел как", "words": [],
             "language": "ru", "model": "base"})
    partial = page.locator("#transcript .seg.partial")
    expect(partial).to_contain_text("я видел как")
    expect(partial.locator(".badge")).to_have_text("предварительно")
    expect(partial.locator(".speaker")).to_have_text("Сидоров С.С. (Свидетель)")
    assert partial.locator(".text").evaluate("e => getComputedStyle(e).fontStyle") == "italic"
    publish({"type": "final", "source_id": f"p{pid}", "speaker": speaker, "segment_id": "s-1",
             "start_ms": 61_000, "end_ms": 63_500, "text": "Я видел, как он ушёл.", "words": [],
             "language": "ru", "model": "base"})
    final = page.locator("#transcript .seg.final")
    expect(final).to_contain_text("Сидоров С.С. (Свидетель)0:01:01Я видел, как он ушёл.")
    expect(partial).to_have_count(0)
    assert final.locator(".text").evaluate("e => getComputedStyle(e).fontStyle") == "normal"

    items = page.locator("#evidence li")
    expect(items).to_have_count(2)
    first = items.filter(has_text="запись разговора.wav")
    expect(first).to_contain_text("Сидоров С.С.")
    expect(first).to_contain_text("на рассмотрении")
    first.get_by_role("button", name="Принять").click()
    expect(page.locator("#evidence li", has_text="запись разговора.wav")).to_contain_text("принято")
    second = page.locator("#evidence li", has_text="второй файл.wav")
    second.get_by_label("Основание").fill("Не относится к делу")
    second.get_by_role("button", name="Отклонить").click()
    expect(page.locator("#evidence li", has_text="второй файл.wav")).to_contain_text(
        "отклонено — Не относится к делу")
    shot(page, artifacts, "judge-evidence-desktop")

    # Someone the court does not want is turned away from the lobby.
    stranger = judge.invite(hid, "observer", "Посторонний Н.Н.")
    assert ctx.request.post("/api/join", headers={"Authorization": f"Bearer {stranger['token']}"}).ok
    waiting = page.locator("#lobby li", has_text="Посторонний Н.Н.")
    page.once("dialog", lambda d: d.accept())
    waiting.get_by_role("button", name="Отказать").click()
    expect(waiting).to_have_count(0)
    expect(page.locator("#lobby-count")).to_have_text("0")
    gone = next(p for p in judge.get(f"/api/hearings/{hid}")["participants"]
                if p["id"] == stranger["participant"]["id"])
    assert gone["presence"] == "ejected"
    # ...and the witness is removed from the hearing from the console.
    page.once("dialog", lambda d: d.accept())
    witness.get_by_role("button", name="Удалить").click()
    expect(page.locator("#people li", has_text="Сидоров С.С.")).to_have_count(0)
    decided = {e["filename"]: (e["status"], e["reason"])
               for e in judge.get(f"/api/hearings/{hid}/evidence")["evidence"]}
    assert decided == {"запись разговора.wav": ("accepted", "Приобщено к делу"),
                       "второй файл.wav": ("rejected", "Не относится к делу")}
    assert not ctx.js_errors
