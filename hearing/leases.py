"""Leases on open hearings: exactly one node holds a hearing's live state at a time.

A node takes a free or expired lease (the fence grows by one), renews its own before it
expires, and gives it up when the hearing closes or the node stops. Everything the owner
writes for the hearing's live state carries its fence; ``check_fence`` refuses a write whose
fence is no longer current, so a node that was paused or cut off past its lease cannot write
over the node that took the hearing over. PostgreSQL locks the row while it decides; SQLite
has one writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearing.errors import Conflict
from hearing.models import HearingLease


class StaleOwner(Conflict):
    """A write by a node whose lease on the hearing has passed to another (or expired)."""


class HeldElsewhere(Conflict):
    """The hearing's live state is on another node: go there (``node_url``), or send the
    command to it over the bus (``node_id``)."""

    def __init__(self, lease: "Lease") -> None:
        super().__init__(f"hearing {lease.hearing_id} is held by node {lease.node_id}",
                         code="held_elsewhere", node_url=lease.node_url)
        self.lease = lease


@dataclass(frozen=True)
class Lease:
    hearing_id: int
    node_id: str
    node_url: str
    fence: int
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _lease(row: HearingLease) -> Lease:
    return Lease(row.hearing_id, row.node_id, row.node_url, row.fence, _aware(row.expires_at))


def _locked(s: Session, hearing_id: int) -> HearingLease | None:
    return s.execute(select(HearingLease).where(HearingLease.hearing_id == hearing_id)
                     .with_for_update()).scalar_one_or_none()


def acquire(s: Session, hearing_id: int, node_id: str, node_url: str, ttl_s: float,
            now: datetime | None = None) -> Lease | None:
    """The lease for ``node_id``: kept (and renewed) if it holds it, taken if free or expired
    (with the next fence); None while another node holds it."""
    now = now or _now()
    until = now + timedelta(seconds=ttl_s)
    row = _locked(s, hearing_id)
    if row is None:
        row = HearingLease(hearing_id=hearing_id, node_id=node_id, node_url=node_url, fence=1,
                           acquired_at=now, expires_at=until)
        try:
            with s.begin_nested():
                s.add(row)
        except IntegrityError:  # another node inserted it first: it holds the lease
            return None
        return _lease(row)
    if row.node_id == node_id and _aware(row.expires_at) > now:
        row.expires_at, row.node_url = until, node_url
        return _lease(row)
    if _aware(row.expires_at) > now:
        return None
    row.node_id, row.node_url, row.fence = node_id, node_url, row.fence + 1
    row.acquired_at, row.expires_at = now, until
    return _lease(row)


def renew(s: Session, lease: Lease, ttl_s: float, now: datetime | None = None) -> Lease | None:
    """Extend a held lease; None if it was lost (expired and taken, or fenced off)."""
    now = now or _now()
    row = _locked(s, lease.hearing_id)
    if row is None or row.node_id != lease.node_id or row.fence != lease.fence:
        return None
    if _aware(row.expires_at) <= now:
        return None  # lapsed: the node must take it again (with a new fence) to go on
    row.expires_at = now + timedelta(seconds=ttl_s)
    return _lease(row)


def release(s: Session, lease: Lease, now: datetime | None = None) -> None:
    """Give the lease up at once (the hearing closed, the node stops); the fence stays."""
    row = _locked(s, lease.hearing_id)
    if row is not None and row.node_id == lease.node_id and row.fence == lease.fence:
        row.expires_at = now or _now()


def current(s: Session, hearing_id: int, now: datetime | None = None) -> Lease | None:
    """The lease in force, or None when nobody holds the hearing."""
    row = s.get(HearingLease, hearing_id)
    if row is None or _aware(row.expires_at) <= (now or _now()):
        return None
    return _lease(row)


def check_fence(s: Session, hearing_id: int, fence: int) -> None:
    """Refuse a live-state write of an owner whose fence is no longer the hearing's."""
    row = _locked(s, hearing_id)
    if row is None or row.fence != fence:
        raise StaleOwner(f"hearing {hearing_id}: this node no longer holds its lease "
                         f"(fence {fence}, now {row.fence if row else 'none'})",
                         code="stale_owner")
