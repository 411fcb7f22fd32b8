"""Signing a stenogram version with GOST R 34.10-2012 certificates through the server: the
secretary (512-bit key) and the judge (256-bit key) return detached CMS made by a
GOST test CA, the server checks them with the GOST-signed chain and CRLs, and the exported bundle
passes `courtroom verify --trust` offline, and fails once a byte of the judge's signature
changes. The storing of certificate signatures on both databases is
test_hearing_cms_sign.py's; here, SQLite only (GOST in pure Python is slow)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile

import pytest

from hearing import cli
from stenogram.canonical import canonical_bytes
from stenogram.cms import cert_fingerprint

from hearing_testlib import app_with_users, login, schedule
from support.gost_pki import crypto, shared_ca

SEC_ID, JUDGE_ID = "IIN800101400111", "IIN700101300222"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def ca():
    return shared_ca()


@pytest.fixture
def app_db(db_url, tmp_path, ca):
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "root.pem").write_bytes(ca.root_pem())
    return app_with_users(db_url, tmp_path, transcribe=False, cms_trust_dir=str(trust),
                          cms_signers=f"secretary={SEC_ID}, judge={JUDGE_ID}")


def courtroom_verify(path, *trust):
    args = [a for fp in trust for a in ("--trust", fp)]
    return subprocess.run([sys.executable, "-m", "hearing.cli", "verify", str(path), *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_gost_signed_version_verifies_offline(aiohttp_client, app_db, ca, tmp_path,
                                                    capsys):
    app, db, ids = app_db
    judge = await login(aiohttp_client, app, "judge")
    sec = await login(aiohttp_client, app, "secretary")
    hid = (await schedule(judge, ids["secretary"]))["id"]
    assert (await sec.post(f"/api/hearings/{hid}/stenogram/versions")).status == 201
    url = f"/api/hearings/{hid}/stenogram/versions/1/cms"

    for who, role, leaf in ((sec, "secretary", ca.leaves["Secretary 512"]),
                            (judge, "judge", ca.leaves["Judge 256"])):
        req = await (await who.get(url)).json()
        data = base64.b64decode(req["data"])
        r = await who.post(url, json={"role": role, "signed_at": req["signed_at"],
                                      "cms": b64(leaf.sign(data, ca.inter)),
                                      "crls": [b64(c) for c in ca.crls()], "ocsp": []})
        assert r.status == 200, await r.text()
    assert (await r.json())["status"] == "signed"

    r = await sec.get(f"/api/hearings/{hid}/bundle")
    assert r.status == 200
    path = tmp_path / "bundle.zip"
    path.write_bytes(await r.read())
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    keys = [json.loads(b) for n, b in files.items() if n.startswith("keys/")]
    server_key = next(k["key_id"] for k in keys if k["algorithm"] == "ed25519")
    root = cert_fingerprint(crypto(ca.root))
    out = courtroom_verify(path, root, server_key)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("cms key of") == 2 and JUDGE_ID in out.stdout

    # one byte of the judge's CMS changed (and the manifest redone, as a forger would)
    doc = json.loads(files["signatures/v0001.json"])
    sig = bytearray(base64.b64decode(doc[-1]["signature"]))
    sig[-3] ^= 1
    doc[-1]["signature"] = b64(bytes(sig))
    files["signatures/v0001.json"] = canonical_bytes(doc)
    man = json.loads(files["manifest.json"])
    man["files"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                    for n, b in files.items() if n != "manifest.json"}
    files["manifest.json"] = canonical_bytes(man)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    capsys.readouterr()
    assert cli.main(["verify", str(bad), "--trust", root, "--trust", server_key]) == 1
    assert "judge" in capsys.readouterr().out
