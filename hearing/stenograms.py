"""Stenogram versions, signatures, signed audit tree heads and export bundles for a hearing:
the database side of the stenogram package (which knows nothing of databases).

Everything here is synchronous and runs inside ``Database.run`` (one transaction)."""

from __future__ import annotations

import functools
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption, Encoding,
                                                          PrivateFormat, load_pem_private_key)
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from hearing.audit import iso_utc, row_document
from hearing.config import Config
from hearing.models import (AuditEvent, Court, EvidenceItem, Hearing, Recording,
                            RecordingChunk, SigningKey, StenogramSignature, StenogramVersionRow,
                            TreeHead, User)
from hearing.notes import record_notes
from hearing.transcripts import speakers
from stenogram import (StenogramVersion, Transcript, build_version, load_or_create_server_key,
                       sign_tree_head)
from stenogram.canonical import canonical_bytes
from stenogram.files import fsync_dir, write_private
from stenogram.merkle import MerkleTree, audit_leaf, tree_head_id
from stenogram.signing import Ed25519Signer, SigningError

log = logging.getLogger(__name__)
SERVER_KEY_OWNER = "courtroom server (audit log)"


def keys_dir(cfg: Config) -> Path:
    return Path(cfg.data_dir) / "keys"


def user_key_path(cfg: Config, user_id: int) -> Path:
    return keys_dir(cfg) / f"user-{user_id}.key.json"


def server_key_path(cfg: Config) -> Path:
    return keys_dir(cfg) / "server-audit.pem"


def audit_key_passphrase(cfg: Config) -> bytes | None:
    """The configured passphrase of the audit key, or None (an unencrypted key)."""
    if cfg.audit_key_passphrase_file:
        try:
            text = Path(cfg.audit_key_passphrase_file).read_text(encoding="utf-8")
        except OSError as e:
            raise SigningError(f"cannot read audit_key_passphrase_file "
                               f"{cfg.audit_key_passphrase_file}: {e.strerror}") from None
        text = text.rstrip("\r\n")
        if not text:
            raise SigningError(f"audit_key_passphrase_file {cfg.audit_key_passphrase_file} "
                               "is empty")
    else:
        text = cfg.audit_key_passphrase
    return text.encode() if text else None


def server_signer(cfg: Config):  # noqa: ANN201
    """The server's own key: it signs audit tree heads, never a stenogram. Read once per
    key file, not at every tree head. Raises SigningError when it cannot be opened."""
    return _server_signer(str(server_key_path(cfg).resolve()), audit_key_passphrase(cfg))


@functools.lru_cache(maxsize=8)
def _server_signer(path: str, passphrase: bytes | None):  # noqa: ANN202
    if passphrase is None:
        try:
            return load_or_create_server_key(Path(path), owner=SERVER_KEY_OWNER)
        except TypeError:  # cryptography: "Password was not given but private key is encrypted"
            raise SigningError(f"the audit key {path} is encrypted: set "
                               "audit_key_passphrase_file or COURTROOM_AUDIT_KEY_PASSPHRASE"
                               ) from None
    return _encrypted_server_key(Path(path), passphrase)


def _encrypted_server_key(path: Path, passphrase: bytes) -> Ed25519Signer:
    """The audit key as a PKCS#8 PEM encrypted under the passphrase (0600); a new key, or a
    plain one written before a passphrase was configured, is (re)written encrypted."""
    key, write = None, True
    if path.exists():
        data = path.read_bytes()
        try:
            key, write = load_pem_private_key(data, password=passphrase), False
        except TypeError:  # not encrypted yet
            key = load_pem_private_key(data, password=None)
        except ValueError:
            raise SigningError(f"the audit key {path} does not open with the configured "
                               "passphrase (audit_key_passphrase_file / "
                               "COURTROOM_AUDIT_KEY_PASSPHRASE): wrong passphrase or a "
                               "damaged key file") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningError(f"{path} is not an Ed25519 key")
    else:
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if write:
        write_private(path, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                              BestAvailableEncryption(passphrase)))
    return Ed25519Signer(key, owner=SERVER_KEY_OWNER)


def server_public_key(cfg: Config) -> dict | None:
    """The audit key's public part, or None where the server never made one (never creates
    it: for verifying)."""
    return server_signer(cfg).public_key_info() if server_key_path(cfg).exists() else None


def log_id(hearing_id: int) -> str:
    return f"courtroom-audit/hearing-{hearing_id}"


def hearing_meta(s: Session, h: Hearing, cfg: Config) -> dict:
    court = s.get(Court, h.court_id) if h.court_id else None
    judge = s.get(User, h.judge_id)
    secretary = s.get(User, h.secretary_id) if h.secretary_id else None
    composition = [{"role": "judge", "name": judge.display_name}]
    if secretary:
        composition.append({"role": "secretary", "name": secretary.display_name})
    opened = iso_utc(h.opened_at) if h.opened_at else None
    return {"id": h.id, "court": court.name if court else "", "case_number": h.case_number,
            "title": h.title, "kind": h.kind, "language": h.language,
            "date": (opened or iso_utc(h.created_at))[:10], "opened_at": opened,
            "closed_at": iso_utc(h.closed_at) if h.closed_at else None,
            "timezone": court.timezone if court else cfg.timezone, "composition": composition}


def version_participants(s: Session, hearing_id: int) -> list[dict]:
    """One entry per speaker key (audio source), which is what segments' speaker refers to."""
    return [{"id": v["key"], "name": v["label"], "role": v["role"],
             "participant_id": v["participant_id"], "seat": v["seat"]}
            for v in speakers(s, hearing_id).values()]


def recording_entries(s: Session, hearing_id: int) -> list[dict]:
    chunks = [{"sha256": c.sha256, "size": c.size, "source_id": c.source_id,
               "start_ms": c.start_ms, "end_ms": c.end_ms, "name": Path(c.path).name,
               "kind": "chunk"}
              for c in s.execute(select(RecordingChunk).where(
                  RecordingChunk.hearing_id == hearing_id).order_by(RecordingChunk.id)).scalars()]
    finals = [{"sha256": r.sha256, "size": r.size, "source_id": r.source_id,
               "start_ms": r.start_ms, "end_ms": r.end_ms, "name": f"{r.source_id}",
               "kind": "recording", "media_type": r.content_type, "gaps": list(r.gaps or [])}
              for r in s.execute(select(Recording).where(
                  Recording.hearing_id == hearing_id).order_by(Recording.id)).scalars()]
    return chunks + finals


def evidence_entries(s: Session, hearing_id: int) -> list[dict]:
    return [{"sha256": e.sha256, "size": e.size, "name": e.filename,
             "media_type": e.content_type, "kind": e.kind, "evidence_id": e.id}
            for e in s.execute(select(EvidenceItem).where(
                EvidenceItem.hearing_id == hearing_id, EvidenceItem.status == "accepted")
                .order_by(EvidenceItem.id)).scalars()]


def audit_rows(s: Session, hearing_id: int) -> list[dict]:
    """Rows as hashed (row_document): the bundle's verifier recomputes each hash from them."""
    return [row_document(r) for r in s.execute(select(AuditEvent).where(
        AuditEvent.hearing_id == hearing_id).order_by(AuditEvent.seq)).scalars()]


def tree_heads(s: Session, hearing_id: int) -> list[dict]:
    return [t.doc for t in s.execute(select(TreeHead).where(TreeHead.hearing_id == hearing_id)
                                     .order_by(TreeHead.tree_size)).scalars()]


# -- signed heads outside the database ---------------------------------------------------------
# The database cannot vouch for itself: whoever can delete audit rows can delete their heads.
# Every head is also appended to a file of its own, which the server only ever appends to, so
# a truncated or rewritten log is caught against heads the database no longer shows.

def head_file(cfg: Config, hearing_id: int) -> Path:
    return Path(cfg.data_dir) / "audit-heads" / f"{hearing_id}.jsonl"


def append_head(path: Path, sth: dict) -> None:
    """One head as one JSON line, appended (O_APPEND) and fsynced before returning; a line
    torn by a crash is closed first so it never swallows the next head."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    new = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        data = canonical_bytes(dict(sth)) + b"\n"
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def read_heads(path: Path) -> tuple[list[dict], list[str]]:
    """The heads of a head file in the order written, and the lines that are not heads."""
    heads: list[dict] = []
    bad: list[str] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return heads, bad
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            h = json.loads(line)
        except ValueError:
            h = None
        if isinstance(h, dict) and isinstance(h.get("tree_size"), int):
            heads.append(h)
        else:
            bad.append(f"line {n} of {path} is not a tree head")
    return heads, bad


def all_tree_heads(s: Session, cfg: Config, hearing_id: int) -> list[dict]:
    """Every head the server signed for the hearing, from the database and its head file,
    each once, by size then time: what a bundle carries."""
    seen: dict[str, dict] = {}
    for h in tree_heads(s, hearing_id) + read_heads(head_file(cfg, hearing_id))[0]:
        seen.setdefault(tree_head_id(h), h)
    return sorted(seen.values(), key=lambda h: (h["tree_size"], str(h.get("timestamp"))))


_PENDING = "courtroom_heads_to_append"


def _append_after_commit(s: Session, path: Path, sth: dict) -> None:
    """A head goes to the file only once its rows are committed: a rolled-back head would
    accuse the log of losing rows it never had."""
    if _PENDING not in s.info:
        s.info[_PENDING] = []
        event.listen(s, "after_commit", _write_pending)
        event.listen(s, "after_rollback", lambda sess: sess.info[_PENDING].clear())
    s.info[_PENDING].append((path, sth))


def _write_pending(s: Session) -> None:
    pending, s.info[_PENDING] = s.info[_PENDING], []
    for path, sth in pending:
        try:
            append_head(path, sth)
        except OSError:  # the action committed; the head stays in the database
            log.exception("could not append the tree head of size %s to %s",
                          sth.get("tree_size"), path)


def sign_tree_head_now(s: Session, cfg: Config, hearing_id: int) -> dict | None:
    """Sign the audit log's current Merkle root if it grew since the last signed head."""
    rows = audit_rows(s, hearing_id)
    last = s.execute(select(TreeHead).where(TreeHead.hearing_id == hearing_id)
                     .order_by(TreeHead.tree_size.desc()).limit(1)).scalar_one_or_none()
    if not rows or (last is not None and last.tree_size >= len(rows)):
        return last.doc if last else None
    tree = MerkleTree([audit_leaf(r) for r in rows])
    sth = sign_tree_head(server_signer(cfg), log_id(hearing_id), tree,
                         iso_utc(datetime.now(timezone.utc)))
    s.add(TreeHead(hearing_id=hearing_id, tree_size=len(rows), doc=sth,
                   created_at=datetime.now(timezone.utc)))
    s.flush()
    _append_after_commit(s, head_file(cfg, hearing_id), sth)
    return sth


def versions(s: Session, hearing_id: int) -> list[StenogramVersion]:
    return [StenogramVersion(document=r.doc, sha256=r.sha256) for r in s.execute(
        select(StenogramVersionRow).where(StenogramVersionRow.hearing_id == hearing_id)
        .order_by(StenogramVersionRow.number)).scalars()]


def signatures(s: Session, hearing_id: int) -> list[dict]:
    return [sig.doc for sig in s.execute(
        select(StenogramSignature).join(StenogramVersionRow,
                                        StenogramSignature.version_id == StenogramVersionRow.id)
        .where(StenogramVersionRow.hearing_id == hearing_id)
        .order_by(StenogramSignature.id)).scalars()]


def public_keys(s: Session, hearing_id: int, cfg: Config) -> list[dict]:
    """Every key the bundle's signatures and tree heads name."""
    keys = {k.key_id: k.public_key_info for k in s.execute(select(SigningKey)).scalars()}
    wanted = {sig["key_id"] for sig in signatures(s, hearing_id)}
    out = [keys[k] for k in sorted(wanted) if k in keys]
    server = server_signer(cfg).public_key_info()
    if all(k["key_id"] != server["key_id"] for k in out):
        out.append(server)
    return out


def new_version(s: Session, cfg: Config, h: Hearing, transcript: Transcript) -> StenogramVersion:
    previous = (versions(s, h.id) or [None])[-1]
    sth = sign_tree_head_now(s, cfg, h.id)
    audit_head = ({"log_id": sth["log_id"], "tree_size": sth["tree_size"],
                   "root_hash": sth["root_hash"]} if sth else None)
    return build_version(hearing=hearing_meta(s, h, cfg),
                         participants=version_participants(s, h.id),
                         segments=transcript.segments(), revisions_head=transcript.head(),
                         recordings=recording_entries(s, h.id),
                         evidence=evidence_entries(s, h.id), audit_head=audit_head,
                         previous=previous, notes=record_notes(s, h.id))


def media_files(s: Session, hearing_id: int,
                blob_path: Callable[[str], Path]) -> dict[str, Path]:
    """sha256 -> file, for every recording chunk, finished recording and accepted evidence."""
    out: dict[str, Path] = {}
    for c in s.execute(select(RecordingChunk).where(RecordingChunk.hearing_id == hearing_id)).scalars():
        if Path(c.path).is_file():
            out[c.sha256] = Path(c.path)
    for sha in [r.sha256 for r in s.execute(select(Recording).where(
            Recording.hearing_id == hearing_id)).scalars()] + [
            e["sha256"] for e in evidence_entries(s, hearing_id)]:
        p = blob_path(sha)
        if p.is_file():
            out[sha] = p
    return out
