"""The secretary signs a version with her own certificate in the browser: the panel shows the
bytes to sign (download, SHA-256, QR code of the signing link), takes the .p7s file and the
CRLs, names a refusal in Russian, and shows the version signed by the secretary."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from conftest import StaffApi
from support.pki import make_ca

SERIAL = "IIN850505400555"


@pytest.fixture
def cms_server(server, tmp_path):
    """The session's server with certificate signing set up for the secretary."""
    ca = make_ca()
    ca.leaf("Ким Е.В.", SERIAL)
    (tmp_path / "root.pem").write_bytes(ca.root_pem())
    before = (server.config.cms_trust_dir, server.config.cms_signers)
    server.config.cms_trust_dir, server.config.cms_signers = str(tmp_path), f"secretary={SERIAL}"
    yield ca
    server.config.cms_trust_dir, server.config.cms_signers = before


def test_secretary_signs_with_her_certificate(server, cms_server, make_context, tmp_path):
    ca = cms_server
    leaf = ca.leaves["Ким Е.В."]
    ctx = make_context(media=False)
    sec = StaffApi(ctx, "secretary")
    judge = StaffApi(make_context(media=False), "judge")
    hid = judge.hearing(server.users["secretary"])["id"]
    sec.post(f"/api/hearings/{hid}/stenogram/versions")
    page = ctx.new_page()
    page.goto(f"/secretary/{hid}")
    slot = page.locator("#sign-slot")
    slot.get_by_role("button", name="Подписать сертификатом").click()
    panel = slot.get_by_test_id("cms-panel")
    expect(panel.get_by_role("img", name="QR-код ссылки на подпись для приложения на телефоне")
           ).to_be_visible()
    expect(panel).to_contain_text("SHA-256")
    href = panel.get_by_role("link", name="Скачать подписываемые данные").get_attribute("href")
    data = base64.b64decode(href.split(",", 1)[1])

    crls = []
    for i, crl in enumerate(ca.crls()):
        crls.append(tmp_path / f"ca{i}.crl")
        crls[-1].write_bytes(crl)
    p7s = tmp_path / "protocol.p7s"
    # a signature over other bytes first: refused, and the page says why
    p7s.write_bytes(leaf.sign(data + b" ", ca.inter))
    panel.get_by_label("Открепленная подпись CMS (.p7s)").set_input_files(str(p7s))
    panel.get_by_label("Списки отозванных сертификатов (.crl)").set_input_files(
        [str(c) for c in crls])
    panel.get_by_role("button", name="Отправить подпись").click()
    expect(page.get_by_text("Подпись поставлена не под этой версией.")).to_be_visible()

    p7s.write_bytes(leaf.sign(data, ca.inter))
    panel.get_by_label("Открепленная подпись CMS (.p7s)").set_input_files(str(p7s))
    panel.get_by_role("button", name="Отправить подпись").click()
    version = slot.get_by_test_id("versions").locator("li").first
    expect(version).to_contain_text("подписана секретарём")
    expect(version).to_contain_text("Секретарь:")
    assert not ctx.js_errors
