"""The second model's proposals in the secretary's editor: each shown as a word difference
against the segment's text; accepting one changes the segment, rejecting one leaves it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, shot
from stenogram import Segment
from stenogram.segments import Word

pytestmark = pytest.mark.slow


def machine(server, hid, sid, source, text, start_ms):
    from hearing.api.context import STATE
    seg = Segment(sid, source, start_ms, start_ms + 2000, text, (), "ru", "live",
                  speaker=source)
    server.call(server.app[STATE].transcripts.add_final(hid, seg))


def propose(server, hid, sid, text):
    from hearing.api.context import STATE
    words = [Word(w, 0, 0, 0.9) for w in text.split()]

    def work(s, draft):  # noqa: ANN001
        return draft.apply(s, lambda t: t.propose(sid, text, words, model="large-v3/float16"))
    store = server.app[STATE].transcripts
    server.call(store.change(hid, lambda draft: server.db.run(lambda s: work(s, draft))))


def test_secretary_accepts_one_proposal_and_rejects_another(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing(secretary_id=server.users["secretary"])
    source = f"p{judge.invite(h['id'], 'witness', 'Сидоров С.С.')['participant']['id']}"
    machine(server, h["id"], "a1", source, "Пароль верен.", 1000)
    machine(server, h["id"], "a2", source, "Введите паспорт.", 4000)
    propose(server, h["id"], "a1", "Пароль неверен.")
    propose(server, h["id"], "a2", "Введите пароль.")

    ctx = make_context()
    StaffApi(ctx, "secretary")
    page = ctx.new_page()
    page.goto(f"/secretary/{h['id']}")
    card = page.locator("#proposals-card")
    items = card.locator("li.proposal")
    expect(items).to_have_count(2, timeout=30_000)
    first = items.filter(has=page.locator("ins", has_text="неверен."))
    expect(first.locator("del")).to_have_text("верен.")
    expect(first).to_contain_text("large-v3/float16")
    shot(page, artifacts, "proposals")
    first.get_by_role("button", name="Принять").click()
    segs = page.locator("#segments .segment")
    expect(segs.first).to_contain_text("Пароль неверен.", timeout=30_000)
    expect(items).to_have_count(1)
    items.first.get_by_role("button", name="Отклонить").click()
    expect(items).to_have_count(0, timeout=30_000)
    expect(segs.nth(1)).to_contain_text("Введите паспорт.")
    t = judge.get(f"/api/hearings/{h['id']}/transcript")
    assert [s["text"] for s in t["segments"]] == ["Пароль неверен.", "Введите паспорт."]
