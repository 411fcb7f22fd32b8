"""A signer's own certificate on the protocol PDF (PAdES), the step after signing the version.

Once the version carries the secretary's and the judge's signatures, each of them who signed it
with a certificate may also sign the protocol PDF itself. The server takes the version's
current protocol PDF (the court-sealed render, or the one an earlier signer signed), adds an
empty signature field for the caller's certificate in an incremental update, stores that
prepared PDF as a blob and presents the bytes its /ByteRange covers with their SHA-256
(``stenogram/pades.py``). Within cms_request_ttl_s the signer's software returns a detached
CMS over those bytes; it is checked as the version's CMS was (``cms.verify_detached``: chain
to cms_trust_dir, CRLs or OCSP, the certificate bound to the account), written into the field,
and the signed PDF is stored as a new blob named by a ``stenogram.pdf_sign`` audit row; from
then on the protocol PDF of that version is the stored one. Each step's audit row records
the blobs' hashes, so no table is needed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from hearing import stenograms
from hearing.access import load_hearing
from hearing.errors import Unprocessable, conflict, not_found
from hearing.models import AuditEvent, User
from hearing.roles import Caller
from hearing.services.stenograms import (PDF_SIGNED, _cms_config, _latest, _render_sealed,
                                         _unb64, court_seal, read_pdf_blob, signed_pdfs,
                                         signing_role, verified_cms)
from hearing.state import AppState
from hearing.transaction import Tx
from stenogram import StenogramVersion, is_locked
from stenogram.cms import CMS
from stenogram.pades import PreparedPdf, embed_signature, prepare_signature, verify_pdf
from stenogram.signing import b64

#: The audit action that records a prepared PDF presented to a signer (its blob).
PDF_PREPARED = "stenogram.pdf_prepare"


@dataclass(frozen=True)
class _PdfSigning:
    role: str
    name: str
    username: str
    version: StenogramVersion
    signatures: list[dict]
    signer_cert: bytes
    base: str | None  # the stored signed PDF it builds on; None: the sealed render


def _check(tx: Tx, hearing_id: int, number: int) -> _PdfSigning:
    h = load_hearing(tx.s, hearing_id, tx.me)
    role = signing_role(tx.me, h)
    version = _latest(tx, hearing_id, number)
    sigs = stenograms.signatures(tx.s, hearing_id)
    if not is_locked(version, sigs):
        raise conflict("the protocol PDF is signed once the secretary and the judge have "
                       "signed the version", code="not_signed")
    mine = [s for s in sigs if s["statement"]["version_sha256"] == version.sha256
            and s["statement"]["role"] == role and s.get("kind") == CMS]
    if not mine:
        raise Unprocessable("sign the version with your certificate first",
                            code="no_certificate_signature")
    done = signed_pdfs(tx, hearing_id, version.sha256)
    if any(d.get("role") == role for d in done):
        raise conflict(f"the {role} has already signed this protocol PDF")
    user = tx.s.get(User, tx.me.user_id)
    assert user is not None
    cert = base64.b64decode(mine[0]["key"]["certificates"][0])
    return _PdfSigning(role, user.display_name, user.username, version, sigs, cert,
                       done[-1]["sha256"] if done else None)


def _record_prepared(tx: Tx, hearing_id: int, p: _PdfSigning, prepared: str, start: int,
                     end: int) -> datetime:
    h = load_hearing(tx.s, hearing_id, tx.me)
    row = tx.audit(h, PDF_PREPARED, {"number": p.version.number,
                                     "version_sha256": p.version.sha256, "role": p.role,
                                     "sha256": prepared, "base_sha256": p.base,
                                     "reserved": [start, end]})
    return row.at


async def pdf_request(state: AppState, caller: Caller, hearing_id: int, number: int) -> dict:
    """What to sign to put the caller's certificate on the protocol PDF: the bytes of the
    prepared PDF that the signature covers (``data``), their SHA-256 (``digest``, for software
    that signs a hash), and the prepared PDF's own hash, which the answer names."""
    _cms_config(state)
    p = await state.transaction(caller, _check, hearing_id, number)
    loop = asyncio.get_running_loop()
    if p.base is not None:
        base = await loop.run_in_executor(None, read_pdf_blob, state, p.base)
    elif await loop.run_in_executor(None, court_seal, state) is None:
        raise Unprocessable("signing the protocol PDF needs the court's seal set up "
                            "(seal_key_file, seal_cert_file)", code="seal_off")
    else:
        base = (await _render_sealed(state, hearing_id, p.version, p.signatures, "pdf")).data
    prepared = await loop.run_in_executor(None, lambda: prepare_signature(
        base, signer_cert=p.signer_cert, field=f"{p.role}: {p.name}",
        reason=f"protocol of stenogram version {p.version.number}, "
               f"SHA-256 {p.version.sha256}"))
    blob = await loop.run_in_executor(None, state.live.blobs.put_bytes, prepared.data)
    at = await state.transaction(caller, _record_prepared, hearing_id, p, blob.sha256,
                                 prepared.start, prepared.end)
    signed = prepared.signed_bytes()
    expires = at.replace(tzinfo=at.tzinfo or timezone.utc) + timedelta(
        seconds=state.config.cms_request_ttl_s)
    return {"role": p.role, "version_sha256": p.version.sha256,
            "prepared_sha256": blob.sha256, "data": b64(signed),
            "digest": b64(hashlib.sha256(signed).digest()),
            "sha256": hashlib.sha256(signed).hexdigest(),
            "byte_range": [0, prepared.start, prepared.end, len(prepared.data) - prepared.end],
            "expires_at": expires.isoformat().replace("+00:00", "Z")}


def _find_prepared(tx: Tx, hearing_id: int, prepared: str) -> tuple[dict, datetime]:
    """The caller's own prepare record of that PDF: the server made it, for them."""
    rows = tx.s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hearing_id, AuditEvent.action == PDF_PREPARED,
        AuditEvent.actor == tx.me.actor).order_by(AuditEvent.seq.desc())).scalars()
    for r in rows:
        if (r.data or {}).get("sha256") == prepared:
            return dict(r.data), r.at
    raise not_found("no such prepared PDF of yours; ask for a new signing request")


def _store(tx: Tx, hearing_id: int, number: int, p: _PdfSigning, signed: str,
           key_id: str) -> None:
    now = _check(tx, hearing_id, number)
    if now.base != p.base:
        raise conflict("the protocol PDF was signed meanwhile; ask for a new signing request")
    h = load_hearing(tx.s, hearing_id, tx.me)
    tx.audit(h, PDF_SIGNED, {"number": number, "version_sha256": p.version.sha256,
                             "role": p.role, "key_id": key_id, "sha256": signed,
                             "base_sha256": p.base})


async def sign_pdf(state: AppState, caller: Caller, hearing_id: int, number: int,
                   prepared_sha256: str, cms_b64: str, crls_b64: list[str],
                   ocsp_b64: list[str]) -> dict:
    """Put the caller's detached CMS over a prepared PDF's signed bytes into it, after checking
    it as a version's CMS is checked, and store the signed PDF as the version's protocol."""
    trust_dir = _cms_config(state)
    cms_der = _unb64(cms_b64, "cms")
    crls = [_unb64(c, "a CRL") for c in crls_b64]
    answers = [_unb64(c, "an OCSP response") for c in ocsp_b64]
    p = await state.transaction(caller, _check, hearing_id, number)
    rec, at = await state.transaction(caller, _find_prepared, hearing_id, prepared_sha256)
    at = at.replace(tzinfo=at.tzinfo or timezone.utc)
    if (datetime.now(timezone.utc) - at).total_seconds() > state.config.cms_request_ttl_s:
        raise Unprocessable("the signing request has expired; ask for a new one",
                            code="request_expired")
    if (rec.get("version_sha256"), rec.get("role"), rec.get("base_sha256")) != (
            p.version.sha256, p.role, p.base):
        raise conflict("the protocol PDF changed since this request; ask for a new one")
    loop = asyncio.get_running_loop()
    data = await loop.run_in_executor(None, read_pdf_blob, state, prepared_sha256)
    start, end = rec["reserved"]
    prepared = PreparedPdf(data, int(start), int(end))
    got = await verified_cms(state, p.username, cms_der, prepared.signed_bytes(), trust_dir,
                             crls, answers)
    try:
        signed = embed_signature(prepared, cms_der)
    except ValueError as exc:
        raise Unprocessable(str(exc), code="too_large") from None
    checks = await loop.run_in_executor(None, verify_pdf, signed, None)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    if failed:
        raise Unprocessable("the signed PDF does not verify: " + "; ".join(failed),
                            code="bad_signature")
    blob = await loop.run_in_executor(None, state.live.blobs.put_bytes, signed)
    await state.transaction(caller, _store, hearing_id, number, p, blob.sha256, got.key_id)
    return {"sha256": blob.sha256, "size": len(signed),
            "signatures": [c.detail.split(",")[0] for c in checks
                           if c.name.startswith("signature ")]}
