"""The search box of the secretary's and the judge's pages: another form of a word finds the
signed text, the matched word is marked, and the result opens its moment in the editor (the
word at that time selected, the recording sought there)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, add_final, shot, signed_version

pytestmark = pytest.mark.slow


def test_search_finds_a_word_form_and_opens_its_moment(server, make_context, artifacts):
    # staff of its own: the signing keys made here must not be the other tests' (the server
    # and its accounts live for the whole session)
    server.add_user("judge_search", "judge", "Судья Абенова Д.")
    secretary_id = server.add_user("secretary_search", "secretary", "Секретарь Ом А.")
    judge_ctx = make_context()
    judge = StaffApi(judge_ctx, "judge_search")
    h = judge.hearing(secretary_id=secretary_id, case_number="2-931/2026")
    hid = h["id"]
    add_final(server, hid, "seat-1", "Суд открыл заседание", 1000)
    add_final(server, hid, "seat-1", "Свидетель Жанузакова подтвердила подпись", 5000)
    ctx = make_context()
    sec = StaffApi(ctx, "secretary_search")
    signed_version(sec, judge, hid)

    page = ctx.new_page()
    page.goto(f"/secretary/{hid}")
    expect(page.locator("#segments .segment")).to_have_count(2)
    page.get_by_role("searchbox", name="Поиск по протоколам").fill("жанузаковой")
    page.get_by_role("button", name="Найти").click()
    result = page.locator(".search-result")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text(["Жанузакова"])
    expect(result).to_contain_text("2-931/2026")
    shot(page, artifacts, "secretary-search")
    result.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/secretary/{hid}#t=5000$"))
    expect(page.locator("#segments .word.split-at")).to_have_text("Свидетель")
    # a word that is nowhere
    page.get_by_role("searchbox", name="Поиск по протоколам").fill("фотосинтез")
    page.get_by_role("button", name="Найти").click()
    expect(page.get_by_text("Ничего не найдено.")).to_be_visible()

    # the judge's result leads to the judge's own console
    jpage = judge_ctx.new_page()
    jpage.goto(f"/judge/{hid}")
    jpage.get_by_role("searchbox", name="Поиск по протоколам").fill("Свидетели")
    jpage.get_by_role("button", name="Найти").click()
    link = jpage.locator(".search-result a", has_text="Жанузакова")
    expect(link).to_have_attribute("href", f"/judge/{hid}#t=5000")
    assert ctx.js_errors == [] and judge_ctx.js_errors == []
