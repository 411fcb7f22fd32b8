"""The whole story in one test, in a real browser: a judge schedules a hearing and invites a
witness; the witness opens the invite on a phone whose microphone plays a Russian speech clip;
the judge admits; the witness's words appear on the judge's console (live Whisper); the
secretary corrects a word and fixes a speaker; secretary and judge sign; the exported PDF
holds the corrected text."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, shot

pytestmark = pytest.mark.slow

PASSPHRASE = "long enough passphrase 1"


def ui_sign_in(page, username):
    page.goto("/")
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти", exact=True).click()
    expect(page.locator("#hearings")).to_be_visible()


def ui_invite(page, role, name):
    page.get_by_label("ФИО").fill(name)
    page.get_by_label("Процессуальный статус").select_option(role)
    page.get_by_role("button", name="Добавить и создать приглашение").click()
    invite = page.get_by_test_id("invite")
    expect(invite).to_contain_text(name)
    return invite.locator("a.invite-link").inner_text()


def ui_sign(page, number):
    panel = page.locator("#sign-slot")
    panel.get_by_label("Новая парольная фраза").fill(PASSPHRASE)
    panel.get_by_role("button", name="Создать ключ").click()
    expect(panel.get_by_test_id("key-info")).to_contain_text("Ваш ключ:")
    panel.get_by_role("button", name=f"Подписать версию {number}").click()


def test_hearing_from_invitation_to_signed_pdf(server, make_context, artifacts, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext) is needed to read the PDF back")
    judge_ctx = make_context()
    judge = judge_ctx.new_page()
    ui_sign_in(judge, "judge")
    judge.get_by_text("Назначить заседание").click()
    judge.get_by_label("Дело").fill("2-4242/2026")
    judge.get_by_label("Наименование").fill("Ахметов Б. к ИП «Сауле»")
    judge.get_by_label("Язык производства").select_option("ru")
    judge.get_by_label("Секретарь").select_option(label="Секретарь Ким Е.В.")
    judge.get_by_role("button", name="Назначить", exact=True).click()
    link = ui_invite(judge, "witness", "Сидоров С.С.")
    ui_invite(judge, "plaintiff", "Ахметов Б.")
    judge.locator("#detail-links").get_by_role("link", name="Пульт судьи").click()
    expect(judge.locator("#state-badge")).to_have_text("Назначено")
    hid = int(judge.url.rsplit("/", 1)[1])
    judge.get_by_role("button", name="Открыть заседание").click()
    expect(judge.locator("#state-badge")).to_have_text("Идёт заседание")

    phone_ctx = make_context(phone=True)
    phone = phone_ctx.new_page()
    phone.goto(link)
    expect(phone.locator("#mic-level")).to_have_attribute("aria-valuenow", re.compile(r"^(-[1-4]?\d|0)$"))
    phone.get_by_role("button", name="Продолжить").click()
    expect(phone.locator("#phase-lobby")).to_be_visible()

    judge.locator("#lobby li", has_text="Сидоров С.С.").get_by_role("button", name="Допустить").click()
    expect(phone.locator("#phase-hearing")).to_be_visible()
    # The witness speaks; the judge sees the words, attributed, first provisional then final.
    final = judge.locator("#transcript .seg.final", has_text=re.compile("деньг", re.I)).first
    expect(final).to_be_visible(timeout=120_000)
    expect(final.locator(".speaker")).to_have_text("Сидоров С.С. (Свидетель)")
    witness_row = judge.locator("#people li", has_text="Сидоров С.С.")
    expect(witness_row).to_contain_text("В заседании")
    # The judge connects to the hearing's media: sees the witness and hears them speak.
    judge.get_by_role("button", name="Подключить камеру и микрофон").click()
    witness_tile = judge.locator(f'#tiles .tile[data-source="{witness_row.get_attribute("data-source")}"]')
    expect(witness_tile).to_contain_text("Сидоров С.С.", timeout=45_000)
    expect(witness_row).to_have_class(re.compile(r"\bspeaking\b"), timeout=30_000)
    # The phone shows the same words as captions.
    expect(phone.locator("#captions .seg", has_text=re.compile("деньг", re.I)).first).to_be_visible()
    shot(judge, artifacts, "story-judge-console-desktop")
    shot(phone, artifacts, "story-witness-phone")
    phone.once("dialog", lambda d: d.accept())
    phone.get_by_role("button", name="Выйти").click()
    expect(phone.locator("#phase-ended")).to_be_visible()
    judge.once("dialog", lambda d: d.accept())
    judge.get_by_role("button", name="Закрыть заседание").click()
    expect(judge.locator("#state-badge")).to_have_text("Закрыто")

    # The secretary listens: a click on a word plays the witness's recording from that moment,
    # with the word being played highlighted.
    sec_ctx = make_context()
    sec = sec_ctx.new_page()
    ui_sign_in(sec, "secretary")
    for _ in range(60):  # the per-source file is finalised just after closing
        recs = sec_ctx.request.get(f"/api/hearings/{hid}/recordings").json()["recordings"]
        if any(r["id"].startswith("r") for r in recs):
            break
        sec.wait_for_timeout(500)
    sec.goto(f"/secretary/{hid}")
    seg = sec.locator("#segments .segment", has_text=re.compile("деньг", re.I)).first
    expect(seg).to_be_visible()
    seg.locator(".word").nth(1).click()
    expect(sec.locator("#player-source")).to_have_text("Сидоров С.С. (Свидетель)")
    expect(sec.locator("#player")).to_have_js_property("paused", False)
    expect(seg.locator(".word.current")).to_have_count(1)
    sec.keyboard.press("Control+Space")
    expect(sec.locator("#player")).to_have_js_property("paused", True)

    # The secretary corrects one word of the witness's first segment and gives another segment
    # to the plaintiff.
    words = seg.locator(".word").all_inner_texts()
    i = next(k for k, w in enumerate(words) if re.search("деньг", w, re.I))
    corrected = " ".join(words[:i] + ["грошики"] + words[i + 1:])
    seg.get_by_role("button", name="Править").click()
    sec.get_by_label("Текст сегмента").fill(corrected)
    sec.keyboard.press("Control+s")
    expect(sec.locator("#segments .segment", has_text="грошики")).to_be_visible()
    # Another of the witness's segments (the microphone loops the clip) was the plaintiff.
    segments = sec.locator("#segments .segment")
    others = segments.filter(has_not_text="грошики")
    target = others.first if others.count() else segments.first
    target_id = target.get_attribute("data-segment")
    target.get_by_label("Говорящий").select_option(label="Ахметов Б. (Истец)")
    moved = sec.locator(f'#segments .segment[data-segment="{target_id}"]')
    expect(moved.get_by_label("Говорящий")).to_have_value(re.compile(r"^p\d+$"))
    expect(moved.locator(".badge")).to_have_text("исправлено")
    sec.get_by_role("button", name="Сформировать версию для подписи").click()
    expect(sec.get_by_test_id("versions").locator("li").first).to_contain_text("Версия 1")
    ui_sign(sec, 1)
    expect(sec.get_by_test_id("versions").locator("li").first).to_contain_text("подписана секретарём")
    shot(sec, artifacts, "story-secretary-desktop")

    judge.reload()
    ui_sign(judge, 1)
    expect(judge.get_by_test_id("versions").locator("li").first).to_contain_text("подписана")
    expect(judge.get_by_test_id("versions").locator("li").first).to_contain_text("Секретарь:")
    pdf = judge_ctx.request.get(f"/api/hearings/{hid}/export/pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    path = tmp_path / "protocol.pdf"
    path.write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "грошики" in text
    assert "Ахметов Б." in text
    assert not judge_ctx.js_errors and not sec_ctx.js_errors and not phone_ctx.js_errors
