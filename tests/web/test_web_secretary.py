"""The secretary's editor on a transcript made of machine finals: low-confidence words and
uncertain segments marked, one row of tools and two Tab stops per segment, words reached and
played by keyboard, the next-low-confidence shortcut, correcting a word (saved with Ctrl+S),
fixing a speaker, split and merge, the revision history with its differences, restore, and
exports."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, add_final, shot

pytestmark = pytest.mark.slow


def test_secretary_corrects_splits_merges_and_restores(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing(secretary_id=server.users["secretary"])
    witness = judge.invite(h["id"], "witness", "Сидоров С.С.")["participant"]
    plaintiff = judge.invite(h["id"], "plaintiff", "Иванов А.А.")["participant"]
    add_final(server, h["id"], f"p{witness['id']}",
              "Учился на медные деньги с двенадцати лет сам их зарабатываю", 1000, low=(2, 5))
    add_final(server, h["id"], f"p{witness['id']}", "Я подтверждаю свои требования", 8000,
              uncertain="low_confidence")

    ctx = make_context()
    StaffApi(ctx, "secretary")
    page = ctx.new_page()
    page.goto(f"/secretary/{h['id']}")
    segs = page.locator("#segments .segment")
    expect(segs).to_have_count(2)
    first, second = segs.nth(0), segs.nth(1)
    expect(first.locator(".word.low")).to_have_text(["медные", "двенадцати"])
    # The recogniser doubted the second segment: it is marked, with the reason on hover.
    expect(second).to_have_class(re.compile(r"\buncertain\b"))
    expect(second.locator(".mark-uncertain")).to_have_text("не уверено")
    expect(second.locator(".mark-uncertain")).to_have_attribute("title", re.compile("не уверен"))
    expect(first).not_to_have_class(re.compile(r"\buncertain\b"))
    # One row of tools per segment, and two Tab stops: its toolbar and its words.
    tops = {round(b.bounding_box()["y"]) for b in first.locator(".meta button, .meta select").all()}
    assert len(tops) == 1, tops
    tab_stops = page.evaluate("""() => [...document.querySelectorAll('#segments *')]
        .filter((e) => e.tabIndex >= 0 && !e.disabled).length""")
    assert tab_stops <= 2 * segs.count(), tab_stops
    # Arrow keys move along the toolbar without changing the speaker.
    first.get_by_label("Говорящий").focus()
    page.keyboard.press("ArrowRight")
    expect(first.get_by_role("button", name="Править")).to_be_focused()
    expect(first.get_by_label("Говорящий")).to_have_value(f"p{witness['id']}")
    # Ctrl+. jumps to the next low-confidence word.
    page.keyboard.press("Control+Period")
    expect(first.locator(".word.split-at")).to_have_text("медные")

    # Correct a word; Ctrl+S saves.
    first.get_by_role("button", name="Править").click()
    page.get_by_label("Текст сегмента").fill(
        "Учился на мелкие деньги с двенадцати лет сам их зарабатываю")
    page.get_by_label("Причина правки").fill("Сверено с записью")
    page.keyboard.press("Control+s")
    expect(first.locator(".words")).to_have_text(re.compile("Учился на мелкие деньги"))
    expect(first.locator(".badge")).to_have_text("исправлено")
    # Checked against the recording: the word left as it was is no longer shown in doubt.
    expect(first.locator(".word.low")).to_have_count(0)

    # The second segment was the plaintiff, not the witness.
    second.get_by_label("Говорящий").select_option(f"p{plaintiff['id']}")
    expect(page.locator("#segments .segment").nth(1).get_by_label("Говорящий")).to_have_value(
        f"p{plaintiff['id']}")

    # History of the corrected segment: the machine text, then the change marked up.
    page.locator("#segments .segment").nth(1).get_by_role("button", name="История").click()
    hist = page.locator("#history")
    expect(hist.locator("li")).to_have_count(2)  # the machine's segment, the speaker fix
    expect(hist.locator("li").nth(1)).to_contain_text("говорящий")
    page.locator("#segments .segment").nth(0).get_by_role("button", name="История").click()
    expect(hist.locator("li")).to_have_count(2)
    expect(hist.locator("li").first).to_contain_text("оригинал · распознавание (test)")
    expect(hist.locator("li").nth(1)).to_contain_text("Секретарь Ким Е.В. (Секретарь)")
    expect(hist.locator("del").first).to_have_text("медные")
    expect(hist.locator("ins").first).to_have_text("мелкие")
    shot(page, artifacts, "secretary-editor-desktop")
    page.set_viewport_size({"width": 360, "height": 740})
    shot(page, artifacts, "secretary-editor-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Restore the machine's original text, and it is back (as a new revision).
    hist.locator("li").first.get_by_role("button", name="Восстановить эту версию").click()
    expect(page.locator("#segments .segment").nth(0).locator(".words")).to_have_text(
        re.compile("Учился на медные деньги"))
    expect(hist.locator("li")).to_have_count(3)
    # ...and the correction back again, from the history.
    hist.locator("li").nth(1).get_by_role("button", name="Восстановить эту версию").click()
    expect(page.locator("#segments .segment").nth(0).locator(".words")).to_have_text(
        re.compile("Учился на мелкие деньги"))

    # Split the first segment at "с", then merge it back.
    first = page.locator("#segments .segment").nth(0)
    first.locator(".word", has_text=re.compile("^с$")).first.click()
    first.get_by_role("button", name="Разделить на выбранном слове").click()
    expect(page.locator("#segments .segment")).to_have_count(3)
    expect(page.locator("#segments .segment").nth(1).locator(".words")).to_have_text(
        re.compile("^с двенадцати"))
    page.locator("#segments .segment").nth(0).get_by_role("button", name="Объединить со следующим").click()
    expect(page.locator("#segments .segment")).to_have_count(2)

    page.locator("#segments .segment").nth(0).get_by_role("button", name="История").click()
    expect(hist.locator("li").last).to_contain_text("объединение")
    expect(hist.locator("li").last.get_by_role("button")).to_have_count(0)

    transcript = judge.get(f"/api/hearings/{h['id']}/transcript")
    assert "мелкие деньги с двенадцати" in transcript["segments"][0]["text"]
    assert transcript["segments"][1]["speaker"]["label"] == "Иванов А.А."

    exports = [a.get_attribute("href") for a in page.locator("#exports a").all()]
    assert exports == [f"/api/hearings/{h['id']}/export/{f}" for f in ("pdf", "docx", "txt", "srt", "vtt")]
    txt = ctx.request.get(exports[2])
    assert txt.ok and "Иванов А.А." in txt.text()
    assert not ctx.js_errors


def test_click_a_word_plays_from_there_and_highlights_it(server, make_context, speech_wav):
    """The page's side of playback: the recording list and the audio are served by the test
    (a real WAV in a real <audio> element), so this holds whatever the recorder's format."""
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing(secretary_id=server.users["secretary"])
    witness = judge.invite(h["id"], "witness", "Сидоров С.С.")["participant"]
    text = "Учился на медные деньги с двенадцати лет сам их зарабатываю"
    add_final(server, h["id"], f"p{witness['id']}", text, 1000, low=(4,))
    ctx = make_context()
    StaffApi(ctx, "secretary")
    page = ctx.new_page()
    recordings = {"recordings": [{"source_id": f"p{witness['id']}", "label": "Сидоров С.С.",
                                  "url": "/test-media/witness.wav", "start_ms": 0,
                                  "end_ms": 9000, "content_type": "audio/wav"}]}
    page.route(re.compile(r".*/api/hearings/\d+/recordings$"),
               lambda route: route.fulfill(json=recordings))
    page.route("**/test-media/witness.wav",
               lambda route: route.fulfill(body=speech_wav.read_bytes(), content_type="audio/wav"))
    page.goto(f"/secretary/{h['id']}")
    seg = page.locator("#segments .segment").first
    # By keyboard: Tab reaches the words, arrows move along them, Enter plays from one.
    seg.get_by_label("Говорящий").focus()
    page.keyboard.press("Tab")
    expect(seg.locator(".word").first).to_be_focused()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(seg.locator(".word").nth(5)).to_be_focused()  # "двенадцати", 3.0 s on the clock
    page.keyboard.press("Enter")
    audio = page.locator("#player")
    expect(page.locator("#player-source")).to_have_text("Сидоров С.С. (Свидетель)")
    expect(page.locator("body")).to_have_attribute(
        "data-current-word", re.compile("^(двенадцати|лет|сам)$"))
    expect(seg.locator(".word.current")).to_have_count(1)
    t0 = audio.evaluate("a => a.currentTime")
    assert 3.0 <= t0 < 5.5
    page.keyboard.press("Control+b")  # back five seconds
    assert audio.evaluate("a => a.currentTime") < t0 - 2
    page.keyboard.press("Control+Space")  # pause
    expect(audio).to_have_js_property("paused", True)
    assert not ctx.js_errors
