"""The court's seal on the protocol PDF, through the server on both databases: the secretary and
the judge sign a version with their certificates, the protocol PDF downloaded from the API is
signed by the court's seal (PAdES) and carries the version and both CMS signatures; both then
sign the PDF itself with their certificates (prepared by the server, incremental updates), and
`courtroom verify` passes the stored PDF offline against the court's root; one changed byte
fails it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import subprocess
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption, Encoding,
                                                          PrivateFormat)

from stenogram.cms import load_trust_dir
from stenogram.pades import verify_pdf

from hearing_testlib import app_with_users, login, schedule
from support.pki import make_ca

SEC_ID, JUDGE_ID = "IIN800101400111", "IIN700101300222"
SEAL = "Test District Court seal"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def ca():
    ca = make_ca()
    ca.leaf("Secretary", SEC_ID)
    ca.leaf("Judge", JUDGE_ID, kind="rsa")
    ca.leaf(SEAL, "BIN990340001234")
    return ca


@pytest.fixture
def app_db(db_url, tmp_path, ca):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(ca.root_pem())
    seal = ca.leaves[SEAL]
    (tmp_path / "seal.key").write_bytes(seal.key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"seal passphrase")))
    (tmp_path / "seal.pass").write_text("seal passphrase\n")
    (tmp_path / "seal.pem").write_bytes(seal.cert.public_bytes(Encoding.PEM)
                                        + ca.inter.public_bytes(Encoding.PEM))
    return app_with_users(db_url, tmp_path, transcribe=False, cms_trust_dir=str(trust),
                          cms_signers=f"secretary={SEC_ID}, judge={JUDGE_ID}",
                          seal_key_file=str(tmp_path / "seal.key"),
                          seal_cert_file=str(tmp_path / "seal.pem"),
                          seal_key_passphrase_file=str(tmp_path / "seal.pass"))


def courtroom_verify(pdf, trust) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(pdf), "--trust",
                           str(trust)], capture_output=True, text=True)


async def test_protocol_pdf_carries_the_court_seal(aiohttp_client, app_db, ca, tmp_path):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 201
    # a version nobody signed yet: its PDF is an unsigned draft
    assert b"/ETSI.CAdES.detached" not in await (await sec.get(
        f"/api/hearings/{hid}/export/pdf")).read()
    url = f"/api/hearings/{hid}/stenogram/versions/1/cms"
    for who, role, leaf in ((sec, "secretary", "Secretary"), (judge, "judge", "Judge")):
        req = await (await who.get(url)).json()
        r = await who.post(url, json={
            "role": role, "signed_at": req["signed_at"], "crls": [b64(c) for c in ca.crls()],
            "cms": b64(ca.leaves[leaf].sign(base64.b64decode(req["data"]), ca.inter))})
        assert r.status == 200, await r.text()
    version = (await r.json())["sha256"]

    r = await sec.get(f"/api/hearings/{hid}/export/pdf")
    assert r.status == 200 and r.content_type == "application/pdf"
    sealed = await r.read()
    anchors = load_trust_dir(tmp_path / "trust")
    checks = await asyncio.to_thread(verify_pdf, sealed, anchors)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert [c.detail.split(",")[0] for c in checks if c.name.startswith("signature ")] == [SEAL]

    # then each signs the protocol PDF itself with the same certificate: the server prepares
    # the field, the signer's software signs the presented bytes (a detached CMS)
    for who, leaf in ((sec, "Secretary"), (judge, "Judge")):
        r = await who.post(f"/api/hearings/{hid}/stenogram/versions/1/pdf-prepare")
        assert r.status == 201, await r.text()
        req = await r.json()
        data = base64.b64decode(req["data"])
        assert base64.b64decode(req["digest"]) == hashlib.sha256(data).digest()
        body = {"prepared_sha256": req["prepared_sha256"], "crls": [b64(c) for c in ca.crls()]}
        # a signature over other bytes is refused, and stores nothing
        r = await who.post(f"/api/hearings/{hid}/stenogram/versions/1/pdf-signature", json={
            **body, "cms": b64(ca.leaves[leaf].sign(data + b"x", ca.inter))})
        assert r.status == 422 and (await r.json())["error"] == "wrong_hash"
        r = await who.post(f"/api/hearings/{hid}/stenogram/versions/1/pdf-signature", json={
            **body, "cms": b64(ca.leaves[leaf].sign(data, ca.inter))})
        assert r.status == 200, await r.text()
    assert (await r.json())["signatures"] == [SEAL, "Secretary", "Judge"]
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions/1/pdf-prepare")).status == 409

    r = await sec.get(f"/api/hearings/{hid}/export/pdf")
    pdf = tmp_path / "protocol.pdf"
    pdf.write_bytes(await r.read())
    # the stored PDF is the protocol now: the same bytes at every download and in the bundle
    assert await (await judge.get(f"/api/hearings/{hid}/export/pdf")).read() == pdf.read_bytes()
    r = await sec.get(f"/api/hearings/{hid}/bundle")
    with zipfile.ZipFile(io.BytesIO(await r.read())) as zf:
        assert zf.read("documents/protocol.pdf") == pdf.read_bytes()
    out = courtroom_verify(pdf, tmp_path / "trust")
    assert out.returncode == 0, out.stdout + out.stderr
    assert SEAL in out.stdout and version in out.stdout and "'judge: " in out.stdout
    assert SEC_ID in out.stdout and JUDGE_ID in out.stdout  # both CMS signatures attached
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert version in text

    # one changed byte fails (the same check `courtroom verify` runs, here in a thread)
    data = bytearray(pdf.read_bytes())
    data[len(data) // 3] ^= 0x01
    failed = [c for c in await asyncio.to_thread(verify_pdf, bytes(data), anchors) if not c.ok]
    assert failed, "a changed byte went unnoticed"


def test_check_config_names_a_seal_that_does_not_load(ca, tmp_path):
    """A wrong passphrase or a certificate of another key is said at start-up, by setting."""
    from hearing.config import Config
    from hearing.preflight import check
    seal = ca.leaves[SEAL]
    (tmp_path / "seal.key").write_bytes(seal.key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"seal passphrase")))
    (tmp_path / "wrong.pass").write_text("not it\n")
    (tmp_path / "judge.pem").write_bytes(ca.leaves["Judge"].cert.public_bytes(Encoding.PEM))
    base = {"data_dir": tmp_path / "data", "transcribe": False, "transcribe_evidence": False,
            "seal_key_file": str(tmp_path / "seal.key")}
    wrong_pass = check(Config(**base, seal_cert_file=str(tmp_path / "judge.pem"),
                              seal_key_passphrase_file=str(tmp_path / "wrong.pass")),
                       database=False)
    assert [p.setting for p in wrong_pass] == ["seal_key_file"]
    (tmp_path / "right.pass").write_text("seal passphrase\n")
    other_key = check(Config(**base, seal_cert_file=str(tmp_path / "judge.pem"),
                             seal_key_passphrase_file=str(tmp_path / "right.pass")),
                      database=False)
    assert "not for its key" in str(other_key[0])
    (tmp_path / "seal.pem").write_bytes(seal.cert.public_bytes(Encoding.PEM))
    assert check(Config(**base, seal_cert_file=str(tmp_path / "seal.pem"),
                        seal_key_passphrase_file=str(tmp_path / "right.pass")),
                 database=False) == []
