"""Detached CMS (PKCS #7) signatures made outside the server, by a certificate the signer holds.

``verify_detached`` checks one signature over given bytes: the signed attributes' message
digest against the bytes, the signer's signature (RSA PKCS #1 v1.5 or PSS, ECDSA, GOST), the
chain from the signer's certificate up to a trust anchor, each certificate's validity at the
given time, and revocation from the CRLs or OCSP responses supplied with the signature (each
certificate below the anchor needs one from its issuer: a CRL it signed, or an OCSP response
it signed itself or through a responder certificate it issued for OCSP signing). It raises
``CmsError`` naming the first problem, with a ``code`` a caller can act on.

The chain is built and checked here on top of ``cryptography``'s issuer-signature check
(``verify_directly_issued_by``) rather than with a general path validator: a signing
certificate needs no TLS policy (``cryptography.x509.verification`` is made for server and
client authentication), and the rules a court needs are few — CA flags, validity, CRLs —
and are all listed below. ``asn1crypto`` parses the CMS structure, which ``cryptography``
builds but does not read.

GOST R 34.10-2012 keys (256 and 512 bits, Streebog digests) are checked wherever a signature
is: the signer's, each certificate's by its issuer, each CRL's and OCSP response's.
``cryptography`` parses GOST certificates but cannot use their keys, so for a GOST key the
signature goes to ``stenogram.gost`` (encodings and RFC sections named there); the rest of the
rules are the same. A chain may mix families (a GOST certificate issued by an RSA CA): each
signature is checked with its own issuer's key. The Kazakh national PKI's own algorithms
(GOST 34.310-2004, the Kazakh GOST R 34.10-2015, OIDs 1.2.398.3.10.…) and GOST R 34.10-2001
are recognised and refused with code ``unsupported``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

from asn1crypto import cms as acms
from asn1crypto import core as acore
from asn1crypto import ocsp as aocsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stenogram import gost

CMS = "cms"
#: Chains longer than this are refused (root, a few intermediates, the signer).
MAX_CHAIN = 6
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class CmsError(ValueError):
    """A signature that is refused; ``code`` names why: malformed, unsupported, wrong_hash,
    bad_signature, unknown_root, bad_chain, expired, revoked, no_revocation, not_yours."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TrustAnchors:
    """The court's trust anchors: self-signed roots, and intermediates it already holds."""
    roots: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()


def load_trust_dir(path: Path | str) -> TrustAnchors:
    """Every certificate in the PEM files (``*.pem``, ``*.crt``) of a folder: the self-signed
    ones are roots, the others intermediates."""
    roots, inter = [], []
    folder = Path(path)
    for f in sorted(folder.iterdir()) if folder.is_dir() else []:
        if f.suffix.lower() not in (".pem", ".crt"):
            continue
        for cert in x509.load_pem_x509_certificates(f.read_bytes()):
            (roots if _self_signed(cert) else inter).append(cert)
    return TrustAnchors(tuple(roots), tuple(inter))


@dataclass(frozen=True)
class CmsSignature:
    """A verified signature: the signer's certificate, its chain (signer first, anchor last)
    and the CRLs and OCSP responses that showed none of them revoked, all as DER."""
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    crls: tuple[bytes, ...] = field(default=())
    ocsp: tuple[bytes, ...] = field(default=())

    @property
    def key_id(self) -> str:
        return cert_fingerprint(self.signer)

    def chain_der(self) -> list[bytes]:
        return [c.public_bytes(Encoding.DER) for c in self.chain]


def cert_fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def subject_serial(cert: x509.Certificate) -> str:
    """The subject's serialNumber attribute (a national ID number in a personal certificate),
    the same across the person's renewed certificates."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(attrs[0].value) if attrs else ""


def subject_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.subject.rfc4514_string()


def verify_detached(cms_der: bytes, data: bytes, *, anchors: TrustAnchors, at: datetime,
                    crls: Iterable[bytes] = (), ocsp_responses: Iterable[bytes] = (),
                    revocation_must_be_current: bool = True) -> CmsSignature:
    """Check the detached CMS signature ``cms_der`` over ``data`` and its chain at time ``at``.
    With ``revocation_must_be_current`` each CRL or OCSP response must be in force at ``at`` (the
    server, at signing); without, any its issuer signed counts (the offline check of a stored
    signature, whose revocation data were current when the server accepted it)."""
    parsed = _parse(cms_der)
    signer, pool = _check_signer_info(parsed, data)
    chain = _build_chain(signer, [*pool, *anchors.intermediates], anchors.roots)
    for cert in chain:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise CmsError("expired", f"certificate {subject_name(cert)!r} is not valid at "
                           f"{at.isoformat()} (valid {cert.not_valid_before_utc.isoformat()} to "
                           f"{cert.not_valid_after_utc.isoformat()})")
    used_crls, used_ocsp = _check_revocation(chain, [*crls], [*ocsp_responses], at,
                                             revocation_must_be_current)
    return CmsSignature(signer, tuple(chain), tuple(used_crls), tuple(used_ocsp))


def verify_key_info(info: dict, data: bytes, signature: bytes) -> bool:
    """The bundle's verifier for algorithm "cms": the key record carries the chain (its last
    certificate, self-signed, is the anchor) and the CRLs and OCSP responses; the time is the
    statement's ``signed_at``. Whether to trust the anchor is for the reader to say (by its
    fingerprint)."""
    try:
        certs = [x509.load_der_x509_certificate(base64.b64decode(c))
                 for c in info["certificates"]]
        root = certs[-1]
        at = datetime.fromisoformat(json.loads(data)["signed_at"].replace("Z", "+00:00"))
        got = verify_detached(signature, data, anchors=TrustAnchors((root,), tuple(certs[1:-1])),
                              at=at, crls=[base64.b64decode(c) for c in info.get("crls", [])],
                              ocsp_responses=[base64.b64decode(c) for c in info.get("ocsp", [])],
                              revocation_must_be_current=False)
    except (CmsError, KeyError, ValueError, IndexError, TypeError):
        return False
    return got.key_id == info.get("key_id")


def key_info(sig: CmsSignature, owner: str) -> dict:
    """The public-key record of a CMS signer, as bundles carry it (keys/<key_id>.json)."""
    return {"algorithm": CMS, "key_id": sig.key_id, "owner": owner,
            "subject": sig.signer.subject.rfc4514_string(),
            "root_fingerprint": cert_fingerprint(sig.chain[-1]),
            "certificates": [base64.b64encode(d).decode() for d in sig.chain_der()],
            "crls": [base64.b64encode(d).decode() for d in sig.crls],
            "ocsp": [base64.b64encode(d).decode() for d in sig.ocsp]}


def key_info_problems(info: dict) -> list[str]:
    try:
        certs = [x509.load_der_x509_certificate(base64.b64decode(c))
                 for c in info["certificates"]]
    except (KeyError, ValueError, TypeError) as e:
        return [f"unreadable certificate chain: {e}"]
    if not certs or cert_fingerprint(certs[0]) != info.get("key_id"):
        return ["key_id is not the fingerprint of the signer's certificate"]
    if not _self_signed(certs[-1]):
        return ["the certificate chain does not end in a self-signed root"]
    if cert_fingerprint(certs[-1]) != info.get("root_fingerprint"):
        return ["root_fingerprint is not the fingerprint of the chain's root"]
    return []


def root_fingerprint(info: dict) -> str:
    """The fingerprint of the last certificate a key record carries (its anchor), computed,
    never taken from the record's own root_fingerprint field; "" if unreadable."""
    try:
        return cert_fingerprint(x509.load_der_x509_certificate(
            base64.b64decode(info["certificates"][-1])))
    except (KeyError, IndexError, ValueError, TypeError):
        return ""


# -- parsing and the signer's signature -------------------------------------------------------

def _parse(cms_der: bytes) -> acms.SignedData:
    try:
        ci = acms.ContentInfo.load(cms_der, strict=True)
        if ci["content_type"].native != "signed_data":
            raise CmsError("malformed", "not a CMS SignedData structure")
        sd = ci["content"]
        # parses the whole structure, so damage shows here and not halfway through; the
        # certificates are read by ``cryptography`` (asn1crypto's key table lacks GOST)
        for name in ("version", "digest_algorithms", "encap_content_info", "signer_infos"):
            sd[name].native
        _certificates(sd)
    except CmsError:
        raise
    except Exception as e:  # noqa: BLE001 - asn1crypto raises many types on bad input
        raise CmsError("malformed", f"the signature is not readable CMS: {e}") from None
    if len(sd["signer_infos"]) != 1:
        raise CmsError("malformed", "the CMS must carry exactly one signer")
    return sd


def _check_signer_info(sd: acms.SignedData, data: bytes
                       ) -> tuple[x509.Certificate, list[x509.Certificate]]:
    certs = _certificates(sd)
    si = sd["signer_infos"][0]
    digest_oid = si["digest_algorithm"]["algorithm"].dotted
    sig_oid = si["signature_algorithm"]["algorithm"].dotted
    encap = sd["encap_content_info"]["content"].native
    if encap is not None and encap != data:
        raise CmsError("wrong_hash", "the CMS carries content other than the version's bytes")
    if gost.is_gost(digest_oid) or gost.is_gost(sig_oid):
        return _check_gost_signer_info(si, certs, data)
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name not in _HASHES:
        raise CmsError("unsupported", f"digest algorithm {digest_name} is not accepted")
    hash_alg = _HASHES[digest_name]()
    signer = _find_signer(si["sid"], certs)
    if gost.is_gost(signer.public_key_algorithm_oid.dotted_string):
        raise CmsError("unsupported", "a GOST certificate signs only with a GOST algorithm")

    def digest(b: bytes) -> bytes:
        h = hashes.Hash(_HASHES[digest_name]())
        h.update(b)
        return h.finalize()

    signed = _signed_content(si, data, digest)
    try:
        _verify_raw(signer.public_key(), si["signature_algorithm"], hash_alg,
                    si["signature"].native, signed)
    except InvalidSignature:
        raise CmsError("bad_signature", "the signature does not verify under the signer's "
                       "certificate") from None
    return signer, certs


def _signed_content(si: acms.SignerInfo, data: bytes, digest) -> bytes:  # noqa: ANN001
    """What the signer's signature is over: the DER SET of the signed attributes once their
    message digest is that of ``data``, or ``data`` itself without signed attributes."""
    if not si["signed_attrs"].native:
        return data
    attrs = {a["type"].native: a["values"][0].native for a in si["signed_attrs"]}
    if attrs.get("content_type") != "data":
        raise CmsError("malformed", "the signed content type is not data")
    if not hmac.compare_digest(attrs.get("message_digest") or b"", digest(data)):
        raise CmsError("wrong_hash", "the signature is over other bytes than this "
                       "version's (message digest differs)")
    raw = si["signed_attrs"].dump()
    return b"\x31" + raw[1:]  # signed over as a SET OF, not as the [0] tagged field


def _check_gost_signer_info(si: acms.SignerInfo, certs: list[x509.Certificate], data: bytes
                            ) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """A GOST signer: Streebog of the key's size for the message digest, the signature over
    the signed attributes by the signer certificate's GOST R 34.10-2012 key."""
    digest_oid = si["digest_algorithm"]["algorithm"].dotted
    sig_oid = si["signature_algorithm"]["algorithm"].dotted
    for oid in (digest_oid, sig_oid):
        _gost(gost.check_supported, oid)
    if digest_oid not in (gost.DIGEST_256, gost.DIGEST_512):
        raise CmsError("unsupported", f"digest algorithm {digest_oid} is not accepted with GOST")
    signer = _find_signer(si["sid"], certs)
    key = _gost_key_of(signer)
    if key is None:
        raise CmsError("unsupported", "a GOST signature needs a certificate with a GOST key")
    if gost.SIZES[digest_oid] != key.bits:
        raise CmsError("unsupported", f"a {key.bits}-bit GOST key signs with Streebog-"
                       f"{key.bits}, not {digest_oid}")
    signed = _signed_content(si, data, lambda b: gost.streebog(b, key.bits))
    if not _gost(gost.verify, key, si["signature"].native, signed, sig_oid):
        raise CmsError("bad_signature", "the signature does not verify under the signer's "
                       "certificate")
    return signer, certs


def _certificates(sd: acms.SignedData) -> list[x509.Certificate]:
    if not len(sd["certificates"]):
        return []
    return [x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"]
            if c.name == "certificate"]


def _gost(fn, *args):  # noqa: ANN001, ANN202
    try:
        return fn(*args)
    except gost.GostError as e:
        raise CmsError(e.code, str(e)) from None


class _RawPublicKeyInfo(acore.Sequence):
    """SubjectPublicKeyInfo read without asn1crypto's table of key algorithms."""
    _fields = [("algorithm", acore.Any), ("public_key", acore.OctetBitString)]


def _spki_der(cert: x509.Certificate) -> bytes:
    return ax509.Certificate.load(cert.public_bytes(Encoding.DER))[
        "tbs_certificate"]["subject_public_key_info"].dump()


def _gost_key_of(cert: x509.Certificate) -> gost.PublicKey | None:
    """The certificate's GOST key; None for another kind of key."""
    if not gost.is_gost(cert.public_key_algorithm_oid.dotted_string):
        return None
    return _gost(gost.parse_public_key, _spki_der(cert))


def _signed_by(signer: x509.Certificate, signature: bytes, tbs: bytes, alg_oid: str,
               other) -> bool:  # noqa: ANN001
    """Whether ``signer``'s key made ``signature`` over ``tbs`` with algorithm ``alg_oid``: a
    GOST key through ``stenogram.gost``, any other through ``other()`` (``cryptography``)."""
    key_gost = gost.is_gost(signer.public_key_algorithm_oid.dotted_string)
    if key_gost or gost.is_gost(alg_oid):
        if not (key_gost and gost.is_gost(alg_oid)):
            return False  # a GOST signature by another kind of key, or the reverse
        return bool(_gost(gost.verify, _gost_key_of(signer), signature, tbs, alg_oid))
    try:
        other()
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _find_signer(sid, certs: list[x509.Certificate]) -> x509.Certificate:  # noqa: ANN001
    for c in certs:
        if sid.name == "issuer_and_serial_number":
            if (c.serial_number == sid.chosen["serial_number"].native
                    and c.issuer.public_bytes() == sid.chosen["issuer"].dump()):
                return c
        else:
            try:
                ski = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            except x509.ExtensionNotFound:
                continue
            if ski.digest == sid.chosen.native:
                return c
    raise CmsError("malformed", "the signer's certificate is not in the CMS")


def _verify_raw(key, alg, hash_alg: hashes.HashAlgorithm, signature: bytes,  # noqa: ANN001
                signed: bytes) -> None:
    try:
        kind = alg.signature_algo
    except ValueError:
        raise CmsError("unsupported", f"signature algorithm {alg['algorithm'].dotted} is not "
                       "accepted") from None
    if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, signed, padding.PKCS1v15(), hash_alg)
    elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
        params = alg["parameters"]
        pss_hash = _HASHES.get(params["hash_algorithm"]["algorithm"].native)
        if pss_hash is None:
            raise CmsError("unsupported", "RSA-PSS with this hash is not accepted")
        key.verify(signature, signed, padding.PSS(padding.MGF1(pss_hash()),
                                                  params["salt_length"].native), pss_hash())
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, signed, ec.ECDSA(hash_alg))
    else:
        raise CmsError("unsupported", f"signature algorithm {kind} does not fit the "
                       "certificate's key")


# -- the chain and revocation -----------------------------------------------------------------

def _self_signed(cert: x509.Certificate) -> bool:
    try:
        return _issued_by(cert, cert)
    except CmsError:  # a key of a kind not verified: not a root this court can use
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    return _signed_by(issuer, cert.signature, cert.tbs_certificate_bytes,
                      cert.signature_algorithm_oid.dotted_string,
                      lambda: cert.verify_directly_issued_by(issuer))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not bc.ca:
        return False
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ku.key_cert_sign


def _build_chain(signer: x509.Certificate, pool: Sequence[x509.Certificate],
                 roots: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Signer first, a trusted root last; each certificate issued by the next, each issuer a
    CA. The roots are the only way to end it: a self-signed certificate in the CMS is not."""
    chain = [signer]
    while len(chain) <= MAX_CHAIN:
        cur = chain[-1]
        root = next((r for r in roots if r == cur or _issued_by(cur, r)), None)
        if root is not None:
            if root != cur:
                chain.append(root)
            break
        issuer = next((c for c in pool if c not in chain and _issued_by(cur, c)), None)
        if issuer is None:
            raise CmsError("unknown_root", f"certificate {subject_name(cur)!r} does not chain "
                           f"to a trusted root (issuer {cur.issuer.rfc4514_string()})")
        chain.append(issuer)
    else:
        raise CmsError("bad_chain", "the certificate chain is too long")
    for i, ca in enumerate(chain[1:], start=1):
        if not _is_ca(ca):
            raise CmsError("bad_chain", f"{subject_name(ca)!r} is not a certificate authority")
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        if bc.path_length is not None and i - 1 > bc.path_length:
            raise CmsError("bad_chain", f"{subject_name(ca)!r} may not issue this long a chain")
    try:
        ku = signer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (ku.digital_signature or ku.content_commitment):
            raise CmsError("bad_chain", "the signer's certificate is not for signatures")
    except x509.ExtensionNotFound:
        pass
    return chain


def _check_revocation(chain: list[x509.Certificate], crl_ders: list[bytes],
                      ocsp_ders: list[bytes], at: datetime, must_be_current: bool
                      ) -> tuple[list[bytes], list[bytes]]:
    """Every certificate below the anchor needs a CRL or an OCSP response from its issuer that
    does not show it revoked at ``at``. Returns the CRLs and OCSP responses used."""
    try:
        crls = [(der, x509.load_der_x509_crl(der)) for der in crl_ders]
    except ValueError:
        raise CmsError("malformed", "a CRL supplied is not readable DER") from None
    try:
        answers = [(der, ocsp.load_der_ocsp_response(der)) for der in ocsp_ders]
    except ValueError:
        raise CmsError("malformed", "an OCSP response supplied is not readable DER") from None
    used_crls: list[bytes] = []
    used_ocsp: list[bytes] = []
    for cert, issuer in zip(chain, chain[1:]):
        found = False
        for der, crl in crls:
            if crl.issuer != issuer.subject or not _crl_signed_by(crl, issuer):
                continue
            if must_be_current and not _current(crl.last_update_utc, crl.next_update_utc, at):
                continue
            found = True
            if der not in used_crls:
                used_crls.append(der)
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                _revoked(cert, entry.revocation_date_utc)
        for der, answer in answers:
            if not _ocsp_about(answer, cert, issuer):
                continue
            if must_be_current and not _current(answer.this_update_utc,
                                                answer.next_update_utc, at):
                continue
            found = True
            if der not in used_ocsp:
                used_ocsp.append(der)
            if answer.certificate_status == ocsp.OCSPCertStatus.REVOKED and (
                    answer.revocation_time_utc is None or answer.revocation_time_utc <= at):
                _revoked(cert, answer.revocation_time_utc)
        if not found:
            raise CmsError("no_revocation", f"no current CRL or OCSP response from "
                           f"{subject_name(issuer)!r} was supplied for {subject_name(cert)!r}")
    return used_crls, used_ocsp


def _crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Whether the issuer signed the CRL; a CRL signed with an algorithm not verified here
    (a GOST one that does not fit the key) is not revocation data, as a forged one is not."""
    def other() -> None:
        if not crl.is_signature_valid(issuer.public_key()):
            raise InvalidSignature
    try:
        return _signed_by(issuer, crl.signature, crl.tbs_certlist_bytes,
                          crl.signature_algorithm_oid.dotted_string, other)
    except CmsError:
        return False


def _current(this_update: datetime, next_update: datetime | None, at: datetime) -> bool:
    return this_update <= at and (next_update is None or at <= next_update)


def _revoked(cert: x509.Certificate, when: datetime | None) -> None:
    raise CmsError("revoked", f"certificate {subject_name(cert)!r} was revoked"
                   + (f" on {when.isoformat()}" if when else ""))


def _ocsp_about(answer: ocsp.OCSPResponse, cert: x509.Certificate,
                issuer: x509.Certificate) -> bool:
    """A successful, single OCSP answer about ``cert`` signed by its issuer or by a responder
    certificate the issuer made for OCSP signing."""
    if (answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL
            or answer.serial_number != cert.serial_number):
        return False
    if answer.issuer_key_hash != _ocsp_key_hash(answer, _public_key_bits(issuer)):
        return False
    alg = answer.signature_algorithm_oid.dotted_string
    for signer in (issuer, *answer.certificates):
        if signer is not issuer and not (_issued_by(signer, issuer) and _ocsp_signing(signer)):
            continue

        def other(signer: x509.Certificate = signer) -> None:
            try:
                _verify_raw_key(signer.public_key(), answer.signature,
                                answer.tbs_response_bytes, answer.signature_hash_algorithm)
            except CmsError:
                raise InvalidSignature from None
        try:
            if _signed_by(signer, answer.signature, answer.tbs_response_bytes, alg, other):
                return True
        except CmsError:
            continue
    return False


def _ocsp_key_hash(answer: ocsp.OCSPResponse, key_bits: bytes) -> bytes:
    """The issuer key hash as the response's CertID computes it (SHA-x, or Streebog)."""
    try:
        h = hashes.Hash(answer.hash_algorithm)
        h.update(key_bits)
        return h.finalize()
    except UnsupportedAlgorithm:
        pass
    basic = aocsp.OCSPResponse.load(answer.public_bytes(Encoding.DER)).basic_ocsp_response
    oid = basic["tbs_response_data"]["responses"][0]["cert_id"]["hash_algorithm"][
        "algorithm"].dotted
    if oid not in (gost.DIGEST_256, gost.DIGEST_512):
        return b""
    return gost.streebog(key_bits, gost.SIZES[oid])


def _ocsp_signing(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in eku


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (past its unused-bits byte): what an OCSP
    issuer key hash is over."""
    return _RawPublicKeyInfo.load(_spki_der(cert))["public_key"].native


def _verify_raw_key(key, signature: bytes, signed: bytes,  # noqa: ANN001
                    hash_alg: hashes.HashAlgorithm | None) -> None:
    if hash_alg is None:
        raise CmsError("unsupported", "OCSP response signed without a hash")
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, signed, padding.PKCS1v15(), hash_alg)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, signed, ec.ECDSA(hash_alg))
    else:
        raise CmsError("unsupported", "OCSP responder key type is not accepted")
