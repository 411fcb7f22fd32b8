"""Detached CMS signatures by a certificate the signer holds, made by OpenSSL (through
`cryptography`) with a test CA made here: root, intermediate, RSA and ECDSA leaves, a revoked
leaf on the intermediate's CRL, an expired leaf. The verifier accepts good signatures and names
each refusal; a bundle carrying CMS signatures verifies offline and fails when one byte of a
signed statement changes."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from stenogram.bundle import write_bundle
from stenogram.canonical import canonical_bytes
from stenogram.cms import CmsError, TrustAnchors, key_info, load_trust_dir, verify_detached
from stenogram.verify import verify_bundle
from stenogram.version import signature_record, signing_statement

from support.pki import make_ca
from support.synthetic import build_synthetic_hearing

DATA = canonical_bytes({"version_sha256": "ab" * 32, "role": "secretary",
                        "signed_at": "2026-01-01T00:00:00Z"})


@pytest.fixture(scope="module")
def ca():
    ca = make_ca()
    ca.leaf("Secretary ECDSA", "IIN800101400111", kind="ecdsa")
    ca.leaf("Judge RSA", "IIN700101300222", kind="rsa")
    ca.revoke(ca.leaf("Revoked", "IIN900101400333"))
    ca.leaf("Expired", "IIN900101400444", expired=True)
    return ca


def anchors(ca):
    return TrustAnchors((ca.root,), ())


def now():
    return datetime.now(timezone.utc)


@pytest.mark.parametrize("name", ["Secretary ECDSA", "Judge RSA"])
def test_good_signature_verifies_with_chain_and_crls(ca, name):
    leaf = ca.leaves[name]
    got = verify_detached(leaf.sign(DATA, ca.inter), DATA, anchors=anchors(ca), at=now(),
                          crls=ca.crls())
    assert got.signer == leaf.cert
    assert got.chain == (leaf.cert, ca.inter, ca.root)
    assert len(got.crls) == 2


def test_intermediate_from_the_trust_folder(ca, tmp_path):
    (tmp_path / "root.pem").write_bytes(ca.root_pem())
    from cryptography.hazmat.primitives.serialization import Encoding
    (tmp_path / "inter.crt").write_bytes(ca.inter.public_bytes(Encoding.PEM))
    trust = load_trust_dir(tmp_path)
    assert trust.roots == (ca.root,) and trust.intermediates == (ca.inter,)
    leaf = ca.leaves["Judge RSA"]
    # the CMS carries only the signer's certificate: the intermediate comes from the folder
    assert verify_detached(leaf.sign(DATA), DATA, anchors=trust, at=now(),
                           crls=ca.crls()).chain[-1] == ca.root


def refusal(ca, cms, data=DATA, **kw):
    with pytest.raises(CmsError) as e:
        verify_detached(cms, data, **{"anchors": anchors(ca), "at": now(), "crls": ca.crls(),
                                      **kw})
    return e.value.code


def test_one_changed_byte_fails(ca):
    leaf = ca.leaves["Secretary ECDSA"]
    cms = leaf.sign(DATA, ca.inter)
    changed = DATA.replace(b"secretary", b"secretarz")
    assert refusal(ca, cms, changed) == "wrong_hash"
    # a flipped byte in the signature value itself (the last bytes of the DER)
    bad = bytearray(cms)
    bad[-5] ^= 0x01
    assert refusal(ca, bytes(bad)) in ("bad_signature", "malformed")


def test_revoked_leaf_refused(ca):
    assert refusal(ca, ca.leaves["Revoked"].sign(DATA, ca.inter)) == "revoked"


def test_expired_leaf_refused(ca):
    assert refusal(ca, ca.leaves["Expired"].sign(DATA, ca.inter)) == "expired"


def test_unknown_root_refused(ca):
    other = make_ca("Some Other Root")
    stranger = other.leaf("Stranger", "IIN1")
    code = refusal(ca, stranger.sign(DATA, other.inter, other.root),
                   crls=ca.crls() + other.crls())
    assert code == "unknown_root"


def test_missing_or_stale_revocation_data_refused(ca):
    cms = ca.leaves["Judge RSA"].sign(DATA, ca.inter)
    assert refusal(ca, cms, crls=[ca.root_crl()]) == "no_revocation"
    # the same CRLs, a year later, are no longer current
    assert refusal(ca, cms, at=now() + timedelta(days=200)) == "no_revocation"


def test_ocsp_answers_stand_for_the_leaf_crl(ca):
    good, revoked = ca.leaves["Judge RSA"], ca.leaves["Revoked"]
    got = verify_detached(good.sign(DATA, ca.inter), DATA, anchors=anchors(ca), at=now(),
                          crls=[ca.root_crl()], ocsp_responses=[ca.ocsp(good)])
    assert len(got.ocsp) == 1 and len(got.crls) == 1
    assert refusal(ca, revoked.sign(DATA, ca.inter), crls=[ca.root_crl()],
                   ocsp_responses=[ca.ocsp(revoked)]) == "revoked"
    # an answer whose signature does not verify (its last byte changed) shows nothing
    forged = bytearray(ca.ocsp(good))
    forged[-1] ^= 0x01
    forged = bytes(forged)
    assert refusal(ca, good.sign(DATA, ca.inter), crls=[ca.root_crl()],
                   ocsp_responses=[forged]) == "no_revocation"
    # an answer about another certificate neither
    assert refusal(ca, good.sign(DATA, ca.inter), crls=[ca.root_crl()],
                   ocsp_responses=[ca.ocsp(ca.leaves["Secretary ECDSA"])]) == "no_revocation"


def test_not_cms_refused(ca):
    assert refusal(ca, b"\x30\x03\x02\x01\x01") == "malformed"


def test_bundle_with_cms_signatures_verifies_offline(ca, tmp_path):
    h = build_synthetic_hearing(segments=20, revisions=3, versions=1)
    v = h.versions[-1]
    sigs, keys = [], [h.server_signer.public_key_info()]
    for role, name in (("secretary", "Secretary ECDSA"), ("judge", "Judge RSA")):
        leaf = ca.leaves[name]
        stmt = signing_statement(v, role=role, user_id=f"p-{role}", name=name, signatures=sigs,
                                 signed_at=now().isoformat().replace("+00:00", "Z"))
        cms = leaf.sign(canonical_bytes(stmt), ca.inter)
        got = verify_detached(cms, canonical_bytes(stmt), anchors=anchors(ca), at=now(),
                              crls=ca.crls())
        sigs.append(signature_record(stmt, algorithm="cms", key_id=got.key_id, signature=cms))
        keys.append(key_info(got, name))
    path = tmp_path / "OUT.zip"
    write_bundle(path, versions=h.versions, signatures=sigs, public_keys=keys,
                 revisions=h.transcript.revisions, audit_rows=h.audit_rows,
                 tree_heads=h.tree_heads, media=None, documents={})
    checks = verify_bundle(path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    # trusting the court's root by its fingerprint vouches for both certificate signers
    trusted = [keys[1]["root_fingerprint"], h.server_signer.key_id]
    assert all(c.ok for c in verify_bundle(path, trusted_keys=trusted))

    # one byte of the judge's signed statement changed (and the manifest redone by a forger)
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(files["signatures/v0001.json"])
    doc[-1]["statement"]["signer"]["name"] += "."
    files["signatures/v0001.json"] = canonical_bytes(doc)
    man = json.loads(files["manifest.json"])
    man["files"] = {n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                    for n, b in files.items() if n != "manifest.json"}
    files["manifest.json"] = canonical_bytes(man)
    bad = tmp_path / "BAD.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    failed = [c.name for c in verify_bundle(bad) if not c.ok]
    assert failed == ["version 1: signatures verify, secretary then judge",
                      "latest version is signed by secretary and judge"], failed


def test_gost_digest_with_rsa_key_is_refused_as_unsupported(ca):
    """A Streebog-256 digest on an RSA signer is refused by name (GOST digests go with GOST
    keys only), never mistaken for a bad or a good one."""
    from asn1crypto import cms as acms
    ci = acms.ContentInfo.load(ca.leaves["Judge RSA"].sign(DATA, ca.inter))
    si = ci["content"]["signer_infos"][0]
    si["digest_algorithm"] = {"algorithm": "1.2.643.7.1.1.2.2"}
    with pytest.raises(CmsError, match="GOST") as e:
        verify_detached(ci.dump(force=True), DATA, anchors=anchors(ca), at=now(),
                        crls=ca.crls())
    assert e.value.code == "unsupported"


def test_a_key_record_cannot_claim_another_root(ca):
    """Trust in a certificate signer comes from the root its chain really ends in, not from
    the record's own root_fingerprint field."""
    from stenogram.cms import root_fingerprint
    from stenogram.signing import key_info_problems
    other = make_ca("Other Root")
    leaf = other.leaf("Stranger", "IIN1")
    got = verify_detached(leaf.sign(DATA, other.inter), DATA, anchors=TrustAnchors((other.root,)),
                          at=now(), crls=other.crls())
    info = key_info(got, "stranger")
    assert key_info_problems(info) == []
    info["root_fingerprint"] = key_info(verify_detached(
        ca.leaves["Judge RSA"].sign(DATA, ca.inter), DATA, anchors=anchors(ca), at=now(),
        crls=ca.crls()), "judge")["root_fingerprint"]
    assert key_info_problems(info) == ["root_fingerprint is not the fingerprint of the chain's "
                                       "root"]
    assert root_fingerprint(info) != info["root_fingerprint"]
