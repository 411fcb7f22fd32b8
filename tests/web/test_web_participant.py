"""The participant's phone page: invite link, device check, lobby, admission, raise hand,
a denied microphone, the reconnecting state after a network drop, and evidence upload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import StaffApi, admitted_phone, shot

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
    phone.get_by_role("button", name="Продолжить").press("Enter")  # the keyboard is enough
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


def test_network_drop_shows_reconnecting_and_rejoins(server, make_context, artifacts):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "open"})
    ctx, phone, inv = admitted_phone(make_context, judge, h["id"])
    expect(phone.locator("body")).to_have_attribute("data-conn", "online")
    ctx.set_offline(True)
    banner = phone.locator("#conn-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Связь потеряна. Переподключение…")
    shot(phone, artifacts, "join-reconnecting-phone")
    # While the phone is away the judge recesses; back online, the page catches up by itself.
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "recess"})
    ctx.set_offline(False)
    expect(banner).to_have_text("Связь восстановлена.")
    expect(phone.locator("#phase-hearing")).to_be_visible()  # still in the hearing, not the lobby
    expect(phone.locator("#hearing-state")).to_have_text("Перерыв")
    expect(banner).to_be_hidden(timeout=6000)
    phone.set_viewport_size({"width": 1366, "height": 900})
    shot(phone, artifacts, "join-hearing-desktop")


def test_evidence_upload_from_the_phone(server, make_context, artifacts, tmp_path):
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "open"})
    ctx, phone, inv = admitted_phone(make_context, judge, h["id"], name="Петров П.П.")
    phone.get_by_role("button", name="Доказательства").click()
    expect(phone.get_by_role("heading", name="Представить доказательство")).to_be_visible()
    # A real recording from the phone's microphone, made with the page's own recorder.
    phone.get_by_role("button", name="Записать аудио").click()
    expect(phone.locator("#rec-status")).to_have_text("Идёт запись…")
    phone.wait_for_timeout(2500)
    phone.get_by_role("button", name="Остановить запись").click()
    expect(phone.locator("#upload-status")).to_have_text("Суд получил файл.", timeout=30000)
    expect(phone.locator("#upload-progress")).to_have_attribute("value", "100")
    shot(phone, artifacts, "join-evidence-phone")
    items = judge.get(f"/api/hearings/{h['id']}/evidence")["evidence"]
    assert len(items) == 1 and items[0]["kind"] == "audio" and items[0]["status"] == "pending"
    assert items[0]["size"] > 1000
    mine = phone.locator("#my-evidence li")
    assert items[0]["sha256"][:16] in mine.locator("small").first.inner_text()
    expect(mine.locator(".decision")).to_have_text("на рассмотрении")
    # The judge's decision reaches the phone.
    judge.post(f"/api/hearings/{h['id']}/evidence/{items[0]['id']}/decision",
               {"decision": "accept", "reason": "Приобщено к делу"})
    expect(mine.locator(".decision")).to_have_text("принято — Приобщено к делу")


def test_two_phones_see_and_hear_each_other(server, make_context, artifacts):
    """Real WebRTC through the server's media room: each phone gets a tile for the other,
    named from the participant list, with the other's voice lighting the speaking mark."""
    judge = StaffApi(make_context(), "judge")
    h = judge.hearing()
    judge.post(f"/api/hearings/{h['id']}/transitions", {"to": "open"})
    _, witness, w_inv = admitted_phone(make_context, judge, h["id"], name="Сидоров С.С.")
    _, plaintiff, p_inv = admitted_phone(make_context, judge, h["id"], name="Петрова П.П.")
    w_tile = witness.locator(f'#tiles .tile[data-source="p{p_inv["participant"]["id"]}"]')
    p_tile = plaintiff.locator(f'#tiles .tile[data-source="p{w_inv["participant"]["id"]}"]')
    expect(w_tile).to_contain_text("Петрова П.П. · Свидетель", timeout=45_000)
    expect(p_tile).to_contain_text("Сидоров С.С. · Свидетель", timeout=45_000)
    # Both microphones play speech: the other's tile shows them speaking.
    expect(w_tile).to_have_class(re.compile(r"\bspeaking\b"), timeout=30_000)
    assert witness.locator(f'#tiles .tile[data-source="p{p_inv["participant"]["id"]}"] video').evaluate(
        "v => v.srcObject && v.srcObject.getAudioTracks().length") == 1
    shot(witness, artifacts, "join-two-phones-phone")
    # A network drop on the witness's phone: it rejoins with a fresh connection and hears the
    # plaintiff again, with one tile for them, not two.
    before = w_tile.get_attribute("data-tracks")
    witness.context.set_offline(True)
    expect(witness.locator("#conn-banner")).to_be_visible()
    witness.context.set_offline(False)
    expect(witness.locator("#phase-hearing")).to_be_visible()
    expect(w_tile).not_to_have_attribute("data-tracks", before, timeout=30_000)
    expect(w_tile).to_have_class(re.compile(r"\bspeaking\b"), timeout=30_000)
    expect(witness.locator("#tiles .tile")).to_have_count(2)
