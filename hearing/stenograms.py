"""Stenogram versions, signatures, signed audit tree heads and export bundles for a hearing:
the database side of the stenogram package (which knows nothing of databases).

Everything here is synchronous and runs inside ``Database.run`` (one transaction)."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.audit import iso_utc, row_document
from hearing.config import Config
from hearing.models import (AuditEvent, Court, EvidenceItem, Hearing, Recording,
                            RecordingChunk, SigningKey, StenogramSignature, StenogramVersionRow,
                            TreeHead, User)
from hearing.transcripts import speakers
from stenogram import (StenogramVersion, Transcript, build_version, load_or_create_server_key,
                       sign_tree_head)
from stenogram.merkle import MerkleTree, audit_leaf


def keys_dir(cfg: Config) -> Path:
    return Path(cfg.data_dir) / "keys"


def user_key_path(cfg: Config, user_id: int) -> Path:
    return keys_dir(cfg) / f"user-{user_id}.key.json"


def server_signer(cfg: Config):  # noqa: ANN201
    """The server's own key: it signs audit tree heads, never a stenogram. Read once per
    key file, not at every tree head."""
    return _server_signer(str((keys_dir(cfg) / "server-audit.pem").resolve()))


@functools.lru_cache(maxsize=8)
def _server_signer(path: str):  # noqa: ANN202
    return load_or_create_server_key(Path(path))


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
               "kind": "recording", "media_type": r.content_type}
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
                         previous=previous)


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
