"""The phone's listening switch: once the court says an interpreter interprets into a language,
the phone offers "Слушать: зал / перевод (kk)", large enough for a thumb and usable from the
keyboard, and the server forwards what the participant chose."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admitted_phone

pytestmark = pytest.mark.slow


def listening(server, hearing_id: int, media_id: str) -> tuple | None:
    """What the hearing's room forwards to one participant: (channel, language)."""
    from hearing.api.context import STATE

    async def read():
        live = server.app[STATE].live.get(hearing_id)
        p = live.room.participants.get(media_id) if live else None
        return (p.listen, p.listen_language) if p else None
    return server.call(read())


def wait_until(predicate, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.2)


def test_phone_chooses_the_floor_or_the_interpretation(server, make_context):
    judge = StaffApi(make_context(), "judge")
    hid = judge.hearing()["id"]
    interpreter = judge.post(f"/api/hearings/{hid}/participants",
                             {"role": "interpreter", "display_name": "Сейтова А."})
    judge.post(f"/api/hearings/{hid}/transitions", {"to": "open"})
    ctx, phone, inv = admitted_phone(make_context, judge, hid)
    media_id = f"p{inv['participant']['id']}"
    switch = phone.locator("#listen")
    expect(switch).to_be_hidden()  # nobody interprets yet

    r = judge.ctx.request.put(f"/api/hearings/{hid}/participants/{interpreter['id']}/interpretation",
                              data={"into": "kk", "from": "ru"}, headers={"X-CSRF-Token": judge.csrf})
    assert r.ok, r.text()
    expect(switch).to_be_visible()
    expect(switch).to_have_accessible_name("Слушать:")
    floor = switch.get_by_role("button", name="Зал")
    kazakh = switch.get_by_role("button", name="Перевод (kk)")
    for b in (floor, kazakh):
        expect(b).to_have_attribute("aria-pressed", "false")
        assert b.bounding_box()["height"] >= 44

    kazakh.focus()
    phone.keyboard.press("Enter")
    expect(kazakh).to_have_attribute("aria-pressed", "true")
    expect(floor).to_have_attribute("aria-pressed", "false")
    wait_until(lambda: listening(server, hid, media_id) == ("interpretation", "kk"))

    floor.focus()
    phone.keyboard.press("Space")
    expect(floor).to_have_attribute("aria-pressed", "true")
    expect(kazakh).to_have_attribute("aria-pressed", "false")
    wait_until(lambda: listening(server, hid, media_id) == ("floor", None))
    floor.click()  # pressed again: back to hearing everyone
    expect(floor).to_have_attribute("aria-pressed", "false")
    wait_until(lambda: listening(server, hid, media_id) == ("all", None))
    assert not ctx.js_errors
