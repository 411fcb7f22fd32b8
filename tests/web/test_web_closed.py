"""A closed part in the browser: the judge closes part of the hearing from the console (level
and reason), the observer's phone shows "Закрытая часть заседания" instead of going silent,
and when the judge reopens the hearing the notice goes away on both."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admitted_phone, shot

pytestmark = pytest.mark.slow

WAIT = 30_000


def test_judge_closes_a_part_and_the_phone_shows_it(server, make_context, artifacts):
    jctx = make_context()
    judge = StaffApi(jctx, "judge")
    hid = judge.hearing(secretary_id=server.users["secretary"])["id"]
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    console = jctx.new_page()
    console.goto(f"/judge/{hid}")
    toggle = console.locator("#closure-toggle")
    expect(toggle).to_have_text("Закрыть часть заседания", timeout=WAIT)
    _, phone, _ = admitted_phone(make_context, judge, hid, name="Наблюдатель", role="observer")
    notice = phone.locator("#closed-notice")
    expect(notice).to_be_hidden()

    console.locator("#closure-level").select_option("restricted")
    console.get_by_label("Основание (например, статья закона)").fill("ст. 29 ГПК")
    toggle.click()
    expect(console.locator("#closure-status")).to_contain_text("Идёт закрытая часть",
                                                               timeout=WAIT)
    expect(toggle).to_have_text("Открыть")
    expect(notice).to_be_visible(timeout=WAIT)
    expect(notice).to_contain_text("Закрытая часть заседания")
    shot(phone, artifacts, "closed-part-phone")
    # a phone reloaded during the closed part sees the notice from its first message
    phone.reload()
    phone.get_by_role("button", name="Продолжить").click()
    expect(phone.locator("#closed-notice")).to_be_visible(timeout=WAIT)

    toggle.click()
    expect(console.locator("#closure-status")).to_have_text("Заседание открытое.", timeout=WAIT)
    expect(phone.locator("#closed-notice")).to_be_hidden(timeout=WAIT)
