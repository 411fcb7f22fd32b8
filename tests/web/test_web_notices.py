"""The secretary's notices panel: each notice with its delivery status and last error, and a
failed one sent again with one click."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, shot

pytestmark = pytest.mark.slow


def test_secretary_sees_notices_and_resends_a_failed_one(server, make_context, artifacts):
    from hearing.models import Notice
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing(secretary_id=server.users["secretary"], case_number="2-88/2026")
    ids = []
    for name, contact in (("Сидоров С.С.", "sidorov@example.kz"), ("Петров П.П.", "+77010000001")):
        p = judge.post(f"/api/hearings/{h['id']}/participants",
                       {"role": "witness", "display_name": name, "contact": contact})
        judge.post(f"/api/hearings/{h['id']}/participants/{p['id']}/invites", {})
        ids.append(p["id"])

    def fail_the_sms(s):  # as the notice jobs leave it when the retries run out
        n = s.query(Notice).filter_by(participant_id=ids[1]).one()
        n.status, n.attempts, n.last_error = "failed", 6, "SMS gateway answered HTTP 503"
    server.db.run_sync(fail_the_sms)

    ctx = make_context()
    StaffApi(ctx, "secretary")
    page = ctx.new_page()
    page.goto(f"/secretary/{h['id']}")
    rows = page.locator("#notices-slot tbody tr")
    expect(rows).to_have_count(2)
    queued = page.locator("#notices-slot tr[data-status=queued]")
    expect(queued).to_contain_text("sidorov@example.kz")
    expect(queued).to_contain_text("В очереди")
    expect(queued).to_contain_text("no e-mail server configured")
    failed = page.locator("#notices-slot tr[data-status=failed]")
    expect(failed).to_contain_text("Не отправлено")
    expect(failed).to_contain_text("HTTP 503")
    shot(page, artifacts, "secretary-notices")
    failed.get_by_role("button", name="Отправить снова").click()
    expect(page.locator("#notices-slot tr[data-status=queued]")).to_have_count(2)
    expect(page.locator("#notices-slot button")).to_have_count(1)  # only "Обновить" is left
    assert not ctx.js_errors
