"""A GOST R 34.10-2012 test certificate authority made on the spot: a root and an intermediate,
signing leaves with 256- and 512-bit keys (one revoked, one expired), GOST-signed CRLs and OCSP
answers, and detached CMS signatures (Streebog digests, signed attributes). Certificates are
built with ``asn1crypto`` and signed with ``gostcrypto`` (with ``stenogram.gost.curve``'s faster
point arithmetic), encoded by RFC 9215 (little-endian public key, big-endian s || r signature)
independently of ``stenogram.gost``'s reader; OpenSSL's GOST engine accepts what it makes."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from asn1crypto import algos, cms, core, keys, ocsp, x509
from asn1crypto import crl as acrl
from cryptography import x509 as cx509
from gostcrypto import gosthash
from gostcrypto.gostsignature import gost_34_10_2012 as g3410

from stenogram import gost

NOW = datetime.now(timezone.utc).replace(microsecond=0)

KEY_OID = {256: "1.2.643.7.1.1.1.1", 512: "1.2.643.7.1.1.1.2"}
SIG_OID = {256: "1.2.643.7.1.1.3.2", 512: "1.2.643.7.1.1.3.3"}
DIGEST_OID = {256: "1.2.643.7.1.1.2.2", 512: "1.2.643.7.1.1.2.3"}
PARAM_SET = {256: ("1.2.643.7.1.2.1.1.1", "id-tc26-gost-3410-2012-256-paramSetA"),
             512: ("1.2.643.7.1.2.1.2.1", "id-tc26-gost-3410-12-512-paramSetA")}
#: Other parameter sets a key may be made on (tc26 256-bit set B is CryptoPro A).
CURVES = {"1.2.643.2.2.35.1": (256, "id-tc26-gost-3410-2012-256-paramSetB"),
          "1.2.643.7.1.2.1.2.2": (512, "id-tc26-gost-3410-12-512-paramSetB")}


class _KeyParams(core.Sequence):
    _fields = [("public_key_param_set", core.ObjectIdentifier)]


class _Alg(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", _KeyParams)]


class _Spki(core.Sequence):
    _fields = [("algorithm", _Alg), ("public_key", core.OctetBitString)]


def streebog(data: bytes, bits: int) -> bytes:
    return bytes(gosthash.new(f"streebog{bits}", data=bytearray(data)).digest())


@dataclass
class GostKey:
    """A key pair on a GOST curve; ``sign`` gives the RFC 9215 value (big-endian s || r)."""
    bits: int
    param_oid: str
    curve: str
    private: bytes = b""
    public: bytes = b""  # big-endian X || Y, as gostcrypto gives it

    def __post_init__(self) -> None:
        c = self._c()
        q = c._q  # noqa: SLF001
        d = 0
        while not 0 < d < q:
            d = int.from_bytes(os.urandom(self.bits // 8), "big") % q
        self.private = d.to_bytes(self.bits // 8, "big")
        self.public = bytes(c.public_key_generate(bytearray(self.private)))

    def _c(self) -> g3410.GOST34102012:
        return gost.curve(self.bits, self.curve)

    def sign(self, data: bytes) -> bytes:
        # the digest's bytes are the number little-endian; gostcrypto reads big-endian
        rs = bytes(self._c().sign(bytearray(self.private),
                                  bytearray(streebog(data, self.bits)[::-1])))
        n = self.bits // 8
        return rs[n:] + rs[:n]

    def spki(self, key_oid: str = "") -> keys.PublicKeyInfo:
        n = self.bits // 8
        x, y = self.public[:n], self.public[n:]
        point = core.OctetString(x[::-1] + y[::-1]).dump()
        der = _Spki({"algorithm": {"algorithm": key_oid or KEY_OID[self.bits],
                                   "parameters": {"public_key_param_set": self.param_oid}},
                     "public_key": point}).dump()
        return keys.PublicKeyInfo.load(der)

    def key_bits(self) -> bytes:
        """The subjectPublicKey BIT STRING's value (what an OCSP issuer key hash is over)."""
        n = self.bits // 8
        return core.OctetString(self.public[:n][::-1] + self.public[n:][::-1]).dump()


def make_key(bits: int = 256, param_oid: str | None = None) -> GostKey:
    if param_oid is None:
        param_oid, curve = PARAM_SET[bits]
    else:
        bits, curve = CURVES[param_oid]
    return GostKey(bits, param_oid, curve)


def _name(cn: str, serial: str = "") -> x509.Name:
    attrs = {"country_name": "KZ", "common_name": cn}
    if serial:
        attrs["serial_number"] = serial
    return x509.Name.build(attrs)


def _sig_alg(key: GostKey) -> dict:
    return {"algorithm": SIG_OID[key.bits]}


def _cert(subject: x509.Name, key: GostKey, issuer: x509.Name, issuer_key: GostKey, *,
          ca: bool, not_before: datetime, not_after: datetime) -> x509.Certificate:
    return _signed_cert(subject, key, issuer, _sig_alg(issuer_key), issuer_key.sign, ca=ca,
                        not_before=not_before, not_after=not_after)


def _signed_cert(subject: x509.Name, key: GostKey, issuer: x509.Name, sig_alg: dict,
                 sign, *, ca: bool, not_before: datetime,  # noqa: ANN001
                 not_after: datetime) -> x509.Certificate:
    usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    tbs = x509.TbsCertificate({
        "version": "v3", "serial_number": int.from_bytes(os.urandom(12), "big"),
        "signature": sig_alg, "issuer": issuer,
        "validity": {"not_before": x509.Time({"utc_time": not_before}),
                     "not_after": x509.Time({"utc_time": not_after})},
        "subject": subject, "subject_public_key_info": key.spki(),
        "extensions": [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
            {"extn_id": "key_usage", "critical": True, "extn_value": usage},
            {"extn_id": "key_identifier", "critical": False,
             "extn_value": hashlib.sha1(key.key_bits()).digest()},
        ]})
    return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": sig_alg,
                             "signature_value": sign(tbs.dump())})


def leaf_under_rsa(issuer: cx509.Certificate, issuer_key, name: str, serial: str,  # noqa: ANN001
                   key: GostKey) -> Leaf:
    """A GOST leaf certified by an RSA certificate authority (a chain that mixes families):
    sha256WithRSAEncryption over a certificate holding a GOST key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    cert = _signed_cert(_name(name, serial), key, x509.Name.load(issuer.subject.public_bytes()),
                        {"algorithm": "sha256_rsa"},
                        lambda tbs: issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256()),
                        ca=False, not_before=NOW - timedelta(days=1),
                        not_after=NOW + timedelta(days=365))
    return Leaf(cert, key)


def crypto(cert: x509.Certificate) -> cx509.Certificate:
    return cx509.load_der_x509_certificate(cert.dump())


@dataclass
class Leaf:
    cert: x509.Certificate
    key: GostKey

    def sign(self, data: bytes, *extra: x509.Certificate, signature_oid: str = "") -> bytes:
        """A detached CMS over ``data`` with signed attributes (content type, Streebog message
        digest, signing time), carrying this certificate and ``extra`` ones."""
        bits = self.key.bits
        attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [streebog(data, bits)]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": NOW})]},
        ])
        si = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": self.cert.issuer, "serial_number": self.cert.serial_number}}),
            "digest_algorithm": {"algorithm": DIGEST_OID[bits]},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": signature_oid or KEY_OID[bits]},
            "signature": self.key.sign(attrs.dump()),
        })
        sd = cms.SignedData({
            "version": "v1", "digest_algorithms": [{"algorithm": DIGEST_OID[bits]}],
            "encap_content_info": {"content_type": "data"},
            "certificates": [self.cert, *extra], "signer_infos": [si]})
        return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()

    def der(self) -> bytes:
        return self.cert.dump()


@dataclass
class GostCA:
    root: x509.Certificate
    root_key: GostKey
    inter: x509.Certificate
    inter_key: GostKey
    leaves: dict[str, Leaf] = field(default_factory=dict)
    revoked: list[int] = field(default_factory=list)

    def leaf(self, name: str, serial: str, key: GostKey, *, expired: bool = False) -> Leaf:
        nb, na = ((NOW - timedelta(days=400), NOW - timedelta(days=30)) if expired
                  else (NOW - timedelta(days=1), NOW + timedelta(days=365)))
        leaf = Leaf(_cert(_name(name, serial), key, self.inter.subject, self.inter_key,
                          ca=False, not_before=nb, not_after=na), key)
        self.leaves[name] = leaf
        return leaf

    def revoke(self, leaf: Leaf) -> None:
        self.revoked.append(leaf.cert.serial_number)

    def _crl(self, issuer: x509.Certificate, key: GostKey, serials: list[int]) -> bytes:
        revoked = [{"user_certificate": s,
                    "revocation_date": x509.Time({"utc_time": NOW - timedelta(minutes=30)})}
                   for s in serials]
        tbs = acrl.TbsCertList({
            "version": "v2", "signature": _sig_alg(key), "issuer": issuer.subject,
            "this_update": x509.Time({"utc_time": NOW - timedelta(hours=1)}),
            "next_update": x509.Time({"utc_time": NOW + timedelta(days=7)}),
            **({"revoked_certificates": revoked} if revoked else {})})
        return acrl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": _sig_alg(key),
                                     "signature": key.sign(tbs.dump())}).dump()

    def inter_crl(self) -> bytes:
        return self._crl(self.inter, self.inter_key, self.revoked)

    def root_crl(self) -> bytes:
        return self._crl(self.root, self.root_key, [])

    def crls(self) -> list[bytes]:
        return [self.inter_crl(), self.root_crl()]

    def ocsp(self, leaf: Leaf, *, cert_id_bits: int = 0) -> bytes:
        """The intermediate's GOST-signed OCSP answer about ``leaf``: a SHA-1 CertID, or with
        ``cert_id_bits`` one by Streebog-256/512."""
        revoked = leaf.cert.serial_number in self.revoked

        def digest(b: bytes) -> bytes:
            return streebog(b, cert_id_bits) if cert_id_bits else hashlib.sha1(b).digest()
        status = (ocsp.CertStatus({"revoked": {"revocation_time": NOW - timedelta(minutes=30)}})
                  if revoked else ocsp.CertStatus({"good": core.Null()}))
        tbs = ocsp.ResponseData({
            "responder_id": ocsp.ResponderId({"by_key": hashlib.sha1(
                self.inter_key.key_bits()).digest()}),
            "produced_at": NOW,
            "responses": [{
                "cert_id": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": (
                                DIGEST_OID[cert_id_bits] if cert_id_bits else "sha1")}),
                            "issuer_name_hash": digest(self.inter.subject.dump()),
                            "issuer_key_hash": digest(self.inter_key.key_bits()),
                            "serial_number": leaf.cert.serial_number},
                "cert_status": status,
                "this_update": NOW - timedelta(minutes=5),
                "next_update": NOW + timedelta(hours=4)}]})
        basic = ocsp.BasicOCSPResponse({"tbs_response_data": tbs,
                                        "signature_algorithm": _sig_alg(self.inter_key),
                                        "signature": self.inter_key.sign(tbs.dump())})
        return ocsp.OCSPResponse({"response_status": "successful", "response_bytes": {
            "response_type": "basic_ocsp_response", "response": basic}}).dump()

    def root_pem(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding
        return crypto(self.root).public_bytes(Encoding.PEM)


@lru_cache(maxsize=None)
def shared_ca() -> GostCA:
    """One CA for the whole test session (GOST keys in pure Python are slow to make): leaves
    "Judge 256", "Secretary 512", "CryptoPro A" (the 256-bit CryptoPro A parameter set), a
    revoked and an expired one."""
    ca = make_ca()
    ca.leaf("Judge 256", "IIN700101300222", make_key(256))
    ca.leaf("Secretary 512", "IIN800101400111", make_key(512))
    ca.leaf("CryptoPro A", "IIN900101400555", make_key(param_oid="1.2.643.2.2.35.1"))
    ca.revoke(ca.leaf("Revoked", "IIN900101400333", make_key(256)))
    ca.leaf("Expired", "IIN900101400444", make_key(256), expired=True)
    return ca


def make_ca(name: str = "GOST Test Root", *, root_key: GostKey | None = None,
            inter_key: GostKey | None = None) -> GostCA:
    root_key = root_key or make_key(256)
    inter_key = inter_key or make_key(256)
    root_name = _name(name)
    root = _cert(root_name, root_key, root_name, root_key, ca=True,
                 not_before=NOW - timedelta(days=3650), not_after=NOW + timedelta(days=3650))
    inter = _cert(_name(f"{name} Signing CA"), inter_key, root.subject, root_key, ca=True,
                  not_before=NOW - timedelta(days=1000), not_after=NOW + timedelta(days=1000))
    return GostCA(root, root_key, inter, inter_key)
