"""Signing a stenogram version with a certificate the signer holds, through the server, on both
databases: the server presents the statement (bytes, SHA-256, a link and its QR code), takes a
detached CMS made by OpenSSL with a test CA's certificate and the CRLs, refuses each bad
signature with a 4xx naming the problem, stores good ones, and the bundle verifies offline."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from stenogram.cms import cert_fingerprint
from stenogram.verify import verify_bundle

from hearing_testlib import app_with_users, login, schedule
from support.pki import make_ca

SEC_ID, JUDGE_ID = "IIN800101400111", "IIN700101300222"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def ca():
    ca = make_ca()
    ca.leaf("Secretary", SEC_ID, kind="ecdsa")
    ca.leaf("Judge", JUDGE_ID, kind="rsa")
    # the secretary's older certificates: one revoked, one expired
    ca.revoke(ca.leaf("Secretary revoked", SEC_ID))
    ca.leaf("Secretary expired", SEC_ID, expired=True)
    return ca


@pytest.fixture
def app_db(db_url, tmp_path, ca):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(ca.root_pem())
    return app_with_users(db_url, tmp_path, transcribe=False, cms_trust_dir=str(trust),
                          cms_signers=f"secretary={SEC_ID}, judge={JUDGE_ID}")


async def test_sign_with_certificates(aiohttp_client, app_db, ca, tmp_path):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    r = await sec.post(f"/api/hearings/{hid}/stenogram/versions")
    assert r.status == 201, await r.text()
    url = f"/api/hearings/{hid}/stenogram/versions/1/cms"

    r = await sec.get(url)
    assert r.status == 200, await r.text()
    req = await r.json()
    data = base64.b64decode(req["data"])
    assert req["role"] == "secretary" and hashlib.sha256(data).hexdigest() == req["sha256"]
    assert req["statement"]["version_sha256"] == req["version_sha256"]
    assert req["qr_png"].startswith("data:image/png;base64,") and "signed_at=" in req["link"]

    async def post(who, leaf, signed, *, role="secretary", crls=None, at=None, extra=(),
                   ocsp=()):
        body = {"role": role, "signed_at": at or req["signed_at"],
                "cms": b64(leaf.sign(signed, ca.inter, *extra)),
                "crls": [b64(c) for c in (ca.crls() if crls is None else crls)],
                "ocsp": [b64(c) for c in ocsp]}
        r = await who.post(url, json=body)
        return r.status, await r.json()

    refusals = {
        "wrong_hash": await post(sec, ca.leaves["Secretary"], data + b" "),
        "revoked": await post(sec, ca.leaves["Secretary revoked"], data),
        "expired": await post(sec, ca.leaves["Secretary expired"], data),
        "no_revocation": await post(sec, ca.leaves["Secretary"], data, crls=[]),
    }
    for code, (status, body) in refusals.items():
        assert (status, body["error"]) == (422, code), body
    other = make_ca("Unknown Root")
    stranger = other.leaf("Stranger", SEC_ID)
    status, body = await post(sec, stranger, data, extra=(other.root,), crls=other.crls())
    assert (status, body["error"]) == (422, "unknown_root"), body
    # a valid certificate of someone else (the judge's) is not the secretary's
    status, body = await post(sec, ca.leaves["Judge"], data)
    assert status == 403 and JUDGE_ID in body["message"], body
    status, body = await post(sec, ca.leaves["Secretary"], data, role="judge")
    assert status == 403, body
    old = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    status, body = await post(sec, ca.leaves["Secretary"], data, at=old)
    assert (status, body["error"]) == (422, "request_expired"), body
    # the judge may not sign before the secretary
    assert (await judge.get(url)).status == 409

    status, body = await post(sec, ca.leaves["Secretary"], data)
    assert status == 200, body
    assert body["status"] == "awaiting_judge"
    assert body["signatures"][0]["kind"] == "cms" and SEC_ID in body["signatures"][0]["subject"]

    # the judge opens the presented link (its signing time) and signs that statement, with an
    # OCSP answer about his certificate instead of the intermediate's CRL
    r = await judge.get(url)
    jreq = await r.json()
    r = await judge.get(url, params={"signed_at": jreq["signed_at"]})
    assert (await r.json())["data"] == jreq["data"]
    status, body = await post(judge, ca.leaves["Judge"], base64.b64decode(jreq["data"]),
                              role="judge", at=jreq["signed_at"], crls=[ca.root_crl()],
                              ocsp=[ca.ocsp(ca.leaves["Judge"])])
    assert status == 200, body
    assert body["status"] == "signed"

    r = await sec.get(f"/api/hearings/{hid}/bundle")
    assert r.status == 200
    path = tmp_path / "bundle.zip"
    path.write_bytes(await r.read())
    checks = verify_bundle(path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    # `courtroom verify` offline, trusting the court's root and the server's audit key
    with zipfile.ZipFile(path) as zf:
        keys = [json.loads(zf.read(n)) for n in zf.namelist() if n.startswith("keys/")]
    server_key = next(k["key_id"] for k in keys if k["algorithm"] == "ed25519")
    out = subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(path), "--trust",
                          cert_fingerprint(ca.root), "--trust", server_key],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("cms key of") == 2 and SEC_ID in out.stdout
    untrusted = [c for c in verify_bundle(path, trusted_keys=[cert_fingerprint(ca.root)])
                 if not c.ok]
    # the root vouches for both certificate signers; only the server's audit key is left
    assert len(untrusted) == 1 and "audit tree heads" in untrusted[0].detail, untrusted
    assert "judge signature" not in untrusted[0].detail
