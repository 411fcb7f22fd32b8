"""The courtroom calendar page: from the staff home to next week's grid of courtrooms by
days, two hearings in their cells with their times and links, and back a week."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, shot

pytestmark = pytest.mark.slow


def test_week_grid_shows_the_hearings_of_a_courtroom(server, make_context, artifacts):
    admin = StaffApi(make_context(), "admin")
    court = admin.post("/api/courts", {"name": "Медеуский районный суд"})
    room = admin.post(f"/api/courts/{court['id']}/courtrooms", {"name": "Зал № 3"})
    # next week in the court's zone, so the page's "next week" button leads there
    today = datetime.now(ZoneInfo(server.config.timezone)).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    tuesday, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
    ctx = make_context()
    judge = StaffApi(ctx, "judge")
    a = judge.hearing(secretary_id=server.users["secretary"], case_number="2-501/2026",
                      courtroom_id=room["id"], scheduled_at=f"{tuesday}T10:00:00+05:00",
                      duration_min=90)
    b = judge.hearing(case_number="2-502/2026", title="Нурланов Е. к АО «Достык»",
                      courtroom_id=room["id"], scheduled_at=f"{thursday}T15:30:00+05:00")
    # the same courtroom at an overlapping time is refused
    clash = judge.post("/api/hearings", {"case_number": "2-503/2026", "title": "t",
                                         "kind": "civil", "language": "ru",
                                         "courtroom_id": room["id"],
                                         "scheduled_at": f"{tuesday}T11:00:00+05:00"}, ok=False)
    assert clash["error"] == "courtroom_booked" and clash["hearing"]["id"] == a["id"]

    page = ctx.new_page()
    page.goto("/")
    page.get_by_role("link", name="Календарь залов").click()
    expect(page).to_have_url(re.compile(r"/calendar\?from=\d{4}-\d{2}-\d{2}$"))
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.get_by_role("button", name="Следующая неделя →").click()
    expect(page).to_have_url(re.compile(rf"/calendar\?from={monday}$"))
    expect(page.locator("#period")).to_contain_text(monday.strftime("%d.%m.%Y"))
    row = page.locator("#calendar-grid tbody tr", has_text="Зал № 3")
    expect(row.get_by_role("rowheader")).to_have_text("Зал № 3 · Медеуский районный суд")
    first = row.locator(f'td[data-day="{tuesday}"] .cal-item')
    expect(first).to_contain_text("10:00–11:30")
    expect(first).to_contain_text("2-501/2026")
    expect(first).to_contain_text("Назначено")
    expect(first.get_by_role("link", name="Пульт судьи")).to_have_attribute(
        "href", f"/judge/{a['id']}")
    expect(first.get_by_role("link", name="Протокол")).to_have_attribute(
        "href", f"/secretary/{a['id']}")
    second = row.locator(f'td[data-day="{thursday}"] .cal-item')
    expect(second).to_contain_text("15:30–16:30")
    expect(second).to_contain_text("Нурланов Е. к АО «Достык»")
    expect(row.locator(".cal-item")).to_have_count(2)
    # the columns are the court's days: Monday first, in the interface language
    expect(page.locator("#calendar-grid thead th").nth(1)).to_contain_text("пн")
    shot(page, artifacts, "calendar-week-desktop")

    # the secretary of the first hearing sees it in the same cell, with the editor's link
    sec_ctx = make_context()
    StaffApi(sec_ctx, "secretary")
    sec = sec_ctx.new_page()
    sec.goto(f"/calendar?from={monday}")
    cell = sec.locator(f'#calendar-grid tbody tr:has-text("Зал № 3") td[data-day="{tuesday}"]')
    expect(cell).to_contain_text("2-501/2026")
    expect(cell.get_by_role("link", name="Протокол")).to_be_visible()
    expect(cell.get_by_role("link", name="Пульт судьи")).to_have_count(0)

    # back a week: the hearings are not there; English labels after a switch
    page.get_by_role("button", name="← Предыдущая неделя").click()
    expect(page).to_have_url(re.compile(rf"/calendar\?from={monday - timedelta(days=7)}$"))
    expect(page.locator("#calendar-grid .cal-item", has_text="2-50")).to_have_count(0)
    page.get_by_label("Язык", exact=True).select_option("en")
    expect(page.get_by_role("button", name="Next week →")).to_be_visible()
    assert not ctx.js_errors and not sec_ctx.js_errors
