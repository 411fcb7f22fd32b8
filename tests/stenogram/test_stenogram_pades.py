"""The court's seal on the protocol PDF (PAdES B-B, pyHanko) and its offline check: the sealed
PDF validates against the test CA's root in pyHanko itself, names the court's seal as signer,
still reads as the protocol in pdftotext, carries the version and the signers' CMS as attached
files, and fails after one changed byte, an appended unsigned update or under another root; a
signer's own signature added to the sealed PDF (prepared field, external CMS) keeps the seal
valid."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption, Encoding,
                                                          PrivateFormat)

from stenogram.canonical import canonical_bytes
from stenogram.cms import CMS, TrustAnchors, key_info, verify_detached
from stenogram.export import protocol_from_version
from stenogram.export.pdf import render_pdf
from stenogram.pades import (SIGNATURE_ROOM, VERSION_FILE, Attachment, SealError,
                             attached_files, embed_signature, load_seal, prepare_signature,
                             protocol_attachments, seal_pdf, seal_protocol, verify_pdf)
from stenogram.signing import Ed25519Signer
from stenogram.version import sign_version, signature_record, signing_statement

from support.pki import make_ca
from support.synthetic import build_synthetic_hearing

SEAL_NAME = "Алматы аудандық соты (мөр)"
SEC_ID = "IIN800101400111"


@pytest.fixture(scope="module")
def ca():
    ca = make_ca()
    ca.leaf(SEAL_NAME, "BIN990340001234", kind="rsa")
    ca.leaf("Secretary", SEC_ID)
    return ca


@pytest.fixture(scope="module")
def seal_files(ca, tmp_path_factory):
    d = tmp_path_factory.mktemp("seal")
    leaf = ca.leaves[SEAL_NAME]
    (d / "seal.key").write_bytes(leaf.key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"court seal passphrase")))
    (d / "seal.pass").write_text("court seal passphrase\n")
    (d / "seal.pem").write_bytes(leaf.cert.public_bytes(Encoding.PEM)
                                 + ca.inter.public_bytes(Encoding.PEM))
    return d


@pytest.fixture(scope="module")
def signed(ca, seal_files):
    """A version signed by the secretary's certificate (CMS) and the judge's key, its protocol
    rendered and sealed."""
    v = build_synthetic_hearing(segments=12, revisions=2, versions=1).versions[-1]
    now = datetime.now(timezone.utc)
    stmt = signing_statement(v, role="secretary", user_id="2", name="Өмір Ұлықбек",
                             signed_at=now.isoformat().replace("+00:00", "Z"))
    data = canonical_bytes(stmt)
    cms = ca.leaves["Secretary"].sign(data, ca.inter)
    got = verify_detached(cms, data, anchors=TrustAnchors((ca.root,), ()), at=now,
                          crls=ca.crls())
    sigs = [{**signature_record(stmt, algorithm=CMS, key_id=got.key_id, signature=cms),
             "kind": CMS, "key": key_info(got, "Өмір Ұлықбек (secretary)")}]
    sigs.append(sign_version(v, Ed25519Signer.generate(), role="judge", user_id="1",
                             name="Әсел Құрманова", signatures=sigs))
    plain = render_pdf(protocol_from_version(v, sigs))
    seal = load_seal(seal_files / "seal.key", seal_files / "seal.pem", seal_files / "seal.pass")
    return v, sigs, plain, seal_protocol(plain, seal, v, sigs)


def trusted(ca) -> TrustAnchors:
    return TrustAnchors((ca.root,), ())


def test_sealed_pdf_validates_in_pyhanko_and_names_the_seal(ca, signed):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from asn1crypto import x509 as ax509

    v, sigs, plain, sealed = signed
    assert sealed.startswith(plain)  # an incremental update: the render is kept as it was
    r = PdfFileReader(io.BytesIO(sealed))
    (sig,) = r.embedded_signatures
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.field_name.startswith("Court seal: ")
    root = ax509.Certificate.load(ca.root.public_bytes(Encoding.DER))
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[root]))
    assert status.bottom_line, status.pretty_print_details()
    assert status.signing_cert.subject.native["common_name"] == SEAL_NAME

    checks = verify_pdf(sealed, trusted(ca))
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    text = "\n".join(f"{c.name}: {c.detail}" for c in checks)
    assert SEAL_NAME in text and SEC_ID in text and v.sha256 in text
    files = attached_files(r)
    assert files[VERSION_FILE] == canonical_bytes(v.document)
    assert sorted(files) == ["signature-secretary.json", "signature-secretary.p7s", VERSION_FILE]


def test_pdftotext_still_reads_the_protocol(signed, tmp_path):
    v, _, _, sealed = signed
    pdf = tmp_path / "protocol.pdf"
    pdf.write_bytes(sealed)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert v.sha256 in text and "Өмір Ұлықбек" in text


def test_one_changed_byte_fails(ca, signed):
    _, _, plain, sealed = signed
    contents = sealed.index(b"/Contents <", len(plain)) + 20  # inside the signature itself
    for at in (len(plain) // 2, contents, len(sealed) - 40):
        bad = bytearray(sealed)
        bad[at] = ord("7") if bad[at] != ord("7") else ord("3")
        assert not all(c.ok for c in verify_pdf(bytes(bad), trusted(ca))), at


def test_untrusted_root_fails(signed):
    other = make_ca("Some Other Root")
    failed = [c for c in verify_pdf(signed[3], TrustAnchors((other.root,), ())) if not c.ok]
    assert len(failed) == 1 and "trusted root" in failed[0].detail


def test_an_unsigned_update_after_the_seal_fails(ca, signed):
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    w = IncrementalPdfFileWriter(io.BytesIO(signed[3]))
    ef = embed.EmbeddedFileObject.from_file_data(w, data=b"{}", mime_type="application/json")
    embed.embed_file(w, embed.FileSpec(file_spec_string="extra.json", embedded_data=ef))
    out = io.BytesIO()
    w.write(out)
    failed = [c.detail for c in verify_pdf(out.getvalue(), trusted(ca)) if not c.ok]
    assert any("does not cover the whole file" in d for d in failed), failed


def test_attached_version_must_have_the_declared_hash(ca, signed, seal_files):
    v, sigs, plain, _ = signed
    seal = load_seal(seal_files / "seal.key", seal_files / "seal.pem", seal_files / "seal.pass")
    wrong = [Attachment(VERSION_FILE, canonical_bytes({**v.document, "segments": []}), "x")]
    wrong += protocol_attachments(v, sigs)[1:]
    pdf = seal_pdf(plain, seal, court="Суд", reason="test", attachments=wrong)
    failed = [c.name for c in verify_pdf(pdf, trusted(ca)) if not c.ok]
    assert failed == ["attached version 1 has the declared SHA-256",
                      "attached signature-secretary.json: certificate signature on the version"]


def test_seal_key_needs_its_passphrase(seal_files, tmp_path):
    (tmp_path / "wrong").write_text("not the passphrase")
    with pytest.raises(SealError):
        load_seal(seal_files / "seal.key", seal_files / "seal.pem", tmp_path / "wrong")
    with pytest.raises(SealError):
        load_seal(seal_files / "seal.key", tmp_path / "missing.pem", seal_files / "seal.pass")


def test_a_signer_signs_the_sealed_pdf_and_the_seal_stays_valid(ca, signed):
    sealed = signed[3]
    leaf = ca.leaves["Secretary"]
    prepared = prepare_signature(sealed, signer_cert=leaf.der(), field="secretary: Өмір",
                                 reason="protocol")
    assert prepared.data.startswith(sealed)
    with pytest.raises(ValueError):
        embed_signature(prepared, bytes(SIGNATURE_ROOM + 1))
    pdf = embed_signature(prepared, leaf.sign(prepared.signed_bytes(), ca.inter))
    checks = verify_pdf(pdf, trusted(ca))
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert [c.detail.split(",")[0] for c in checks if c.name.startswith("signature ")] == [
        SEAL_NAME, "Secretary"]
