"""The parties' workplace in a browser: a lawyer signs in on the court's sign-in page, is sent to
the workplace, sees their case and its hearing, and joins it with the Join button, which opens
the ordinary join page (no invite from the court); the signed protocol's link appears once the
record is signed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, StaffApi, shot, signed_version

pytestmark = pytest.mark.slow
CASE = "2-5151/2026"


def test_lawyer_signs_in_sees_the_case_and_joins_its_hearing(server, make_context, artifacts):
    lawyer_id = server.add_user("omarov", "lawyer", "Адвокат Омаров Н.")
    # staff of its own: signing keys made here must not be the other tests' (the server and its
    # accounts live for the whole session)
    server.add_user("judge_wp", "judge", "Судья Сейтова Г.")
    secretary_id = server.add_user("secretary_wp", "secretary", "Секретарь Ли А.")
    judge = StaffApi(make_context(), "judge_wp")
    when = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    hr = judge.hearing(secretary_id, case_number=CASE,
                       title="Нурланов Е. к АО «Достык»", scheduled_at=when.isoformat())
    judge.hearing(case_number="2-5152/2026", title="Чужое дело",
                  scheduled_at=when.isoformat())
    judge.post(f"/api/cases/{hr['case_id']}/parties", {
        "role": "defence_lawyer", "display_name": "Омаров Н. (защитник)", "user_id": lawyer_id})

    ctx = make_context()
    page = ctx.new_page()
    page.goto("/")
    page.get_by_label(re.compile("Имя пользователя|User name")).fill("omarov")
    page.get_by_label(re.compile("Пароль|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(Войти|Sign in)$")).click()
    expect(page).to_have_url(re.compile(r"/workplace$"))
    expect(page.locator("#who")).to_contain_text("Адвокат Омаров Н. · Адвокат")
    case_row = page.locator("#case-table tbody tr")
    expect(case_row).to_have_count(1)
    expect(case_row).to_contain_text(CASE)
    expect(case_row).to_contain_text("Защитник")
    item = page.locator(f"#calendar-list li[data-hearing='{hr['id']}']")
    expect(item).to_contain_text(CASE)
    expect(item).to_contain_text("Нурланов Е. к АО «Достык»")
    expect(page.locator("#calendar-list li")).to_have_count(1)  # not the other case's hearing
    expect(page.locator("#no-notices")).to_be_visible()
    shot(page, artifacts, "workplace-desktop")
    page.set_viewport_size({"width": 360, "height": 740})
    shot(page, artifacts, "workplace-phone")

    # Join opens the ordinary join page with a fresh link of the lawyer's own
    item.get_by_role("button", name="Подключиться").click()
    expect(page).to_have_url(re.compile(r"/join(#\S+)?$"))  # the page drops the token from view
    expect(page.locator("#you-are")).to_contain_text("Омаров Н. (защитник)")
    expect(page.get_by_role("button", name="Продолжить")).to_be_visible()

    # once the judge and the secretary have signed, the signed protocol is a link away
    sec = StaffApi(make_context(), "secretary_wp")
    for to in ("open", "closed"):
        judge.post(f"/api/hearings/{hr['id']}/transitions", {"to": to})
    assert signed_version(sec, judge, hr["id"]) == 1
    page.goto("/workplace")
    protocol = item.get_by_role("link", name="Подписанный протокол (версия 1)")
    expect(protocol).to_be_visible()
    expect(item.get_by_role("button", name="Подключиться")).to_have_count(0)  # closed
    r = ctx.request.get(protocol.get_attribute("href"))
    assert r.ok and r.headers["content-type"] == "application/pdf"
    assert not ctx.js_errors

    # a staff member who opens the workplace is sent to the court's own page
    staff = make_context().new_page()
    StaffApi(staff.context, "secretary")
    staff.goto("/workplace")
    expect(staff).to_have_url(re.compile(r"/$"))
