"""Redacted copies of signed stenogram versions (stenogram/redaction.py, media/redaction.py):
the hearing's secretary or judge declares spans, the server derives the copy of the text and
silences the recordings over them (new blobs linked to their originals), and the maker signs
the copy with their own key and passphrase, as a version is signed; the other may countersign.

Once a version has a copy, the version itself is sealed: every caller who may not see sealed
material (hearing.access.level_allowed) is given the newest copy instead, in documents, in the
signed record and in recordings (``served_copy``, ``served_recordings``). The copy travels in a
bundle of its own, which `courtroom verify` checks, against the original bundle too."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing import stenograms
from hearing.access import (level_allowed, load_hearing, load_managed, may_read_signed_record,
                            may_see_record)
from hearing.audit import iso_utc
from hearing.errors import (Forbidden, Unprocessable, bad_request, conflict, forbidden,
                            not_found)
from hearing.models import EvidenceItem, Hearing, Redaction, SigningKey, StenogramVersionRow, User
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.search import index as search_index
from hearing.state import AppState
from hearing.transaction import Tx
from media.redaction import redact_recording
from stenogram import SigningError, StenogramVersion, is_locked, load_user_key
from stenogram.canonical import canonical_bytes
from stenogram.export import protocol_from_version, render_documents
from stenogram.redaction import (RedactionError, normalise_spans, recording_ranges, redact,
                                 redacted_version, redaction_statement, write_redacted_bundle)
from stenogram.version import signature_record

#: At most this many spans in one redaction (each is checked against every segment).
MAX_SPANS = 500


def redaction_json(r: Redaction, number: int) -> dict:
    return {"id": r.id, "hearing_id": r.hearing_id, "version": number,
            "version_sha256": r.doc["redacts"]["sha256"], "sha256": r.sha256,
            "spans": r.spans, "created_at": iso_utc(r.created_at),
            "recordings": [{"original_sha256": x["original_sha256"], "sha256": x["sha256"],
                            "source_id": x["source_id"]} for x in r.recordings],
            "signatures": [{"role": s["statement"]["role"],
                            "name": s["statement"]["signer"].get("name"),
                            "signed_at": s["statement"]["signed_at"], "key_id": s["key_id"]}
                           for s in r.signatures]}


def _role(caller: Caller, h: Hearing) -> str:
    """The hearing's secretary and judge redact, each in the role they sign in; nobody else."""
    from hearing.services.stenograms import signing_role  # it imports this module
    try:
        return signing_role(caller, h)
    except Forbidden:
        raise forbidden("only the secretary or the judge of this hearing may redact its "
                        "record") from None


def _version_row(tx: Tx, hearing_id: int, number: int) -> StenogramVersionRow:
    row = tx.s.execute(select(StenogramVersionRow).where(
        StenogramVersionRow.hearing_id == hearing_id,
        StenogramVersionRow.number == number)).scalar_one_or_none()
    if row is None:
        raise not_found("no such version")
    return row


@dataclass(frozen=True)
class _Work:
    role: str
    name: str
    key_path: Path
    version: StenogramVersion
    spans: list[dict]
    #: (original sha256, its file, ranges to silence, start_ms) per recording to derive
    recordings: list[tuple[str, Path, list[tuple[int, int]], int, dict]]


def _prepare(tx: Tx, hearing_id: int, number: int, spans: list[dict]) -> _Work:
    h = load_hearing(tx.s, hearing_id, tx.me)
    role = _role(tx.me, h)
    row = _version_row(tx, hearing_id, number)
    version = StenogramVersion(document=row.doc, sha256=row.sha256)
    if not is_locked(version, stenograms.signatures(tx.s, hearing_id)):
        raise conflict(f"version {number} is not signed: only a signed version is redacted",
                       code="not_signed")
    key = tx.s.execute(select(SigningKey).where(SigningKey.user_id == tx.me.user_id)
                       ).scalar_one_or_none()
    if key is None:
        raise Unprocessable("create your signing key first", code="no_key")
    if len(spans) > MAX_SPANS:
        raise bad_request(f"at most {MAX_SPANS} spans in one redaction")
    try:
        norm = normalise_spans(version.document, spans)
    except RedactionError as exc:
        raise bad_request(str(exc)) from None
    blobs = tx.state.live.blobs
    todo = []
    segs = version.document.get("segments") or []
    for entry in version.document.get("recordings") or []:
        if entry.get("kind") != "recording":
            continue  # the two-second chunks are withheld, not copied
        ranges = recording_ranges(entry, segs, norm)
        if ranges:
            path = blobs.path_for(entry["sha256"])
            if not path.is_file():
                raise conflict(f"the recording {entry['sha256'][:12]}… is missing "
                               "(run `courtroom fixity`)")
            todo.append((entry["sha256"], path, ranges, int(entry["start_ms"]), entry))
    user = tx.s.get(User, tx.me.user_id)
    assert user is not None
    return _Work(role, user.display_name, Path(key.path), version, norm, todo)


def _derive(state: AppState, work: _Work) -> list[dict]:
    """The silenced copies, each committed as a new blob (blocking: run in an executor)."""
    blobs = state.live.blobs
    out = []
    for sha, path, ranges, start_ms, entry in work.recordings:
        f, temp = blobs.new_temp()
        f.close()
        try:
            redact_recording(path, temp, ranges, start_ms)
        except Exception:
            temp.unlink(missing_ok=True)
            raise
        ref = blobs.commit_temp(temp)
        out.append({"original_sha256": sha, "sha256": ref.sha256, "size": ref.size,
                    "source_id": entry.get("source_id"), "start_ms": start_ms,
                    "end_ms": entry.get("end_ms"),
                    "content_type": entry.get("media_type") or "audio/ogg"})
    return out


def _store(tx: Tx, hearing_id: int, number: int, work: _Work, doc: dict, sha256: str,
           record: dict, derived: list[dict]) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    _role(tx.me, h)
    row = _version_row(tx, hearing_id, number)
    if row.sha256 != work.version.sha256:
        raise conflict("the version changed meanwhile; redact again")
    if tx.s.execute(select(Redaction.id).where(Redaction.sha256 == sha256)).first():
        raise conflict("the same redaction exists already")
    r = Redaction(hearing_id=hearing_id, version_id=row.id, sha256=sha256, doc=doc,
                  spans=work.spans, signatures=[record], recordings=derived,
                  created_by=tx.me.user_id, created_at=datetime.now(timezone.utc))
    tx.s.add(r)
    tx.s.flush()
    for span in work.spans:
        if span["kind"] == "evidence":
            # a withheld item's file is sealed too, wherever evidence is served
            item = tx.s.get(EvidenceItem, span["evidence_id"])
            if item is not None:
                item.access_level = "sealed"
    search_index.index_record(tx.s, h)  # from now on, the copy's text is what is found
    tx.audit(h, "stenogram.redact", {
        "redaction_id": r.id, "number": number, "version_sha256": row.sha256,
        "sha256": sha256, "spans": work.spans, "role": work.role, "key_id": record["key_id"],
        "recordings": [{"original_sha256": d["original_sha256"], "sha256": d["sha256"]}
                       for d in derived]})
    return redaction_json(r, number)


async def _signer(key_path: Path, passphrase: str):  # noqa: ANN202 - an Ed25519Signer
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(None, load_user_key, key_path, passphrase)
    except SigningError:
        raise Unprocessable("the passphrase does not open your key",
                            code="bad_passphrase") from None


async def create(state: AppState, caller: Caller, hearing_id: int, number: int,
                 spans: list[dict], passphrase: str) -> dict:
    """Redact signed version ``number`` over ``spans``: derive the copy and the silenced
    recordings, sign the copy with the caller's key, store it with its audit row."""
    work = await state.transaction(caller, _prepare, hearing_id, number, spans)
    signer = await _signer(work.key_path, passphrase)
    loop = asyncio.get_running_loop()
    derived = await loop.run_in_executor(None, _derive, state, work)
    doc = redact(work.version.document, work.spans, derived={
        d["original_sha256"]: d for d in derived})
    copy_ = redacted_version(doc)
    stmt = redaction_statement(copy_, role=work.role, user_id=str(caller.user_id),
                               name=work.name)
    record = signature_record(stmt, algorithm=signer.algorithm, key_id=signer.key_id,
                              signature=signer.sign(canonical_bytes(stmt)))
    result = await state.transaction(caller, _store, hearing_id, number, work, doc,
                                     copy_.sha256, record, derived)
    state.hub.publish(hearing_id, {"type": "redaction", "redaction": result}, staff_only=True)
    return result


def _load(tx: Tx, hearing_id: int, redaction_id: int) -> tuple[Hearing, Redaction]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    r = tx.s.get(Redaction, redaction_id)
    if r is None or r.hearing_id != hearing_id:
        raise not_found("no such redaction")
    return h, r


@dataclass(frozen=True)
class _Countersign:
    role: str
    name: str
    key_path: Path
    copy_: StenogramVersion
    signatures: list[dict]


def _prepare_countersign(tx: Tx, hearing_id: int, redaction_id: int) -> _Countersign:
    h, r = _load(tx, hearing_id, redaction_id)
    role = _role(tx.me, h)
    key = tx.s.execute(select(SigningKey).where(SigningKey.user_id == tx.me.user_id)
                       ).scalar_one_or_none()
    if key is None:
        raise Unprocessable("create your signing key first", code="no_key")
    user = tx.s.get(User, tx.me.user_id)
    assert user is not None
    return _Countersign(role, user.display_name, Path(key.path), redacted_version(r.doc),
                        list(r.signatures))


def _store_countersign(tx: Tx, hearing_id: int, redaction_id: int, c: _Countersign,
                       record: dict) -> dict:
    h, r = _load(tx, hearing_id, redaction_id)
    if list(r.signatures) != c.signatures:
        raise conflict("the redacted copy was signed meanwhile; sign again")
    r.signatures = [*r.signatures, record]
    tx.audit(h, "stenogram.redaction_sign", {"redaction_id": r.id, "sha256": r.sha256,
                                             "role": c.role, "key_id": record["key_id"]})
    number = tx.s.get(StenogramVersionRow, r.version_id).number
    return redaction_json(r, number)


async def countersign(state: AppState, caller: Caller, hearing_id: int, redaction_id: int,
                      passphrase: str) -> dict:
    """The other of the judge and secretary signs the copy too (each signs it once)."""
    c = await state.transaction(caller, _prepare_countersign, hearing_id, redaction_id)
    signer = await _signer(c.key_path, passphrase)
    try:
        stmt = redaction_statement(c.copy_, role=c.role, user_id=str(caller.user_id),
                                   name=c.name, signatures=c.signatures)
    except RedactionError as exc:
        raise conflict(str(exc)) from None
    record = signature_record(stmt, algorithm=signer.algorithm, key_id=signer.key_id,
                              signature=signer.sign(canonical_bytes(stmt)))
    return await state.transaction(caller, _store_countersign, hearing_id, redaction_id, c,
                                   record)


def _list(tx: Tx, hearing_id: int, req: PageRequest) -> dict:
    load_managed(tx.s, hearing_id, tx.me)
    numbers = {r.id: r.number for r in tx.s.execute(select(StenogramVersionRow).where(
        StenogramVersionRow.hearing_id == hearing_id)).scalars()}
    items, cursor = page(tx.s, select(Redaction).where(Redaction.hearing_id == hearing_id),
                         Redaction.id, req, lambda r: redaction_json(r, numbers[r.version_id]))
    return {"redactions": items, "next_cursor": cursor}


async def list_redactions(state: AppState, caller: Caller, hearing_id: int,
                          req: PageRequest) -> dict:
    """The hearing's redactions, oldest first (the court's staff)."""
    return await state.transaction(caller, _list, hearing_id, req)


# -- what callers below "sealed" are given -------------------------------------------------------

def newest_copy(s: Session, version_sha256: str) -> Redaction | None:
    return s.execute(select(Redaction).join(
        StenogramVersionRow, Redaction.version_id == StenogramVersionRow.id).where(
        StenogramVersionRow.sha256 == version_sha256).order_by(Redaction.id.desc())
        .limit(1)).scalar_one_or_none()


def served_copy(s: Session, caller: Caller, h: Hearing, version: StenogramVersion
                ) -> tuple[StenogramVersion, list[dict]] | None:
    """The redacted copy (and its signatures) to give ``caller`` in place of ``version``:
    the newest copy of it, unless the caller may see sealed material; None when the version
    is to be given as it is."""
    if level_allowed(caller, h, "sealed"):
        return None
    r = newest_copy(s, version.sha256)
    if r is None:
        return None
    return redacted_version(r.doc), list(r.signatures)


def sealed_from(s: Session, caller: Caller, h: Hearing) -> bool:
    """Whether the hearing's record is redacted and ``caller`` may not see its originals."""
    return not level_allowed(caller, h, "sealed") and s.execute(
        select(Redaction.id).where(Redaction.hearing_id == h.id).limit(1)).first() is not None


def served_signed(s: Session, caller: Caller, h: Hearing,
                  locked: list[StenogramVersion]) -> tuple[StenogramVersion, list[dict]] | None:
    """The signed record to give a caller below "sealed" once the hearing is redacted:
    the copy of the newest signed version that has one (``locked``: signed versions, newest
    first). A version signed after the last redaction holds the original text again, so it
    is not given out until it is redacted too. None: give the latest signed version as is."""
    if not sealed_from(s, caller, h):
        return None
    for v in locked:
        copy_ = served_copy(s, caller, h, v)
        if copy_ is not None:
            return copy_
    return None


def served_recordings(s: Session, caller: Caller, h: Hearing) -> dict[str, dict]:
    """Original recording SHA-256 -> its silenced copy, for a caller below "sealed" (every
    copy of the hearing's newest redaction of each version; the newest wins). Empty for the
    hearing's judge and secretary."""
    if level_allowed(caller, h, "sealed"):
        return {}
    out: dict[str, dict] = {}
    for r in s.execute(select(Redaction).where(Redaction.hearing_id == h.id)
                       .order_by(Redaction.id)).scalars():
        out.update({d["original_sha256"]: d for d in r.recordings})
    return out


# -- the redacted bundle ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _BundleContents:
    copy_: StenogramVersion
    signatures: list[dict]
    keys: list[dict]
    media: dict[str, Path]


def _bundle_contents(tx: Tx, hearing_id: int, redaction_id: int,
                     with_media: bool) -> _BundleContents:
    h, r = _load(tx, hearing_id, redaction_id)
    if not (may_see_record(tx.me, h) or may_read_signed_record(tx.me, h, protocol=False)):
        raise forbidden("you may not read this record")
    wanted = {sig["key_id"] for sig in r.signatures}
    keys = [k.public_key_info for k in tx.s.execute(select(SigningKey)).scalars()
            if k.key_id in wanted]
    media = {}
    if with_media:
        for d in r.recordings:
            p = tx.state.live.blobs.path_for(d["sha256"])
            if p.is_file():
                media[d["sha256"]] = p
    return _BundleContents(redacted_version(r.doc), list(r.signatures), keys, media)


def _write(c: _BundleContents, out: Path) -> dict:
    documents = render_documents(protocol_from_version(c.copy_, c.signatures))
    return write_redacted_bundle(out, copy_=c.copy_, signatures=c.signatures,
                                 public_keys=c.keys, media=c.media, documents=documents)


async def export_bundle(state: AppState, caller: Caller, hearing_id: int,
                        redaction_id: int, out: Path, with_media: bool) -> dict:
    """The redacted copy's own bundle at ``out`` (for the court and the case's parties):
    the copy, its signatures and keys, its silenced recordings, its protocol."""
    contents = await state.transaction(caller, _bundle_contents, hearing_id, redaction_id,
                                       with_media)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _write, contents, out)
