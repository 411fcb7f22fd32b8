"""Append-only audit log, one hash chain per hearing (chain 0 for the server itself, and a
negative chain per case: ``case_chain``).

Each row's hash is SHA-256 over the RFC 8785 canonical JSON of its content plus the previous
row's hash, so an edited, deleted or reordered row breaks the chain at a place we can name.
A cut tail or a chain re-hashed from an edited row on is caught by the signed Merkle tree heads
(hearing/stenograms.py), which are also kept outside the database (hearing/services/audit.py
checks the log against them)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import rfc8785
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hearing.models import AuditEvent

GENESIS = "0" * 64
SERVER_CHAIN = 0


def case_chain(case_id: int) -> int:
    """The chain of a case's own events (its file, its parties, evidence decided after its
    hearing closed): the case id negated, so it never meets a hearing's chain (positive ids)
    or the server's (0) in ``AuditEvent.hearing_id``."""
    return -case_id


def chain_name(chain: int) -> str:
    """How a chain is named to people: "hearing 7", "case 3", "the server"."""
    if chain == SERVER_CHAIN:
        return "the server"
    return f"case {-chain}" if chain < 0 else f"hearing {chain}"


def iso_utc(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; we only ever store UTC
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_document(row: AuditEvent) -> dict:
    """The exact content that is hashed (and that the stenogram bundle carries as a leaf)."""
    return {"hearing_id": row.hearing_id, "seq": row.seq, "at": iso_utc(row.at),
            "clock_ms": row.clock_ms, "actor": row.actor, "action": row.action,
            "data": row.data or {}, "prev_hash": row.prev_hash}


def row_hash(doc: dict) -> str:
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def append(session: Session, hearing_id: int, actor: str, action: str,
           data: dict | None = None, clock_ms: int | None = None) -> AuditEvent:
    """Append one row in the caller's transaction. On PostgreSQL an advisory lock per chain
    serialises writers across servers; SQLite serialises writers by itself."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x5EC0000 + hearing_id})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.hearing_id == hearing_id)
        .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = AuditEvent(hearing_id=hearing_id, seq=seq, at=datetime.now(timezone.utc),
                     clock_ms=clock_ms, actor=actor, action=action, data=data or {},
                     prev_hash=prev, hash="")
    row.hash = row_hash(row_document(row))
    session.add(row)
    session.flush()
    return row


@dataclass
class Problem:
    seq: int | None
    row_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"row seq {self.seq} (id {self.row_id})" if self.seq is not None else "chain"
        return f"{where}: {self.what}"


def verify(session: Session, hearing_id: int) -> tuple[int, list[Problem]]:
    """Walk the chain in insertion order; return (rows read, problems found)."""
    rows = session.execute(select(AuditEvent).where(AuditEvent.hearing_id == hearing_id)
                           .order_by(AuditEvent.id)).scalars().all()
    problems: list[Problem] = []
    expected_seq, prev_hash = 1, GENESIS
    for row in rows:
        doc = row_document(row)
        if row_hash(doc) != row.hash:
            problems.append(Problem(row.seq, row.id, "content was edited (hash does not match)"))
        if row.seq < expected_seq:
            problems.append(Problem(row.seq, row.id,
                                    f"out of order: expected seq {expected_seq} here (reordered)"))
        elif row.seq > expected_seq:
            missing = (f"seq {expected_seq}" if row.seq == expected_seq + 1
                       else f"seq {expected_seq}..{row.seq - 1}")
            problems.append(Problem(row.seq, row.id, f"{missing} missing before it (deleted)"))
        if row.prev_hash != prev_hash:
            problems.append(Problem(row.seq, row.id,
                                    "does not link to the row before it (previous row deleted, "
                                    "edited or moved)"))
        expected_seq, prev_hash = max(expected_seq, row.seq) + 1, row.hash
    return len(rows), problems
