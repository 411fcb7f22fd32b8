"""Detached CMS signatures with GOST R 34.10-2012 keys (256 and 512 bits, Streebog digests),
made by a GOST test CA built here with asn1crypto and gostcrypto: the chain's certificates, the
CRLs and the OCSP answers are GOST-signed too. Good signatures verify, and each damage or
refusal is named as for RSA and ECDSA; a GOST key record verifies offline."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from asn1crypto import cms as acms

from stenogram import gost
from stenogram.canonical import canonical_bytes
from stenogram.cms import (CmsError, TrustAnchors, key_info, key_info_problems, load_trust_dir,
                           verify_detached, verify_key_info)

from support import pki
from support.gost_pki import crypto, leaf_under_rsa, make_ca, make_key, shared_ca

#: Detached CMS made by OpenSSL 3.0 with its GOST engine (an independent implementation), each
#: by a self-signed certificate it carries: 256-bit on CryptoPro XchA (1.2.643.2.2.36.0) with
#: the digest parameter set in the key, 512-bit on tc26 set C (a twisted Edwards curve).
OPENSSL_DATA = b'{"role":"judge","version_sha256":"00"}'
OPENSSL_CMS = {
    256: (
        "MIIDlQYJKoZIhvcNAQcCoIIDhjCCA4ICAQExDjAMBggqhQMHAQECAgUAMAsGCSqGSIb3DQEHAaCCAZkwggGVMIIB"
        "QKADAgECAhRtay43/PnSo74x7308s4iQGnK9VzAMBggqhQMHAQEDAgUAMCsxHDAaBgNVBAMME09wZW5TU0wgR09T"
        "VCAyNTYgWEExCzAJBgNVBAYTAlJVMCAXDTI2MTIwMzE2NTU0N1oYDzIxMjYxMTA5MTY1NTQ3WjArMRwwGgYDVQQD"
        "DBNPcGVuU1NMIEdPU1QgMjU2IFhBMQswCQYDVQQGEwJSVTBmMB8GCCqFAwcBAQEBMBMGByqFAwICJAAGCCqFAwcB"
        "AQICA0MABEAFU7B1ohSvIUJIh3q9lYr7v9UGs1vSojO6EjG7C/Vv0/f+jgF/3toYm79vlRrtOWtZ9a3Nn4CQZRzs"
        "Uf23fUU/ozEwLzAOBgNVHQ8BAf8EBAMCAYYwHQYDVR0OBBYEFKId38iV56T0LGGYwXuT+eRsV6wQMAwGCCqFAwcB"
        "AQMCBQADQQDgxLBW2B+wzdyyfbl5vmM7/AJcDjczE0ZZ8DRVrmdXoAEItdx7D8dIxSOSKLQk/rOyZbNIUGduHy6S"
        "EUJUlkbTMYIBwTCCAb0CAQEwQzArMRwwGgYDVQQDDBNPcGVuU1NMIEdPU1QgMjU2IFhBMQswCQYDVQQGEwJSVQIU"
        "bWsuN/z50qO+Me99PLOIkBpyvVcwDAYIKoUDBwEBAgIFAKCCARMwGAYJKoZIhvcNAQkDMQsGCSqGSIb3DQEHATAc"
        "BgkqhkiG9w0BCQUxDxcNMjYxMjAzMTY1NTQ3WjAvBgkqhkiG9w0BCQQxIgQgqjRvGdzFLZ8Qljt3YVL1I30AEgXt"
        "65JHdzxkvVBRniUwgacGCSqGSIb3DQEJDzGBmTCBljALBglghkgBZQMEASowCgYIKoUDBwEBAgIwCgYIKoUDBwEB"
        "AgMwCAYGKoUDAgIJMAgGBiqFAwICFTALBglghkgBZQMEARYwCwYJYIZIAWUDBAECMAoGCCqGSIb3DQMHMA4GCCqG"
        "SIb3DQMCAgIAgDANBggqhkiG9w0DAgIBQDAHBgUrDgMCBzANBggqhkiG9w0DAgIBKDAMBggqhQMHAQEBAQUABED2"
        "JzdSXaEJQOFmKl1L7/9lypSsNNPLWQL4/+rM2RTm+MP47tdnMk/t1I0k8AEeCLmP2leP2CXsbLE5TRAS686l"),
    512: (
        "MIIEbwYJKoZIhvcNAQcCoIIEYDCCBFwCAQExDjAMBggqhQMHAQECAwUAMAsGCSqGSIb3DQEHAaCCAhMwggIPMIIB"
        "eaADAgECAhQpXLEp5VFvL1fkL2oqc09g84z2uDAMBggqhQMHAQEDAwUAMCoxGzAZBgNVBAMMEk9wZW5TU0wgR09T"
        "VCA1MTIgQzELMAkGA1UEBhMCUlUwIBcNMjYxMjAzMTY1NTQ3WhgPMjEyNjExMDkxNjU1NDdaMCoxGzAZBgNVBAMM"
        "Ek9wZW5TU0wgR09TVCA1MTIgQzELMAkGA1UEBhMCUlUwgaAwFwYIKoUDBwEBAQIwCwYJKoUDBwECAQIDA4GEAASB"
        "gNQ6e3WoQxH75Jm+kYCp38kaNTzKOGaN2PaRet929d6aVxkGz3mEHgXcetDCaP7zmLaLYSTraWZ1hqqjJZQU+HWa"
        "ghc2Hzz053QdOEZp8GuaKUprBov5lkzhOeEcbMjp5p4LGd5CuvTKnFVEbrO2WqGYuIHBc8oDBjol9UWcRko0ozEw"
        "LzAOBgNVHQ8BAf8EBAMCAYYwHQYDVR0OBBYEFP5xPE++8kH4sOKTEmgz51d/3cZTMAwGCCqFAwcBAQMDBQADgYEA"
        "PPXQ3R4AhKFH4E8dTJVjpQQQ/OyHvaBJqhx++7IttNlhjQCXlGtErlWbMsnzAKdiP5I7ClqKRcX5N68F6dP3Ty8e"
        "IqxFmuFWOK54g2nzolj8RSDmLQXxxDIAPrk7HnKcnM+5Fwki4p79gU7vwjo65PHDHBBXeYr/SPRWUKKjUMUxggIh"
        "MIICHQIBATBCMCoxGzAZBgNVBAMMEk9wZW5TU0wgR09TVCA1MTIgQzELMAkGA1UEBhMCUlUCFClcsSnlUW8vV+Qv"
        "aipzT2DzjPa4MAwGCCqFAwcBAQIDBQCgggEzMBgGCSqGSIb3DQEJAzELBgkqhkiG9w0BBwEwHAYJKoZIhvcNAQkF"
        "MQ8XDTI2MTIwMzE2NTU0N1owTwYJKoZIhvcNAQkEMUIEQByLCvRWkTkh6BD8FUiTLdWxbUXtZza1NQ0fkI/nkF7c"
        "ekfrdfQa029USz1GgBFu22mV6UNBxXWF4fzCA0wrMUkwgacGCSqGSIb3DQEJDzGBmTCBljALBglghkgBZQMEASow"
        "CgYIKoUDBwEBAgIwCgYIKoUDBwEBAgMwCAYGKoUDAgIJMAgGBiqFAwICFTALBglghkgBZQMEARYwCwYJYIZIAWUD"
        "BAECMAoGCCqGSIb3DQMHMA4GCCqGSIb3DQMCAgIAgDANBggqhkiG9w0DAgIBQDAHBgUrDgMCBzANBggqhkiG9w0D"
        "AgIBKDAMBggqhQMHAQEBAgUABIGAP+V/t/PiNuhbjIEXkc8ea/MnLYtLCBuV6c2LSOyYz8KIT5Gg8KhyuWw9LsNS"
        "ezpgSzREcnXlhSE3yxR6DsDrlAmUSIzLEtRdzTrxpgEOJeBA30sXQDAkH+t2d60PyF41xKV5TCLUxitLCubr++/0"
        "EwezndI9XONrUz/6sNxEgK8="),
}

DATA = canonical_bytes({"version_sha256": "cd" * 32, "role": "judge",
                        "signed_at": datetime.now(timezone.utc).isoformat()})


@pytest.fixture(scope="module")
def ca():
    return shared_ca()


def anchors(ca):
    return TrustAnchors((crypto(ca.root),), ())


def now():
    return datetime.now(timezone.utc)


def check(ca, cms_der, data=DATA, **kw):
    kw.setdefault("crls", ca.crls())
    return verify_detached(cms_der, data, anchors=anchors(ca), at=now(), **kw)


def refusal(ca, cms_der, data=DATA, **kw):
    with pytest.raises(CmsError) as e:
        check(ca, cms_der, data, **kw)
    return e.value.code


@pytest.mark.parametrize("name, bits", [("Judge 256", 256), ("Secretary 512", 512),
                                        ("CryptoPro A", 256)])
def test_good_signature_verifies_with_gost_chain_and_crls(ca, name, bits):
    leaf = ca.leaves[name]
    got = check(ca, leaf.sign(DATA, ca.inter))
    assert got.chain == (crypto(leaf.cert), crypto(ca.inter), crypto(ca.root))
    assert len(got.crls) == 2
    assert gost.parse_public_key(leaf.cert.public_key.dump()).bits == bits
    # the signature-with-digest OID in SignerInfo is accepted as well as the key's
    check(ca, leaf.sign(DATA, ca.inter, signature_oid=gost.SIG_256 if bits == 256
                        else gost.SIG_512))


def test_changed_data_or_signature_fails(ca):
    leaf = ca.leaves["Judge 256"]
    sig = leaf.sign(DATA, ca.inter)
    assert refusal(ca, sig, DATA[:-2] + bytes([DATA[-2] ^ 1]) + DATA[-1:]) == "wrong_hash"
    value = acms.ContentInfo.load(sig)["content"]["signer_infos"][0]["signature"].native
    assert sig.endswith(value)  # the signature value closes the DER: damage one byte of it
    assert refusal(ca, sig[:-5] + bytes([sig[-5] ^ 1]) + sig[-4:]) == "bad_signature"


def test_revoked_and_expired_leaves_fail(ca):
    assert refusal(ca, ca.leaves["Revoked"].sign(DATA, ca.inter)) == "revoked"
    assert refusal(ca, ca.leaves["Expired"].sign(DATA, ca.inter)) == "expired"


def test_gost_signed_ocsp_answers(ca):
    good, revoked = ca.leaves["Judge 256"], ca.leaves["Revoked"]
    got = check(ca, good.sign(DATA, ca.inter), crls=[ca.root_crl()], ocsp_responses=[
        ca.ocsp(good)])
    assert len(got.ocsp) == 1
    got = check(ca, good.sign(DATA, ca.inter), crls=[ca.root_crl()], ocsp_responses=[
        ca.ocsp(good, cert_id_bits=256)])  # the CertID by Streebog too
    assert len(got.ocsp) == 1
    assert refusal(ca, revoked.sign(DATA, ca.inter), crls=[ca.root_crl()],
                   ocsp_responses=[ca.ocsp(revoked)]) == "revoked"
    # an answer about another certificate does not count
    assert refusal(ca, good.sign(DATA, ca.inter), crls=[ca.root_crl()],
                   ocsp_responses=[ca.ocsp(revoked)]) == "no_revocation"


def test_untrusted_root_fails(ca):
    other = make_ca("Unknown GOST Root", root_key=make_key(256), inter_key=make_key(256))
    stranger = other.leaf("Stranger", "IIN1", ca.leaves["Judge 256"].key)
    sig = stranger.sign(DATA, other.inter, other.root)
    assert refusal(ca, sig, crls=other.crls()) == "unknown_root"


def test_tampered_certificate_or_crl_fails(ca):
    leaf = ca.leaves["Judge 256"]
    sig = leaf.sign(DATA, ca.inter)
    assert sig.count(b"Judge 256") == 1  # the leaf's common name, in its certificate
    assert refusal(ca, sig.replace(b"Judge 256", b"Judge 25G")) == "unknown_root"
    # a CRL whose signature does not verify is not revocation data
    crl = bytearray(ca.inter_crl())
    crl[-3] ^= 1
    assert refusal(ca, leaf.sign(DATA, ca.inter), crls=[bytes(crl), ca.root_crl()]) \
        == "no_revocation"


def test_kazakh_and_2001_algorithms_are_refused_by_name(ca):
    leaf = ca.leaves["Judge 256"]
    for oid, words in [("1.2.398.3.10.1.1.2.3.2", "Kazakh"),
                       ("1.2.398.3.10.1.1.1.2", "34.310-2004"),
                       ("1.2.643.2.2.3", "2001")]:
        with pytest.raises(CmsError, match=words) as e:
            check(ca, leaf.sign(DATA, ca.inter, signature_oid=oid))
        assert e.value.code == "unsupported"


def test_gost_key_record_verifies_offline_and_trust_folder(ca, tmp_path):
    leaf = ca.leaves["Secretary 512"]
    sig = leaf.sign(DATA, ca.inter)
    info = key_info(check(ca, sig), "secretary")
    assert key_info_problems(info) == []
    assert verify_key_info(info, DATA, sig)
    bad = bytearray(sig)
    bad[-7] ^= 1
    assert not verify_key_info(info, DATA, bytes(bad))
    info["crls"] = [base64.b64encode(ca.root_crl()).decode()]  # the intermediate's is gone
    assert not verify_key_info(info, DATA, sig)
    (tmp_path / "root.pem").write_bytes(ca.root_pem())
    assert load_trust_dir(tmp_path).roots == (crypto(ca.root),)


@pytest.mark.parametrize("bits", [256, 512])
def test_signature_made_by_openssl_gost_engine_verifies(bits):
    sig = base64.b64decode(OPENSSL_CMS[bits])
    cert = acms.ContentInfo.load(sig)["content"]["certificates"][0].chosen
    root = crypto(cert)
    at = datetime(2030, 1, 1, tzinfo=timezone.utc)
    got = verify_detached(sig, OPENSSL_DATA, anchors=TrustAnchors((root,)), at=at)
    assert got.chain == (root,)
    value = acms.ContentInfo.load(sig)["content"]["signer_infos"][0]["signature"].native
    assert sig.endswith(value)
    for bad_sig, data, code in [(sig, OPENSSL_DATA + b" ", "wrong_hash"),
                                (sig[:-9] + bytes([sig[-9] ^ 1]) + sig[-8:], OPENSSL_DATA,
                                 "bad_signature")]:
        with pytest.raises(CmsError) as e:
            verify_detached(bad_sig, data, anchors=TrustAnchors((root,)), at=at)
        assert e.value.code == code


def test_gost_leaf_under_an_rsa_intermediate(ca):
    """A chain may mix families: each signature is checked with its own issuer's key."""
    rsa_ca = pki.make_ca("RSA Root")
    leaf = leaf_under_rsa(rsa_ca.inter, rsa_ca.inter_key, "Mixed", "IIN2",
                          ca.leaves["Judge 256"].key)
    got = verify_detached(leaf.sign(DATA, ca.inter), DATA, at=now(), crls=rsa_ca.crls(),
                          anchors=TrustAnchors((rsa_ca.root,), (rsa_ca.inter,)))
    assert got.chain == (crypto(leaf.cert), rsa_ca.inter, rsa_ca.root)


def test_public_key_off_its_curve_or_of_kazakh_algorithm_is_refused(ca):
    key = ca.leaves["Judge 256"].key
    spki = key.spki().dump()
    point = key.key_bits()  # DER OCTET STRING: X then Y, little-endian
    off = spki.replace(point, point[:-1] + bytes([point[-1] ^ 1]))
    with pytest.raises(gost.GostError) as e:
        gost.parse_public_key(off)
    assert e.value.code == "malformed"
    with pytest.raises(gost.GostError, match="Kazakh") as e:
        gost.parse_public_key(key.spki("1.2.398.3.10.1.1.2.1").dump())
    assert e.value.code == "unsupported"
