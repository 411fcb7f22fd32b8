"""PAdES signatures on the protocol PDF (pyHanko), so any PDF reader shows who signed it.

The court's seal (a document-signing certificate of the court, ``Seal``) signs a protocol PDF
as PAdES B-B (``/SubFilter /ETSI.CAdES.detached``) in an invisible signature field named for
the court. In the same incremental update the PDF gets, as attached files, the version's
canonical JSON (whose SHA-256 the protocol prints and its metadata declare) and, for every
signer who signed with a certificate, the signature record (statement, chain, CRLs) and the
detached CMS itself; so the PDF alone carries everything needed to check the record.

``verify_pdf`` checks such a PDF offline: each PAdES signature intact and valid, the chain to
the given trust anchors, the last signature covering the whole file and earlier ones only
followed by the updates pyHanko's difference analysis allows; the attached version JSON has
the declared hash; each attached CMS verifies over its statement (``cms.verify_key_info``)
and names that version. It returns ``verify.Check`` rows, as the bundle verifier does."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat,
                                                          PublicFormat, load_pem_private_key)

from .canonical import canonical_bytes
from .cms import CMS, TrustAnchors, subject_name, verify_key_info
from .verify import Check
from .version import StenogramVersion

#: The attached file holding the version's canonical JSON.
VERSION_FILE = "stenogram-version.json"
_SUBJECT = re.compile(r"stenogram version (\d+) ([0-9a-f]{64})")
_SPKI = PublicFormat.SubjectPublicKeyInfo


class SealError(ValueError):
    """The seal's key or certificates cannot be loaded."""


@dataclass(frozen=True)
class Seal:
    """The court's document-signing key and its certificate chain (the seal's certificate
    first), as pyHanko takes them."""
    key: akeys.PrivateKeyInfo
    chain: tuple[ax509.Certificate, ...]

    @property
    def name(self) -> str:
        return subject_name(x509.load_der_x509_certificate(self.chain[0].dump()))


def load_seal(key_file: Path | str, cert_file: Path | str,
              passphrase_file: Path | str | None = None) -> Seal:
    """The seal from a PEM private key (encrypted when ``passphrase_file`` names the file with
    its passphrase) and a PEM file of the seal's certificate followed by its intermediates."""
    try:
        password = (Path(passphrase_file).read_bytes().strip() if passphrase_file else None)
        key = load_pem_private_key(Path(key_file).read_bytes(), password=password)
        certs = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())
    except (OSError, ValueError, TypeError) as e:
        raise SealError(f"the court seal cannot be loaded: {e}") from None
    pub = key.public_key().public_bytes(Encoding.DER, _SPKI)
    if not certs or certs[0].public_key().public_bytes(Encoding.DER, _SPKI) != pub:
        raise SealError("the seal's certificate (the first in its file) is not for its key")
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return Seal(akeys.PrivateKeyInfo.load(der),
                tuple(ax509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certs))


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    description: str
    mime: str = "application/json"


def protocol_attachments(version: StenogramVersion,
                         signatures: Sequence[Mapping[str, Any]]) -> list[Attachment]:
    """What a sealed protocol carries: the version's canonical JSON and, for each signer of
    this version who signed with a certificate, the signature record and its CMS."""
    out = [Attachment(VERSION_FILE, canonical_bytes(version.document),
                      f"stenogram version {version.number}, SHA-256 {version.sha256}")]
    for s in signatures:
        st = s["statement"]
        if st.get("version_sha256") != version.sha256 or s.get("kind") != CMS:
            continue
        role = st.get("role")
        out.append(Attachment(f"signature-{role}.json", canonical_bytes(dict(s)),
                              f"{role} {st['signer'].get('name')}: statement, certificate "
                              "chain and revocation data"))
        out.append(Attachment(f"signature-{role}.p7s", base64.b64decode(s["signature"]),
                              f"{role}'s detached CMS over the canonical statement",
                              "application/pkcs7-signature"))
    return out


def field_name(court: str) -> str:
    """The seal's signature field, named for the court (a dot would nest PDF fields)."""
    return "Court seal: " + (" ".join(court.replace(".", " ").split()) or "court")


def _load_pyhanko() -> None:
    """Import pyHanko's signing and validation parts. They add object identifiers to
    asn1crypto's tables (signing_certificate_v2, ...), whose name-to-OID maps asn1crypto builds
    once, on first use: if a CMS was parsed before (cms.py), those maps are rebuilt here."""
    import pyhanko.sign.signers  # noqa: F401
    import pyhanko.sign.validation  # noqa: F401
    from asn1crypto import algos, cms as acms
    for cls in (acms.CMSAttributeType, acms.ContentType, ax509.ExtensionId, ax509.KeyPurposeId,
                algos.KdfAlgorithmId):
        if cls._reverse_map is not None and any(v not in cls._reverse_map
                                                for v in cls._map.values()):
            cls._reverse_map = None
            cls()._setup()


def seal_pdf(pdf: bytes, seal: Seal, *, court: str, reason: str, location: str = "",
             attachments: Sequence[Attachment] = ()) -> bytes:
    """``pdf`` with ``attachments`` embedded and signed by ``seal`` as PAdES B-B, in one
    incremental update (the rendered bytes stay as they are, first in the file)."""
    _load_pyhanko()
    from pyhanko.pdf_utils import embed, generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    for a in attachments:
        ef = embed.EmbeddedFileObject.from_file_data(
            w, data=a.data, mime_type=a.mime, params=embed.EmbeddedFileParams())
        embed.embed_file(w, embed.FileSpec(
            file_spec_string=a.name, file_name=a.name, embedded_data=ef,
            description=a.description, af_relationship=generic.NameObject("/Data")))
    signer = signers.SimpleSigner(signing_cert=seal.chain[0], signing_key=seal.key,
                                  cert_registry=SimpleCertificateStore.from_certs(seal.chain))
    meta = signers.PdfSignatureMetadata(
        field_name=field_name(court), md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES, reason=reason, location=location or None,
        name=seal.name)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(w, output=out)
    return out.getvalue()


def seal_protocol(pdf: bytes, seal: Seal, version: StenogramVersion,
                  signatures: Sequence[Mapping[str, Any]]) -> bytes:
    """A rendered protocol PDF of ``version`` sealed by the court, carrying the version and the
    certificate signatures among ``signatures`` (those of other versions are left out)."""
    court = str((version.document.get("hearing") or {}).get("court") or "")
    return seal_pdf(pdf, seal, court=court, location=court,
                    reason=f"stenogram version {version.number}, SHA-256 {version.sha256}",
                    attachments=protocol_attachments(version, signatures))


def has_signatures(version: StenogramVersion, signatures: Sequence[Mapping[str, Any]]) -> bool:
    return any(s["statement"].get("version_sha256") == version.sha256 for s in signatures)


# -- a signer's own certificate on the PDF (interrupted signing) ------------------------------
#
# The server prepares the PDF with an empty signature field for the signer (an incremental
# update, so the seal and earlier signatures stay valid) and presents the bytes its /ByteRange
# covers and their SHA-256. The signer's software returns a detached CMS over those bytes:
# what a browser signing agent or a phone app makes when given the data, or the digest alone
# (a CMS built on a hash: signed attributes with content type "data" and that digest as
# messageDigest). The server checks it like any CMS (cms.verify_detached) and writes it into
# the reserved /Contents.

@dataclass(frozen=True)
class PreparedPdf:
    """A PDF with an empty signature field: the bytes its /Contents placeholder spans
    (``start``..``end``, the hex string with its angle brackets) are left out of the digest."""
    data: bytes
    start: int
    end: int

    def signed_bytes(self) -> bytes:
        """What the signature covers: the file without its /Contents placeholder."""
        return self.data[:self.start] + self.data[self.end:]

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.signed_bytes()).digest()


#: Room for the signer's CMS (certificates and all) in the placeholder, bytes.
SIGNATURE_ROOM = 16384


def prepare_signature(pdf: bytes, *, signer_cert: bytes, field: str, reason: str,
                      room: int = SIGNATURE_ROOM) -> PreparedPdf:
    """``pdf`` plus an incremental update with the signature field ``field`` for the
    certificate ``signer_cert`` (DER) and a zeroed /Contents of ``room`` bytes."""
    _load_pyhanko()
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = ax509.Certificate.load(signer_cert)
    ext = signers.ExternalSigner(signing_cert=cert,
                                 cert_registry=SimpleCertificateStore.from_certs([cert]),
                                 signature_value=bytes(512))
    meta = signers.PdfSignatureMetadata(
        field_name=field, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason, name=subject_name(x509.load_der_x509_certificate(signer_cert)))
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    prep, _, out = asyncio.run(signers.PdfSigner(meta, ext).async_digest_doc_for_signing(
        w, bytes_reserved=room))
    out.seek(0)
    return PreparedPdf(out.read(), prep.reserved_region_start, prep.reserved_region_end)


def embed_signature(prepared: PreparedPdf, cms_der: bytes) -> bytes:
    """The prepared PDF with ``cms_der`` written into its placeholder (hex, zero-padded)."""
    room = (prepared.end - prepared.start - 2) // 2
    if len(cms_der) > room:
        raise ValueError(f"the signature ({len(cms_der)} bytes) does not fit the {room} "
                         "bytes reserved for it")
    hexed = cms_der.hex().encode().ljust(room * 2, b"0")
    return (prepared.data[:prepared.start + 1] + hexed + prepared.data[prepared.end - 1:])


# -- offline verification ---------------------------------------------------------------------

def verify_pdf(data: bytes, anchors: TrustAnchors | None = None) -> list[Check]:
    """Every check on a signed protocol PDF; with ``anchors`` every signature's certificate
    must chain to one of their roots (without, who signed is shown but not proven)."""
    return asyncio.run(_verify(data, anchors))


async def _verify(data: bytes, anchors: TrustAnchors | None) -> list[Check]:
    _load_pyhanko()
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    checks: list[Check] = []
    try:
        r = PdfFileReader(io.BytesIO(data), strict=False)
        sigs = list(r.embedded_regular_signatures)
    except Exception as e:  # noqa: BLE001 - a damaged file fails its check, loudly
        return [Check("PDF", False, f"not a readable PDF: {type(e).__name__}: {e}")]
    checks.append(Check("PDF", True, f"{len(data)} bytes, {len(sigs)} signature(s)"))
    if not sigs:
        checks.append(Check("PAdES signatures", False, "the PDF carries no signature"))
        return checks
    for i, sig in enumerate(sigs):
        last = i == len(sigs) - 1
        name = f"signature {sig.field_name!r}"
        try:
            st = await async_validate_pdf_signature(sig, _context(anchors, sig))
        except Exception as e:  # noqa: BLE001
            checks.append(Check(name, False, f"could not be checked: {type(e).__name__}: {e}"))
            continue
        who = subject_name(x509.load_der_x509_certificate(st.signing_cert.dump()))
        problems = []
        if not st.intact:
            problems.append("the signed bytes changed")
        elif not st.valid:
            problems.append("the signature does not verify")
        elif anchors is not None and not st.trusted:
            problems.append(f"the certificate of {who!r} does not chain to a trusted root")
        if last and st.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            problems.append("the last signature does not cover the whole file")
        if not last and st.coverage not in (SignatureCoverageLevel.ENTIRE_FILE,
                                            SignatureCoverageLevel.ENTIRE_REVISION):
            problems.append("the signature does not cover its whole revision")
        if st.docmdp_ok is False:
            level = st.modification_level.name if st.modification_level else "unknown"
            problems.append(f"the file was changed after it was signed ({level})")
        subfilter = sig.sig_object.get("/SubFilter")
        detail = (f"{who}, {subfilter}, signed {st.signer_reported_dt}"
                  + ("" if anchors is not None else "; chain not checked (no trust anchors)"))
        checks.append(Check(name, not problems, "; ".join(problems) or detail))
    try:
        checks += _attachments(r)
    except Exception as e:  # noqa: BLE001
        checks.append(Check("attached record", False, f"could not be read: {e}"))
    return checks


def _context(anchors: TrustAnchors | None, sig):  # noqa: ANN001, ANN202
    """A validation context with no network: the anchors given, or (to show the signer when
    none are given) the signature's own certificates."""
    from pyhanko_certvalidator import ValidationContext
    if anchors is None:
        certs = list(sig.other_embedded_certs) + [sig.signer_cert]
        return ValidationContext(trust_roots=certs, allow_fetching=False,
                                 revocation_mode="soft-fail")
    conv = [ax509.Certificate.load(c.public_bytes(Encoding.DER)) for c in anchors.roots]
    inter = [ax509.Certificate.load(c.public_bytes(Encoding.DER)) for c in anchors.intermediates]
    return ValidationContext(trust_roots=conv, other_certs=inter, allow_fetching=False,
                             revocation_mode="soft-fail")


def attached_files(r) -> dict[str, bytes]:  # noqa: ANN001
    """The PDF's attached files by name (the document-wide /EmbeddedFiles tree, flat)."""
    out: dict[str, bytes] = {}
    root = r.root
    names = root["/Names"] if "/Names" in root else None
    stack = [names["/EmbeddedFiles"]] if names is not None and "/EmbeddedFiles" in names else []
    while stack:
        node = stack.pop().get_object()
        if "/Kids" in node:
            stack.extend(node["/Kids"])
        pairs = list(node["/Names"]) if "/Names" in node else []
        for key, spec in zip(pairs[::2], pairs[1::2]):
            spec = spec.get_object()
            name = spec["/UF"] if "/UF" in spec else key
            out[str(name)] = spec["/EF"]["/F"].data
    return out


def _attachments(r) -> list[Check]:  # noqa: ANN001
    files = attached_files(r)
    info = r.trailer_view["/Info"] if "/Info" in r.trailer_view else {}
    subject = str(info["/Subject"]) if "/Subject" in info else ""
    m = _SUBJECT.search(subject)
    declared = m.group(2) if m else ""
    if VERSION_FILE not in files:
        return [Check("attached version", False, f"the PDF has no {VERSION_FILE}")]
    raw = files[VERSION_FILE]
    got = hashlib.sha256(raw).hexdigest()
    problems = []
    try:
        doc = json.loads(raw)
        if canonical_bytes(doc) != raw:
            problems.append("the attached version is not in canonical form")
    except ValueError:
        problems.append("the attached version is not JSON")
    if not declared:
        problems.append("the PDF does not declare its version's SHA-256")
    elif got != declared:
        problems.append(f"the attached version hashes to {got[:16]}…, the PDF declares "
                        f"{declared[:16]}…")
    checks = [Check(f"attached version {m.group(1) if m else '?'} has the declared SHA-256",
                    not problems, "; ".join(problems) or got)]
    for name in sorted(n for n in files if n.startswith("signature-") and n.endswith(".json")):
        checks.append(_cms_check(name, files, got))
    return checks


def _cms_check(name: str, files: dict[str, bytes], version_sha256: str) -> Check:
    try:
        rec = json.loads(files[name])
        stmt, cms_der = rec["statement"], base64.b64decode(rec["signature"])
        p7s = files.get(name[:-5] + ".p7s")
        problems = []
        if stmt.get("version_sha256") != version_sha256:
            problems.append("the statement is about another version")
        if p7s is not None and p7s != cms_der:
            problems.append("the attached .p7s is not the signature in the record")
        if not verify_key_info(rec["key"], canonical_bytes(stmt), cms_der):
            problems.append("the CMS signature, its chain or revocation data do not verify")
        who = f"{stmt.get('role')} {stmt['signer'].get('name')} ({rec['key'].get('subject')})"
    except (KeyError, ValueError, TypeError) as e:
        return Check(f"attached {name}", False, f"unreadable: {e}")
    return Check(f"attached {name}: certificate signature on the version", not problems,
                 "; ".join(problems) or who)
