"""A closed part in the browser: the judge closes part of the hearing from the console (level
and reason), the observer's phone shows "Закрытая часть заседания" instead of going silent,
and when the judge reopens the hearing the notice goes away on both; then the judge seals an
evidence item from its row and closes the whole hearing (after confirming)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admitted_phone, shot
from test_web_a11y import tiny_png

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

    # an item the judge submitted, sealed from its row in the console's list
    data = tiny_png()
    up = judge.post(f"/api/hearings/{hid}/evidence/uploads",
                    {"filename": "photo.png", "size": len(data), "content_type": "image/png"})
    r = jctx.request.patch(up["url"], data=data, headers={
        "X-CSRF-Token": judge.csrf, "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream"})
    assert r.ok, r.text()
    eid = judge.post(f"{up['url']}/complete")["evidence_id"]
    level = console.get_by_label("Доступ к доказательству «photo.png»")
    expect(level).to_have_value("public", timeout=WAIT)
    level.select_option("sealed")
    expect(console.locator(".toast", has_text="секретно")).to_be_visible(timeout=WAIT)
    expect(level).to_have_value("sealed")
    assert judge.get(f"/api/hearings/{hid}/evidence/{eid}")["access_level"] == "sealed"

    # the whole hearing closed, once the judge confirms that observers are disconnected
    asked = []
    console.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    console.get_by_label("Доступ к заседанию").select_option("restricted")
    expect(console.locator("#closure-status")).to_contain_text("Закрытое судебное заседание",
                                                               timeout=WAIT)
    assert "наблюдатели будут отключены" in asked[0]
    assert judge.get(f"/api/hearings/{hid}")["access_level"] == "restricted"
