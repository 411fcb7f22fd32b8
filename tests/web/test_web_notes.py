"""Log notes in the browser: the secretary types a note in the editor and adds it with
Ctrl+Enter; it is listed at its hearing-clock time, marked as the secretary's note, and
reaches the judge's console live, outside the transcript of speech. The judge's note comes
back to the editor the same way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, shot

pytestmark = pytest.mark.slow

WAIT = 30_000


def test_notes_from_editor_reach_the_judge_console_live(server, make_context, artifacts):
    jctx = make_context()
    judge = StaffApi(jctx, "judge")
    hid = judge.hearing(secretary_id=server.users["secretary"])["id"]
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    console = jctx.new_page()
    console.goto(f"/judge/{hid}")
    expect(console.locator("#notes-empty")).to_be_visible(timeout=WAIT)

    sctx = make_context()
    StaffApi(sctx, "secretary")
    editor = sctx.new_page()
    editor.goto(f"/secretary/{hid}")
    box = editor.get_by_label("Текст примечания")
    box.fill("Свидетель удалён из зала")
    box.press("Control+Enter")
    mine = editor.locator("#notes .note")
    expect(mine).to_have_count(1, timeout=WAIT)
    expect(mine.locator(".note-mark")).to_have_text(re.compile(r"^\[Примечание секретаря \d+:\d\d:\d\d\]$"))
    expect(mine.locator(".note-text")).to_have_text("Свидетель удалён из зала")
    expect(box).to_have_value("")

    theirs = console.locator("#notes .note")
    expect(theirs).to_have_count(1, timeout=WAIT)
    expect(theirs.locator(".note-text")).to_have_text("Свидетель удалён из зала")
    expect(theirs.locator(".note-mark")).to_contain_text("Примечание секретаря")
    expect(console.locator("#transcript")).not_to_contain_text("Свидетель удалён")
    # the judge's own note, Ctrl+Enter in the console, reaches the editor
    console.get_by_label("Текст примечания").fill("Объявлен перерыв")
    console.get_by_label("Текст примечания").press("Control+Enter")
    expect(editor.locator("#notes .note .note-text")).to_have_text(
        ["Свидетель удалён из зала", "Объявлен перерыв"], timeout=WAIT)
    expect(editor.locator("#notes .note").nth(1).locator(".note-mark")).to_contain_text(
        "Примечание судьи")
    shot(editor, artifacts, "notes-editor")
