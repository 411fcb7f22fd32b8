"""The participant's phone page: invite link, device check, lobby, admission, raise hand,
a denied microphone, the reconnecting state after a network drop, and evidence upload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, shot

pytestmark = pytest.mark.slow


def test_invite_device_check_lobby_admit_and_hand(server, make_context, artifacts):
    judge_ctx = make_context()
    judge = StaffApi(judge_ctx, "judge")
    h = judge.hearing()
    inv = judge.invite(h["id"])
    pid = inv["participant"]["id"]

    phone = make_context(phone=True).new_page()
    phone.goto(inv["link"].replace("http://127.0.0.1", "http://127.0.0.1"))
    # The token leaves the address bar at once; the page keeps it for reloads.
    expect(phone.locator("#phase-check")).to_be_visible()
    assert "#" not in phone.url
    expect(phone.locator("#you-are")).to_contain_text("Сидоров С.С.")
    expect(phone.locator("#preview")).to_be_visible()
    # The fake microphone plays speech: the level meter moves above silence.
    expect(phone.locator("#mic-level")).to_have_attribute("aria-valuenow", re.compile(r"^(-[1-4]?\d|0)$"))
    shot(phone, artifacts, "join-check-phone")
    phone.get_by_role("button", name="Продолжить").click()
    expect(phone.locator("#phase-lobby")).to_be_visible()
    expect(phone.locator("#lobby-state")).to_have_text("Назначено")
    shot(phone, artifacts, "join-lobby-phone")

    judge.post(f"/api/hearings/{h['id']}/participants/{pid}/admit")
    expect(phone.locator("#phase-hearing")).to_be_visible()
    phone.get_by_role("button", name="Поднять руку").click()
    expect(phone.get_by_role("button", name="Опустить руку")).to_have_attribute("aria-pressed", "true")
    hr = judge.get(f"/api/hearings/{h['id']}")
    assert next(p for p in hr["participants"] if p["id"] == pid)["hand_raised"] is True
    # The judge mutes: the phone says so and its microphone button is disabled.
    judge.post(f"/api/hearings/{h['id']}/participants/{pid}/mute", {"muted": True})
    expect(phone.locator("#muted-notice")).to_be_visible()
    expect(phone.locator("#mic")).to_be_disabled()
    shot(phone, artifacts, "join-hearing-phone")
    # Ejected: the page says so and does not try to reconnect.
    judge.post(f"/api/hearings/{h['id']}/participants/{pid}/eject")
    expect(phone.locator("#phase-ended")).to_be_visible()
    expect(phone.locator("#ended-title")).to_have_text(re.compile("удал", re.I))
    assert not phone.context.js_errors


def test_denied_microphone_shows_help(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    inv = judge.invite(h["id"], role="plaintiff", name="Петрова П.П.")
    ctx = make_context(phone=True, media=False, lang="en")
    page = ctx.new_page()
    page.goto(inv["link"])
    help_box = page.locator("#perm-help")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("Microphone access is blocked")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_role("button", name="Continue", exact=True)).to_be_disabled()
    shot(page, artifacts, "join-denied-phone")
    # Listening without a microphone is still possible.
    page.get_by_role("button", name="Join without microphone").click()
    expect(page.locator("#phase-lobby")).to_be_visible()


def test_bad_invite_is_explained(server, make_context):
    page = make_context(phone=True, lang="kk").new_page()
    page.goto("/join#not-a-real-token")
    expect(page.locator("#phase-error")).to_be_visible()
    expect(page.locator("#error-text")).to_contain_text("Шақыру")
