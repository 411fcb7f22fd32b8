"""Every page in its main states, in Russian and in Kazakh, checked by axe-core for WCAG 2.0/2.1
A and AA violations: the sign-in page, the staff list, the calendar, the parties' workplace,
search results, the judge's console with a phone in the lobby and then in the hearing (video
tiles on both), the secretary's editor, the phone (360x740) in its device check (also with the
microphone denied), lobby, hearing and after it, and a broken invite. No text in another
language may be left on screen or in an accessible name, also after a switch of language on
a page already shown."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from axe import assert_accessible, violations
from conftest import PASSWORD, StaffApi, add_final, signed_version
from test_web_static import used_keys

pytestmark = pytest.mark.slow
LANGS = ("ru", "kk")
I18N = Path(__file__).resolve().parents[2] / "hearing" / "web" / "i18n"
TEXTS = {lang: json.loads((I18N / f"{lang}.json").read_text("utf-8"))
         for lang in ("ru", "kk", "en")}

#: Visible text nodes and the accessible-name attributes of visible elements, with the page
#: title; and apart, the chosen options of visible selects (a device's name is the system's).
SHOWN_TEXT = """() => {
  const out = [document.title], options = [];
  const shown = el => el && el.checkVisibility({visibilityProperty: true});
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const p = n.parentElement;
    if (p && !["SCRIPT", "STYLE", "OPTION"].includes(p.tagName) && shown(p)) out.push(n.data);
  }
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], select")) {
    if (!shown(el)) continue;
    for (const a of ["aria-label", "title", "placeholder"])
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    if (el.tagName === "SELECT" && el.selectedOptions[0]) options.push(el.selectedOptions[0].text);
  }
  const clean = list => list.map(s => s.trim()).filter(Boolean);
  return [clean(out), clean(options)];
}"""


def russian_only_texts() -> tuple[set[str], list[re.Pattern]]:
    """Interface texts that exist only in Russian (the Kazakh differs and is no Kazakh text):
    plain values, and values with {placeholders} as patterns."""
    ru, kk = TEXTS["ru"], TEXTS["kk"]
    kk_values = set(kk.values())
    plain, patterns = set(), []
    for key, value in ru.items():
        if value == kk.get(key) or value in kk_values or not re.search("[а-яё]", value, re.I):
            continue
        if "{" in value:
            parts = [re.escape(p) for p in re.split(r"\{\w+\}", value)]
            if sum(len(p) for p in parts) >= 6:
                patterns.append(re.compile("^" + ".+?".join(parts) + "$", re.S))
        else:
            plain.add(value)
    return plain, patterns


RU_PLAIN, RU_PATTERNS = russian_only_texts()
RU_PHRASES = [re.compile(rf"(?<!\w){re.escape(v)}(?!\w)") for v in RU_PLAIN if " " in v]


#: Two English words in a row: a server message or a text the page forgot to translate.
ENGLISH = re.compile(r"\b[A-Za-z]{3,}\s+[A-Za-z]{2,}\b")


def russian_interface_text(text: str) -> bool:
    """A whole text equal to a Russian-only string, a text that fits one with placeholders, or
    a text holding a Russian phrase of two words or more (names and case titles come from
    people and are never whole interface strings)."""
    return (text in RU_PLAIN or any(p.match(text) for p in RU_PATTERNS)
            or any(p.search(text) for p in RU_PHRASES))


def untranslated(page, lang: str) -> list[str]:
    """Shown texts not in the page's language: English phrases (not in chosen options, where
    a device's name is the system's), and in Kazakh the Russian interface strings."""
    texts, options = page.evaluate(SHOWN_TEXT)
    russian = lang == "kk"
    return ([x for x in texts if ENGLISH.search(x) or russian and russian_interface_text(x)]
            + [x for x in options if russian and russian_interface_text(x)])


class Checker:
    """axe on each state, and no text left in another language; the problems of all states
    are reported together at the end."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.problems: list[str] = []

    def __call__(self, page, context: str, lang: str | None = None) -> None:
        lang = lang or self.lang
        label = f"{context} [{lang}]"
        expect(page.locator("html")).to_have_attribute("lang", lang)
        # parts that a page reloads from the server after a switch get some seconds
        for _ in range(30):
            if not (left := untranslated(page, lang)):
                break
            page.wait_for_timeout(500)
        else:
            self.problems.append(f"untranslated text on {label}: {left}")
        try:
            assert_accessible(page, label)
        except AssertionError as e:
            self.problems.append(str(e))

    def after_switch(self, page, context: str) -> None:
        """From Russian, switch the page to Kazakh: what is already shown must follow; then
        back, as the language is remembered for the next page."""
        if self.lang != "ru":
            return
        page.locator("#lang").select_option("kk")
        self(page, f"{context} after a switch from Russian", "kk")
        page.locator("#lang").select_option("ru")
        expect(page.locator("html")).to_have_attribute("lang", "ru")

    def done(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def tiny_png() -> bytes:
    """A real 8x8 grey PNG, for an evidence upload."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\0" + b"\x80" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("lang", LANGS)
def test_staff_pages_are_accessible(server, make_context, lang):
    check = Checker(lang)
    ctx = make_context(lang=lang)
    page = ctx.new_page()
    page.goto("/")
    expect(page.locator("#login")).to_be_visible()
    check(page, "sign-in page")
    page.locator("#username").fill("judge")
    page.locator("#password").fill("not the password")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#login-error")).to_be_visible()
    check(page, "sign-in page with an error")

    # staff of its own: the signing keys made here must not be the other tests'
    server.add_user(f"judge_a11y_{lang}", "judge", "Судья Абенова Д.")
    secretary_id = server.add_user(f"secretary_a11y_{lang}", "secretary", "Секретарь Ом А.")
    judge = StaffApi(ctx, f"judge_a11y_{lang}")
    h = judge.hearing(secretary_id=secretary_id, case_number=f"2-77{len(lang)}/2026")
    witness = judge.invite(h["id"], "witness", "Сидоров С.С.")["participant"]
    add_final(server, h["id"], f"p{witness['id']}", "Суд открыл заседание по иску", 1000, low=(2,))
    add_final(server, h["id"], f"p{witness['id']}", "Жанузакова подтвердила показания", 5000, low=(2,))
    page.goto("/")
    expect(page.locator("#hearings")).to_be_visible()
    expect(page.locator("#hearing-table tbody tr").first).to_be_visible()
    page.locator("#create-card summary").click()
    check(page, "staff list with the scheduling form open")
    check.after_switch(page, "staff list")

    page.goto(f"/judge/{h['id']}")
    expect(page.locator("#state-badge")).not_to_be_empty()
    expect(page.locator("#people li", has_text="Сидоров С.С.")).to_have_count(1)
    check(page, "judge console before the hearing")

    sec_ctx = make_context(lang=lang)
    sec = StaffApi(sec_ctx, f"secretary_a11y_{lang}")
    editor = sec_ctx.new_page()
    editor.goto(f"/secretary/{h['id']}")
    segments = editor.locator("#segments .segment")
    expect(segments).to_have_count(2)
    check(editor, "secretary editor with segments")
    segments.first.locator(".word").nth(1).click()
    segments.first.get_by_role("button", name=TEXTS[lang]["ed.edit"], exact=True).click()
    check(editor, "secretary editor editing a segment")
    editor.keyboard.press("Escape")

    calendar = sec_ctx.new_page()
    calendar.goto("/calendar")
    expect(calendar.locator("body")).to_have_attribute("data-ready", "1")
    check(calendar, "courtroom calendar")
    check.after_switch(calendar, "courtroom calendar")
    calendar.goto("/calendar?from=2026-13-45")
    expect(calendar.locator("#page-error")).to_be_visible()
    check(calendar, "courtroom calendar refusing a bad date")

    # search results need a signed version
    signed_version(sec, judge, h["id"])
    editor.reload()
    expect(segments).to_have_count(2)
    editor.get_by_role("searchbox", name=TEXTS[lang]["search.title"]).fill("жанузаковой")
    editor.get_by_role("button", name=TEXTS[lang]["search.button"], exact=True).click()
    expect(editor.locator(".search-result").first).to_be_visible()
    check(editor, "secretary editor with search results and a signed version")
    check.after_switch(editor, "secretary editor")
    check.done()
    assert not ctx.js_errors and not sec_ctx.js_errors


@pytest.mark.parametrize("lang", LANGS)
def test_phone_and_judge_console_are_accessible(server, make_context, lang):
    check = Checker(lang)
    judge_ctx = make_context(lang=lang)
    judge = StaffApi(judge_ctx, "judge")
    h = judge.hearing()
    inv = judge.invite(h["id"], "witness", "Сидоров С.С.")
    console = judge_ctx.new_page()
    console.goto(f"/judge/{h['id']}")
    console.locator("#t-open").click()
    expect(console.locator("#t-close")).to_be_enabled()

    phone = make_context(phone=True, lang=lang).new_page()
    phone.goto(inv["link"])
    expect(phone.locator("#phase-check")).to_be_visible()
    expect(phone.locator("#continue")).to_be_enabled()
    check(phone, "phone device check")
    phone.locator("#continue").click()
    expect(phone.locator("#phase-lobby")).to_be_visible()
    check(phone, "phone lobby")

    waiting = console.locator("#lobby li")
    expect(waiting).to_have_count(1)
    check(console, "judge console with a phone in the lobby")
    waiting.get_by_role("button", name=TEXTS[lang]["judge.admit"]).click()
    expect(phone.locator("#phase-hearing")).to_be_visible()
    expect(console.locator("#people li", has_text="Сидоров С.С.")).to_have_count(1)
    # the judge's camera and microphone: a video tile on each side
    console.locator("#media-join").click()
    expect(phone.locator("#tiles .tile").first).to_be_visible(timeout=45_000)
    expect(console.locator("#tiles .tile").first).to_be_visible(timeout=45_000)
    phone.locator("#hand").click()
    expect(phone.locator("#hand")).to_have_attribute("aria-pressed", "true")
    judge.post(f"/api/hearings/{h['id']}/participants/{inv['participant']['id']}/mute",
               {"muted": True})
    expect(phone.locator("#muted-notice")).to_be_visible()
    check(phone, "phone in the hearing, hand raised and muted by the judge")
    phone.locator("#evidence-open").click()
    phone.locator("#evidence-file").set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": tiny_png()}])
    expect(phone.locator("#my-evidence li")).to_have_count(1)
    check(phone, "phone with an uploaded piece of evidence")
    expect(console.locator("#evidence li")).to_have_count(1)
    check(console, "judge console with a phone in the hearing and its evidence")
    check.after_switch(phone, "phone in the hearing")
    check.after_switch(console, "judge console")
    phone.once("dialog", lambda d: d.accept())
    phone.locator("#leave").click()
    expect(phone.locator("#phase-ended")).to_be_visible()
    check(phone, "phone after leaving the hearing")
    check.done()
    assert not judge_ctx.js_errors and not phone.context.js_errors


@pytest.mark.parametrize("lang", LANGS)
def test_workplace_denied_microphone_and_broken_invite_are_accessible(server, make_context, lang):
    check = Checker(lang)
    lawyer_id = server.add_user(f"lawyer_a11y_{lang}", "lawyer", "Адвокат Омаров Н.")
    judge = StaffApi(make_context(), "judge")
    hr = judge.hearing(case_number=f"2-88{len(lang)}/2026")
    judge.post(f"/api/cases/{hr['case_id']}/parties", {
        "role": "defence_lawyer", "display_name": "Омаров Н. (защитник)", "user_id": lawyer_id})
    ctx = make_context(lang=lang)
    page = ctx.new_page()
    page.goto("/workplace")
    expect(page.locator("#login")).to_be_visible()
    check(page, "workplace sign-in")
    r = ctx.request.post("/api/login", data={"username": f"lawyer_a11y_{lang}",
                                             "password": PASSWORD})
    assert r.ok
    page.goto("/workplace")
    expect(page.locator("#case-table tbody tr")).to_have_count(1)
    check(page, "workplace with a case and its hearing")
    check.after_switch(page, "workplace")

    inv = judge.invite(hr["id"], "plaintiff", "Петрова П.П.")
    denied = make_context(phone=True, media=False, lang=lang).new_page()
    denied.goto(inv["link"])
    expect(denied.locator("#perm-help")).to_be_visible()
    check(denied, "phone device check with the microphone denied")

    phone = make_context(phone=True, lang=lang).new_page()
    phone.goto("/join#not-a-real-token")
    expect(phone.locator("#phase-error")).to_be_visible()
    expect(phone.locator("#error-text")).not_to_be_empty()
    check(phone, "broken invite")
    check.done()
    assert not ctx.js_errors


def test_every_text_exists_in_all_three_languages():
    for lang in ("kk", "en"):
        missing = sorted(k for k in TEXTS["ru"] if not TEXTS[lang].get(k, "").strip())
        assert not missing, f"{lang}.json lacks {missing}"
    unknown = sorted(k for k in used_keys() if k not in TEXTS["ru"])
    assert not unknown, f"keys used by the pages but in no dictionary: {unknown}"


def test_the_checks_find_what_they_are_for(browser):
    """axe finds an unnamed button, and a Kazakh page with a Russian interface string and an
    English server message is caught, while names and Kazakh texts pass."""
    ru, kk = TEXTS["ru"], TEXTS["kk"]
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.set_content(
            f"<html lang='kk'><head><title>{kk['app.title']}</title></head><body><main>"
            f"<h1>{kk['judge.page_title']}</h1><p>{ru['check.continue']}</p>"
            "<p>invalid or expired invite</p><p>Сидоров С.С.</p><button></button>"
            "</main></body></html>")
        assert [v["id"] for v in violations(page)] == ["button-name"]
        assert untranslated(page, "kk") == [ru["check.continue"], "invalid or expired invite"]
    finally:
        ctx.close()
