"""Signing keys, stenogram versions and their signatures, court documents and the offline
verification bundle: the workflows of the stenogram and their rules (who signs as what, the
secretary before the judge, only the latest version, a signed version is locked).

The HTTP edge and the command line call the same functions here. `caller=None` is the operator
at the server's console (the command line), who holds the database itself."""

from __future__ import annotations

import asyncio
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import quote

from sqlalchemy import ColumnElement, exists, select

from hearing import stenograms
from hearing.access import (is_assigned, load_hearing, load_managed, may_read_signed_record,
                            may_see_record, require_staff_role)
from hearing.closures import View
from hearing.errors import (Unavailable, Unprocessable, bad_request, conflict, forbidden,
                            not_found)
from hearing.invites import qr_png
from hearing.models import (AuditEvent, Hearing, SigningKey, StenogramSignature,
                            StenogramVersionRow, User)
from hearing.notes import record_notes
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.services import redactions
from hearing.search import index as search_index
from hearing.services import closures
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.transcripts import revision_docs
from stenogram import (Signer, SigningError, StenogramVersion, Transcript, WorkflowError,
                       create_user_key, is_locked, load_user_key, needs_new_version,
                       sign_version, signature_record, signature_status, signing_statement,
                       write_bundle)
from stenogram.canonical import canonical_bytes
from stenogram.cms import CMS, CmsError, key_info, load_trust_dir, subject_serial, verify_detached
from stenogram.export import protocol_from_version, render_documents
from stenogram.pades import Seal, SealError, has_signatures, load_seal, seal_protocol
from stenogram.revisions import utc_now
from stenogram.signing import b64, display_fingerprint, fingerprint, unb64

SignerRole = Literal["secretary", "judge"]
#: Each document format: its file name in the bundle and its media type.
FORMATS = {"pdf": ("protocol.pdf", "application/pdf"),
           "docx": ("protocol.docx",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
           "txt": ("protocol.txt", "text/plain; charset=utf-8"),
           "srt": ("stenogram.srt", "application/x-subrip; charset=utf-8"),
           "vtt": ("stenogram.vtt", "text/vtt; charset=utf-8"),
           "json": ("stenogram.json", "application/json")}
#: The formats that are the protocol; the others are the stenogram (the timed transcript).
PROTOCOL_FORMATS = frozenset({"pdf", "docx", "txt"})


@dataclass(frozen=True)
class Document:
    """A rendered court document of one version."""
    filename: str
    content_type: str
    data: bytes


def key_json(k: SigningKey) -> dict:
    pub = k.public_key_info
    fp = fingerprint(unb64(pub["public_key"])) if "public_key" in pub else k.key_id
    return {"key_id": k.key_id, "algorithm": pub.get("algorithm"), "fingerprint": fp,
            "fingerprint_display": display_fingerprint(fp), "created_at": k.created_at.isoformat()}


def version_json(v: StenogramVersion, sigs: list[dict]) -> dict:
    mine = [x for x in sigs if x["statement"]["version_sha256"] == v.sha256]
    return {"number": v.number, "sha256": v.sha256, "created_at": v.document.get("created_at"),
            "previous_sha256": v.document.get("previous_sha256"),
            "segments": len(v.document.get("segments", [])),
            "uncertain_segments": v.uncertain_segments, "doubtful_words": v.doubtful_words,
            "status": signature_status(v, mine),
            "signatures": [{"role": x["statement"]["role"],
                            "name": x["statement"]["signer"].get("name"),
                            "signed_at": x["statement"]["signed_at"], "key_id": x["key_id"],
                            "kind": x.get("kind", "key"),
                            "subject": (x.get("key") or {}).get("subject")}
                           for x in mine]}


# -- signing keys ------------------------------------------------------------------------------

def _own_key(tx: Tx) -> SigningKey | None:
    return tx.s.execute(select(SigningKey).where(SigningKey.user_id == tx.me.user_id)
                        ).scalar_one_or_none()


def _key_json(tx: Tx) -> dict:
    k = _own_key(tx)
    if k is None:
        raise not_found("you have no signing key yet")
    return key_json(k)


async def my_key(state: AppState, caller: Caller) -> dict:
    """The public part of the caller's signing key."""
    return await state.transaction(caller, _key_json)


def _store_key(tx: Tx, signer: Signer, path: Path) -> dict:
    k = SigningKey(user_id=tx.me.user_id, key_id=signer.key_id,
                   public_key_info=signer.public_key_info(), path=str(path),
                   created_at=datetime.now(timezone.utc))
    tx.s.add(k)
    tx.audit(None, "signing_key.create", {"key_id": signer.key_id})
    tx.s.flush()
    return key_json(k)


async def create_key(state: AppState, caller: Caller, passphrase: str) -> dict:
    """A judge's or secretary's signing key; the private key is stored encrypted under the
    passphrase, the public part in the database."""
    require_staff_role(caller, "judge", "secretary")
    assert caller.user_id is not None
    path = stenograms.user_key_path(state.config, caller.user_id)
    if await state.transaction(caller, _own_key) is not None or path.exists():
        raise conflict("you already have a signing key")
    loop = asyncio.get_running_loop()
    # scrypt key derivation is deliberately slow: off the event loop
    signer = await loop.run_in_executor(None, lambda: create_user_key(
        path, passphrase, owner=f"{caller.name} ({caller.role})"))
    return await state.transaction(caller, _store_key, signer, path)


# -- versions and signatures -------------------------------------------------------------------

VersionStatus = Literal["draft", "awaiting_judge", "signed"]


class VersionFilters(TypedDict, total=False):
    status: VersionStatus


def _signed_by(role: SignerRole) -> ColumnElement[bool]:
    return exists().where(StenogramSignature.version_id == StenogramVersionRow.id,
                          StenogramSignature.role == role)


def _status_is(status: VersionStatus) -> ColumnElement[bool]:
    """signature_status as a condition on the version rows (the judge signs after the
    secretary), so a filtered list pages like any other."""
    secretary, judge = _signed_by("secretary"), _signed_by("judge")
    return {"draft": ~secretary, "awaiting_judge": secretary & ~judge,
            "signed": secretary & judge}[status]


def _list_versions(tx: Tx, hearing_id: int, f: VersionFilters, req: PageRequest) -> dict:
    load_managed(tx.s, hearing_id, tx.me)
    sigs = stenograms.signatures(tx.s, hearing_id)
    q = select(StenogramVersionRow).where(StenogramVersionRow.hearing_id == hearing_id)
    if "status" in f:
        q = q.where(_status_is(f["status"]))
    versions, cursor = page(tx.s, q, StenogramVersionRow.id, req, lambda r: version_json(
        StenogramVersion(document=r.doc, sha256=r.sha256), sigs))
    return {"versions": versions, "next_cursor": cursor}


async def list_versions(state: AppState, caller: Caller, hearing_id: int, f: VersionFilters,
                        req: PageRequest) -> dict:
    """The hearing's versions, oldest first (rows are numbered as made), with their
    signatures."""
    return await state.transaction(caller, _list_versions, hearing_id, f, req)


def _new_version(tx: Tx, hearing_id: int, transcript: Transcript) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    if not is_assigned(tx.me, h):
        raise forbidden("only the secretary or the judge of this hearing make versions")
    existing = stenograms.versions(tx.s, hearing_id)
    if existing and not needs_new_version(existing[-1], transcript.head(),
                                          record_notes(tx.s, hearing_id)):
        raise conflict("the transcript and notes have not changed since version "
                       f"{existing[-1].number}", number=existing[-1].number)
    v = stenograms.new_version(tx.s, tx.state.config, h, transcript)
    tx.s.add(StenogramVersionRow(hearing_id=hearing_id, number=v.number, sha256=v.sha256,
                                 doc=v.document, created_at=datetime.now(timezone.utc),
                                 created_by=tx.me.user_id))
    tx.audit(h, "stenogram.version", {"number": v.number, "sha256": v.sha256})
    return version_json(v, [])


async def create_version(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """Freeze the current transcript as the next version to sign."""
    transcript = await state.transcripts.get(hearing_id)
    return await state.transaction(caller, _new_version, hearing_id, transcript)


def signing_role(caller: Caller, h: Hearing) -> SignerRole:
    """The hearing's judge signs as judge, its secretary as secretary; nobody else signs."""
    if caller.kind == "staff" and caller.user_id == h.judge_id:
        return "judge"
    if caller.kind == "staff" and caller.user_id == h.secretary_id:
        return "secretary"
    raise forbidden("only the judge and the secretary of this hearing sign")


def _latest(tx: Tx, hearing_id: int, number: int) -> StenogramVersion:
    """Version `number`, which must be the latest: an older one was superseded."""
    vs = {v.number: v for v in stenograms.versions(tx.s, hearing_id)}
    if number not in vs:
        raise not_found("no such version")
    if number != max(vs):
        raise conflict(f"version {number} was superseded by version {max(vs)}")
    return vs[number]


@dataclass(frozen=True)
class _Signing:
    role: SignerRole
    version: StenogramVersion
    key_path: Path | None
    name: str
    signatures: list[dict]


def _prepare_signing(tx: Tx, hearing_id: int, number: int) -> _Signing:
    h = load_hearing(tx.s, hearing_id, tx.me)
    role = signing_role(tx.me, h)
    version = _latest(tx, hearing_id, number)
    k = _own_key(tx)
    if k is None:
        raise Unprocessable("create your signing key first", code="no_key")
    user = tx.s.get(User, tx.me.user_id)
    assert user is not None
    return _Signing(role, version, Path(k.path), user.display_name,
                    stenograms.signatures(tx.s, hearing_id))


def _store_signature(tx: Tx, hearing_id: int, number: int, signing: _Signing,
                     record: dict) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    _latest(tx, hearing_id, number)
    if stenograms.signatures(tx.s, hearing_id) != signing.signatures:
        raise conflict(f"version {number} was signed meanwhile; sign again")
    row = tx.s.execute(select(StenogramVersionRow).where(
        StenogramVersionRow.hearing_id == hearing_id,
        StenogramVersionRow.number == number)).scalar_one()
    tx.s.add(StenogramSignature(version_id=row.id, role=signing.role, user_id=tx.me.user_id,
                                doc=record, created_at=datetime.now(timezone.utc)))
    tx.audit(h, "stenogram.sign", {"number": number, "sha256": signing.version.sha256,
                                   "role": signing.role, "key_id": record["key_id"]})
    tx.s.flush()
    stenograms.sign_tree_head_now(tx.s, tx.state.config, hearing_id)
    search_index.version_signed(tx.s, h, signing.version)
    return version_json(signing.version, stenograms.signatures(tx.s, hearing_id))


async def sign(state: AppState, caller: Caller, hearing_id: int, number: int,
               passphrase: str) -> dict:
    """Sign the latest version with the caller's key: the secretary first, then the judge,
    whose statement countersigns the secretary's; with both the version is locked."""
    signing = await state.transaction(caller, _prepare_signing, hearing_id, number)
    loop = asyncio.get_running_loop()
    try:
        signer = await loop.run_in_executor(None, load_user_key, signing.key_path, passphrase)
    except SigningError:
        raise Unprocessable("the passphrase does not open your key",
                            code="bad_passphrase") from None
    try:
        record = sign_version(signing.version, signer, role=signing.role,
                              user_id=str(caller.user_id), name=signing.name,
                              signatures=signing.signatures)
    except WorkflowError as exc:
        raise conflict(str(exc)) from None
    result = await state.transaction(caller, _store_signature, hearing_id, number, signing,
                                     record)
    state.hub.publish(hearing_id, {"type": "stenogram", "version": result}, staff_only=True)
    return result


# -- signatures by a certificate the signer holds (detached CMS) -------------------------------
#
# The server presents the statement to sign (its canonical bytes and their SHA-256), fixed by
# its signing time; the signer's own software (a browser plug-in, a phone app reached by the QR
# code) returns a detached CMS over those bytes with the CRLs (or OCSP responses) of its chain. Within
# cms_request_ttl_s the server rebuilds the same statement from that time, verifies signature,
# chain (to the court's trust anchors, cms_trust_dir) and revocation, and checks that the
# certificate is the caller's: its subject serialNumber (the person's national ID) must be the
# one the configuration binds to the account (cms_signers). That binding is set by the court,
# not by the signer, so a valid certificate of someone else cannot sign in this account's name;
# and it survives the routine renewal of the person's certificate.

@dataclass(frozen=True)
class _CmsSigning:
    signing: _Signing
    username: str
    statement: dict


async def verified_cms(state: AppState, username: str, cms_der: bytes, data: bytes,
                       trust_dir: Path, crls: list, answers: list):  # noqa: ANN201
    """A detached CMS over ``data`` checked off the loop (signature, chain to the court's
    anchors, revocation) and bound to the account by the certificate's serialNumber
    (``cms_signers``): the signature, else a domain error."""
    loop = asyncio.get_running_loop()
    anchors = await loop.run_in_executor(None, load_trust_dir, trust_dir)
    try:
        got = await loop.run_in_executor(None, lambda: verify_detached(
            cms_der, data, anchors=anchors, at=datetime.now(timezone.utc), crls=crls,
            ocsp_responses=answers))
    except CmsError as exc:
        raise Unprocessable(str(exc), code=exc.code) from None
    bound = _cms_bindings(state.config.cms_signers).get(username)
    if not bound or subject_serial(got.signer) != bound:
        raise forbidden(f"the certificate (serialNumber {subject_serial(got.signer) or 'none'})"
                        " is not bound to your account")
    return got


def _cms_bindings(cfg_value: str) -> dict[str, str]:
    pairs = (p.split("=", 1) for p in cfg_value.split(",") if "=" in p)
    return {user.strip(): serial.strip() for user, serial in pairs}


def _cms_config(state: AppState) -> Path:
    if not state.config.cms_trust_dir:
        raise Unprocessable("signing with a certificate is not set up on this server",
                            code="cms_off")
    return Path(state.config.cms_trust_dir)


def _request_time(state: AppState, signed_at: str) -> datetime:
    """A presented request's time, refused once older than cms_request_ttl_s."""
    try:
        at = datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request("signed_at is not a time") from None
    if at.tzinfo is None:
        raise bad_request("signed_at needs a time zone")
    age = (datetime.now(timezone.utc) - at).total_seconds()
    if age > state.config.cms_request_ttl_s or age < -60:
        raise Unprocessable("the signing request has expired; ask for a new one",
                            code="request_expired")
    return at


def _prepare_cms(tx: Tx, hearing_id: int, number: int, signed_at: str) -> _CmsSigning:
    h = load_hearing(tx.s, hearing_id, tx.me)
    role = signing_role(tx.me, h)
    version = _latest(tx, hearing_id, number)
    user = tx.s.get(User, tx.me.user_id)
    assert user is not None
    sigs = stenograms.signatures(tx.s, hearing_id)
    try:
        stmt = signing_statement(version, role=role, user_id=str(tx.me.user_id),
                                 name=user.display_name, signatures=sigs, signed_at=signed_at)
    except WorkflowError as exc:
        raise conflict(str(exc)) from None
    return _CmsSigning(_Signing(role, version, None, user.display_name, sigs), user.username,
                       stmt)


async def cms_request(state: AppState, caller: Caller, hearing_id: int, number: int,
                      signed_at: str | None) -> dict:
    """What to sign with a certificate: the statement on the latest version in the caller's
    role, its canonical bytes and SHA-256, and a short-lived link (and its QR code) that
    presents the same statement again until it expires. ``signed_at`` names a request
    presented before (the link carries it)."""
    _cms_config(state)
    if signed_at is None:
        signed_at = utc_now()
    at = _request_time(state, signed_at)
    c = await state.transaction(caller, _prepare_cms, hearing_id, number, signed_at)
    data = canonical_bytes(c.statement)
    link = (f"{state.config.base_url}/api/hearings/{hearing_id}/stenogram/versions/{number}"
            f"/cms?signed_at={quote(signed_at)}")
    expires = at + timedelta(seconds=state.config.cms_request_ttl_s)
    return {"role": c.signing.role, "statement": c.statement, "signed_at": signed_at,
            "data": b64(data), "sha256": hashlib.sha256(data).hexdigest(),
            "version_sha256": c.signing.version.sha256,
            "expires_at": expires.isoformat().replace("+00:00", "Z"), "link": link,
            "qr_png": f"data:image/png;base64,{b64(qr_png(link))}"}


def _unb64(text: str, what: str) -> bytes:
    try:
        return unb64(text)
    except (ValueError, binascii.Error):
        raise bad_request(f"{what} is not base64") from None


async def sign_cms(state: AppState, caller: Caller, hearing_id: int, number: int, role: str,
                   signed_at: str, cms_b64: str, crls_b64: list[str], ocsp_b64: list[str]
                   ) -> dict:
    """Store a detached CMS signature over a presented statement, after checking it: the
    signature over the statement's bytes, the chain to the court's trust anchors, the CRLs or
    OCSP responses supplied, validity now, and that the certificate is bound to the caller's
    account."""
    trust_dir = _cms_config(state)
    _request_time(state, signed_at)
    cms_der = _unb64(cms_b64, "cms")
    crls = [_unb64(c, "a CRL") for c in crls_b64]
    answers = [_unb64(c, "an OCSP response") for c in ocsp_b64]
    c = await state.transaction(caller, _prepare_cms, hearing_id, number, signed_at)
    if role != c.signing.role:
        raise forbidden(f"you sign this hearing as {c.signing.role}, not as {role}")
    got = await verified_cms(state, c.username, cms_der, canonical_bytes(c.statement),
                             trust_dir, crls, answers)
    record = {**signature_record(c.statement, algorithm=CMS, key_id=got.key_id,
                                 signature=cms_der),
              "kind": CMS, "key": key_info(got, f"{c.signing.name} ({c.signing.role})")}
    result = await state.transaction(caller, _store_signature, hearing_id, number, c.signing,
                                     record)
    state.hub.publish(hearing_id, {"type": "stenogram", "version": result}, staff_only=True)
    return result


# -- documents and the bundle ------------------------------------------------------------------

def _latest_signed(tx: Tx, h: Hearing, fmt: str) -> tuple[StenogramVersion, list[dict]]:
    """What a reader outside the court gets: the latest version that carries every required
    signature, never a draft."""
    if not may_read_signed_record(tx.me, h, protocol=fmt in PROTOCOL_FORMATS):
        raise forbidden("only the court and the parties' accounts read the stenogram"
                        if fmt not in PROTOCOL_FORMATS else "you may not read this record")
    sigs = stenograms.signatures(tx.s, h.id)
    locked = [v for v in reversed(stenograms.versions(tx.s, h.id)) if is_locked(v, sigs)]
    copy_ = redactions.served_signed(tx.s, tx.me, h, locked)
    if copy_ is not None:
        return copy_
    if locked:
        return locked[0], sigs
    raise forbidden("the record is not signed yet")


def _latest_or_draft(tx: Tx, hearing_id: int, transcript: Transcript,
                     fmt: str) -> tuple[StenogramVersion, list[dict]]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    if not may_see_record(tx.me, h):
        return _latest_signed(tx, h, fmt)
    if redactions.sealed_from(tx.s, tx.me, h):
        # the administrator, once the record is redacted: the copy, never the original text
        copy_ = redactions.served_signed(tx.s, tx.me, h, [v for v in reversed(
            stenograms.versions(tx.s, h.id)) if is_locked(v, stenograms.signatures(tx.s, h.id))])
        if copy_ is not None:
            return copy_
    vs = stenograms.versions(tx.s, hearing_id)
    if vs and not needs_new_version(vs[-1], transcript.head(), record_notes(tx.s, hearing_id)):
        return vs[-1], stenograms.signatures(tx.s, hearing_id)
    return stenograms.new_version(tx.s, tx.state.config, h, transcript), []


def _latest_stored(tx: Tx, hearing_id: int) -> tuple[StenogramVersion, list[dict]]:
    vs = stenograms.versions(tx.s, hearing_id)
    if not vs:
        raise conflict("no stenogram version yet", code="no_version")
    return vs[-1], stenograms.signatures(tx.s, hearing_id)


async def _render(hearing_id: int, version: StenogramVersion, sigs: list[dict],
                  fmt: str, seen: View | None = None) -> Document:
    name, content_type = FORMATS[fmt]
    loop = asyncio.get_running_loop()
    docs = await loop.run_in_executor(None, lambda: render_documents(
        protocol_from_version(version, sigs) if seen is None
        else closures.served_protocol(version, sigs, seen, fmt), pdf=fmt == "pdf"))
    return Document(f"hearing-{hearing_id}-v{version.number}-{name}", content_type, docs[name])


# -- the court's seal on the protocol PDF (PAdES) ---------------------------------------------
#
# With seal_key_file and seal_cert_file set, a protocol PDF of a version that has signatures
# leaves the server signed by the court (stenogram/pades.py), carrying the version's JSON and
# the signers' CMS signatures as attached files; a draft's PDF stays unsigned.

def court_seal(state: AppState) -> Seal | None:
    """The configured seal, read from its files (a changed key takes effect at once); None
    when it is not set up."""
    cfg = state.config
    if not (cfg.seal_key_file and cfg.seal_cert_file):
        return None
    try:
        return load_seal(cfg.seal_key_file, cfg.seal_cert_file,
                         cfg.seal_key_passphrase_file or None)
    except SealError as exc:
        raise Unavailable(str(exc), code="seal_unavailable") from None


#: The audit action that records a protocol PDF signed by a signer's certificate (its blob).
PDF_SIGNED = "stenogram.pdf_sign"


def signed_pdfs(tx: Tx, hearing_id: int, version_sha256: str) -> list[dict]:
    """The audit records of the protocol PDFs of a version that signers signed, oldest first:
    each names its blob (sha256), the role and the PDF it was signed over (base_sha256)."""
    rows = tx.s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hearing_id, AuditEvent.action == PDF_SIGNED)
        .order_by(AuditEvent.seq)).scalars()
    return [dict(r.data) for r in rows if (r.data or {}).get("version_sha256") == version_sha256]


def _latest_signed_pdf(tx: Tx, hearing_id: int, version_sha256: str) -> str | None:
    done = signed_pdfs(tx, hearing_id, version_sha256)
    return done[-1]["sha256"] if done else None


def read_pdf_blob(state: AppState, sha256: str) -> bytes:
    """A stored protocol PDF, refused (409) if its bytes no longer have their hash."""
    try:
        data = state.live.blobs.path_for(sha256).read_bytes()
    except OSError:
        raise conflict("the stored signed protocol PDF is missing", code="fixity") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise conflict("the stored signed protocol PDF has changed on disk", code="fixity")
    return data


async def _render_sealed(state: AppState, hearing_id: int, version: StenogramVersion,
                         sigs: list[dict], fmt: str) -> Document:
    """The document; a protocol PDF of a signed version is the one its signers signed (the
    latest stored), else it is sealed by the court when a seal is set up."""
    loop = asyncio.get_running_loop()
    if fmt == "pdf" and has_signatures(version, sigs):
        stored = await state.transaction(None, _latest_signed_pdf, hearing_id, version.sha256)
        if stored is not None:
            name = f"hearing-{hearing_id}-v{version.number}-{FORMATS['pdf'][0]}"
            return Document(name, FORMATS["pdf"][1],
                            await loop.run_in_executor(None, read_pdf_blob, state, stored))
    doc = await _render(hearing_id, version, sigs, fmt)
    if fmt != "pdf" or not has_signatures(version, sigs):
        return doc
    seal = await loop.run_in_executor(None, court_seal, state)
    if seal is None:
        return doc
    data = await loop.run_in_executor(None, seal_protocol, doc.data, seal, version, sigs)
    return Document(doc.filename, doc.content_type, data)


def _known_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise not_found(f"formats: {', '.join(FORMATS)}")


async def document(state: AppState, caller: Caller, hearing_id: int, fmt: str) -> Document:
    """The protocol or record in one format: of the latest version when it matches the
    transcript, otherwise of an unsigned draft of the current transcript (not stored), so a
    download always shows the current text. Readers outside the court (party accounts of the
    case; a participant's invite, for the protocol) get the latest signed version only."""
    _known_format(fmt)
    transcript = await state.transcripts.get(hearing_id)
    seen = await state.transaction(caller, closures.record_view, hearing_id)
    version, sigs = await state.transaction(caller, _latest_or_draft, hearing_id, transcript,
                                            fmt)
    if not seen.whole:  # a copy without the closed parts this caller may not see
        return await _render(hearing_id, version, sigs, fmt, seen)
    return await _render_sealed(state, hearing_id, version, sigs, fmt)


async def stored_document(state: AppState, hearing_id: int, fmt: str) -> Document:
    """The latest stored version in one format (the command line)."""
    _known_format(fmt)
    version, sigs = await state.transaction(None, _latest_stored, hearing_id)
    return await _render_sealed(state, hearing_id, version, sigs, fmt)


@dataclass(frozen=True)
class _BundleContents:
    versions: list[StenogramVersion]
    signatures: list[dict]
    public_keys: list[dict]
    revisions: list[dict]
    audit_rows: list[dict]
    tree_heads: list[dict]
    media: dict[str, Path]


def _bundle_contents(tx: Tx, hearing_id: int, with_media: bool) -> _BundleContents:
    s, cfg = tx.s, tx.state.config
    if tx.caller is not None:
        h = load_managed(s, hearing_id, tx.me)
        if redactions.sealed_from(s, tx.me, h):
            raise forbidden("the record is redacted: its original is sealed; download the "
                            "redacted copy's bundle")
        if not closures.record_view(tx, hearing_id).whole:
            raise forbidden("the bundle holds closed parts of the hearing that you may not "
                            "see: its judge or secretary exports it")
    vs = stenograms.versions(s, hearing_id)
    if not vs:
        raise conflict("make a stenogram version first", code="no_version")
    stenograms.sign_tree_head_now(s, cfg, hearing_id)
    media = {}
    if with_media:
        listed = {e["sha256"] for v in vs for e in
                  v.document.get("recordings", []) + v.document.get("evidence", [])}
        media = {k: p for k, p in stenograms.media_files(
            s, hearing_id, tx.state.live.blobs.path_for).items() if k in listed}
    sigs = stenograms.signatures(s, hearing_id)
    keys = stenograms.public_keys(s, hearing_id, cfg)
    # a certificate signer's key record (its chain and CRLs) is kept in its signature
    certs = {sig["key_id"]: sig["key"] for sig in sigs if sig.get("kind") == CMS}
    keys += [certs[k] for k in sorted(certs) if all(x["key_id"] != k for x in keys)]
    return _BundleContents(vs, sigs, keys,
                           revision_docs(s, hearing_id), stenograms.audit_rows(s, hearing_id),
                           stenograms.all_tree_heads(s, cfg, hearing_id), media)


def _write_bundle(c: _BundleContents, out: Path, seal: Seal | None = None,
                  signed_pdf: bytes | None = None) -> dict:
    documents = render_documents(protocol_from_version(c.versions[-1], c.signatures))
    if signed_pdf is not None:  # the protocol PDF its signers signed
        documents["protocol.pdf"] = signed_pdf
    elif seal is not None and has_signatures(c.versions[-1], c.signatures):
        documents["protocol.pdf"] = seal_protocol(documents["protocol.pdf"], seal,
                                                  c.versions[-1], c.signatures)
    return write_bundle(out, versions=c.versions, signatures=c.signatures,
                        public_keys=c.public_keys, revisions=c.revisions,
                        audit_rows=c.audit_rows, tree_heads=c.tree_heads, media=c.media,
                        documents=documents)


async def export_bundle(state: AppState, caller: Caller | None, hearing_id: int, out: Path,
                        with_media: bool) -> dict:
    """Everything needed to verify the stenogram offline, as a zip at `out`; returns its
    manifest. The database part (with a fresh signed tree head) is one transaction in the
    database's own worker; rendering, hashing and writing the files run in an executor."""
    contents = await state.transaction(caller, _bundle_contents, hearing_id, with_media)
    loop = asyncio.get_running_loop()
    seal = await loop.run_in_executor(None, court_seal, state)
    stored = await state.transaction(None, _latest_signed_pdf, hearing_id,
                                     contents.versions[-1].sha256)
    signed = await loop.run_in_executor(None, read_pdf_blob, state, stored) if stored else None
    return await loop.run_in_executor(None, _write_bundle, contents, out, seal, signed)
