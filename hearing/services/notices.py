"""Notices to the people of a case: queued in the transaction of the event they announce
(scheduling, a new time, a cancellation, an invite), one per person with a usable contact,
each with its audit row; the secretary's view of their delivery, a resend of a failed one,
and the providers' delivery reports. Delivery itself is the notice jobs' (hearing.notice_jobs).

A notice's body is stored sealed (hearing.notifications.sealing): an invite's body holds the
join link, and the link holds a bearer token. The body is erased once the notice has left
(sent) or reached a final status; a failed one keeps it, sealed, for a resend, until the
invite lifetime has passed."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hearing.access import load_managed
from hearing.errors import conflict, forbidden, not_found
from hearing.models import (CaseParty, Courtroom, Hearing, Notice, NoticeChannel, NoticeKind,
                            NoticeStatus, Participant, User)
from hearing.notifications import ical, sealing, texts
from hearing.notifications.contacts import Address, masked, parse_contact
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.services.accounts import OPERATOR
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import notice_json

#: Where the body is no longer needed: it has left, or will never be sent again.
ERASE_AT: frozenset[NoticeStatus] = frozenset({"sent", "delivered", "bounced"})
#: What a provider's delivery report may say about a notice it took.
REPORTABLE: frozenset[NoticeStatus] = frozenset({"delivered", "bounced", "failed"})
SERVER = "server"


@dataclass(frozen=True)
class Recipient:
    address: Address
    participant_id: int | None = None
    case_party_id: int | None = None
    user_id: int | None = None


def _actor(tx: Tx) -> str:
    return tx.caller.actor if tx.caller is not None else OPERATOR


def unconfigured(state: AppState, channel: NoticeChannel) -> str:
    """Why a channel cannot send now ("" when it can)."""
    cfg = state.config
    if channel == "email" and not cfg.smtp_host:
        return "no e-mail server configured (smtp_host): the notice waits until one is"
    if channel == "sms" and not cfg.sms_url:
        return "no SMS gateway configured (sms_url): the notice waits until one is"
    return ""


def _contact_of(s: Session, contact: str, user_id: int | None) -> str:
    """A person's own contact, else their account's."""
    if contact.strip() or user_id is None:
        return contact
    u = s.get(User, user_id)
    return u.contact if u is not None else ""


def recipients(s: Session, h: Hearing,
               participant: Participant | None) -> tuple[list[Recipient], int]:
    """Who an event concerns, one per address, and how many contacts were unusable: the one
    invited participant, or the hearing's participants and the case's active parties."""
    people: list[tuple[str, int | None, int | None, int | None]] = []
    if participant is not None:
        people.append((_contact_of(s, participant.contact, participant.user_id),
                       participant.id, participant.case_party_id, participant.user_id))
    else:
        covered: set[int] = set()
        for p in h.participants:
            if p.presence == "ejected":
                continue
            people.append((_contact_of(s, p.contact, p.user_id), p.id, p.case_party_id,
                           p.user_id))
            if p.case_party_id is not None:
                covered.add(p.case_party_id)
        for cp in s.execute(select(CaseParty).where(CaseParty.case_id == h.case_id,
                                                    CaseParty.active.is_(True))).scalars():
            if cp.id not in covered:
                people.append((_contact_of(s, cp.contact, cp.user_id), None, cp.id,
                               cp.user_id))
    found: dict[str, Recipient] = {}
    unusable = 0
    for contact, pid, cpid, uid in people:
        if not contact.strip():
            continue
        address = parse_contact(contact)
        if address is None:
            unusable += 1
        elif address.value not in found:
            found[address.value] = Recipient(address, pid, cpid, uid)
    return list(found.values()), unusable


def facts(s: Session, h: Hearing, tz: str) -> texts.HearingFacts:
    room = s.get(Courtroom, h.courtroom_id) if h.courtroom_id is not None else None
    return texts.HearingFacts(h.case_number, h.title, h.scheduled_at, tz,
                              room.name if room is not None else None)


def event_uid(state: AppState, h: Hearing) -> str:
    """The hearing's calendar event, named after the server's public host."""
    return ical.event_uid(h.id, urlsplit(state.config.base_url).hostname or "localhost")


def _sequence(s: Session, h: Hearing, kind: NoticeKind) -> int:
    """SEQUENCE of the hearing's calendar event: it rises with every change a calendar must
    replace (a new time, a cancellation); an invite carries the current one."""
    current = s.execute(select(func.max(Notice.ics_sequence))
                        .where(Notice.hearing_id == h.id)).scalar()
    if kind == "scheduled":
        return 0 if current is None else current
    if kind == "invited":
        return current or 0
    return (current or 0) + 1


@dataclass(frozen=True)
class Content:
    """What an event's notices say, rendered once for all its recipients."""
    subject: str
    text: str
    ics: str | None
    method: str

    def body(self, address: Address) -> dict[str, Any]:
        """The sealed body of one notice: the text, and the .ics for e-mail."""
        body: dict[str, Any] = {"text": self.text}
        if address.channel == "email" and self.ics is not None:
            body["ics"] = ical.for_attendee(self.ics, address.value)
            body["ics_method"] = self.method
        return body


def content(state: AppState, s: Session, h: Hearing, kind: NoticeKind, uid: str,
            sequence: int, link: str | None) -> Content:
    """The subject, the text, and the calendar event when the hearing has a time."""
    cfg = state.config
    f = facts(s, h, cfg.timezone)
    subject = texts.subject(kind, h.language, f)
    ics = (ical.invitation(kind, uid, sequence, f, h.duration_min or 60, subject, cfg.smtp_from)
           if f.scheduled_at is not None else None)
    return Content(subject, texts.body(kind, h.language, f, link), ics, ical.method(kind))


def hearing_event(tx: Tx, h: Hearing, kind: NoticeKind, *, participant: Participant | None = None,
                  link: str | None = None) -> None:
    """Queue a notice of ``kind`` about hearing ``h`` to everyone it concerns (for "invited":
    the one participant, with their join link), in the caller's transaction."""
    state, s = tx.state, tx.s
    people, unusable = recipients(s, h, participant)
    actor = _actor(tx)
    if unusable:
        tx.audit(h, "notice.skipped", {"kind": kind, "unusable_contacts": unusable}, actor=actor)
    if not people:
        return
    uid = event_uid(state, h)
    sequence = _sequence(s, h, kind)
    now = datetime.now(timezone.utc)
    said = content(state, s, h, kind, uid, sequence, link if kind == "invited" else None)
    for r in people:
        body = said.body(r.address)
        n = Notice(case_id=h.case_id, hearing_id=h.id, participant_id=r.participant_id,
                   case_party_id=r.case_party_id, user_id=r.user_id,
                   channel=r.address.channel, address=r.address.value, kind=kind,
                   subject=said.subject, body=sealing.seal(state.config.data_dir, body),
                   ics_uid=uid if "ics" in body else None, ics_sequence=sequence,
                   status="queued", attempts=0, next_attempt_at=now,
                   last_error=unconfigured(state, r.address.channel),
                   created_at=now, updated_at=now)
        s.add(n)
        s.flush()
        tx.audit(h, "notice.queued", {
            "notice_id": n.id, "kind": kind, "channel": n.channel, "to": masked(n.address),
            "participant_id": n.participant_id, "case_party_id": n.case_party_id,
            "user_id": n.user_id, "ics_sequence": sequence}, actor=actor)
    state.notices.wake_after_commit(s)


def set_status(tx: Tx, n: Notice, status: NoticeStatus, actor: str, **data: Any) -> None:
    """Change a notice's status with its audit row; the body goes once it is not needed."""
    before, n.status = n.status, status
    n.updated_at = datetime.now(timezone.utc)
    if status in ERASE_AT:
        n.body = ""
    if status != "queued":
        n.next_attempt_at = None
    h = tx.s.get(Hearing, n.hearing_id) if n.hearing_id is not None else None
    tx.audit(h, f"notice.{status}", {"notice_id": n.id, "kind": n.kind, "channel": n.channel,
                                     "from": before, "attempts": n.attempts, **data},
             actor=actor)


# -- the secretary's view -----------------------------------------------------------------------
def _list(tx: Tx, hearing_id: int, query: dict) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    q = select(Notice).where(Notice.hearing_id == h.id)
    if "status" in query:
        q = q.where(Notice.status == query["status"])
    items, cursor = page(tx.s, q, Notice.id, PageRequest.from_query(query, descending=True),
                         notice_json)
    return {"notices": items, "next_cursor": cursor}


async def list_notices(state: AppState, caller: Caller, hearing_id: int, query: dict) -> dict:
    """A hearing's notices, newest first, with their delivery status (the hearing's staff)."""
    return await state.transaction(caller, _list, hearing_id, query)


def _resend(tx: Tx, notice_id: int) -> dict:
    n = tx.s.get(Notice, notice_id)
    if n is None or n.hearing_id is None:
        raise not_found("no such notice")
    h = load_managed(tx.s, n.hearing_id, tx.me)
    if n.status != "failed":
        raise conflict(f"only a failed notice is sent again; this one is {n.status}")
    if sealing.unseal(tx.state.config.data_dir, n.body) is None:
        if n.kind == "invited":
            raise conflict("the join link of this notice is no longer kept: issue a new "
                           "invite")
        address = parse_contact(n.address)
        assert address is not None
        uid = n.ics_uid or event_uid(tx.state, h)
        said = content(tx.state, tx.s, h, n.kind, uid, n.ics_sequence, None)
        n.body = sealing.seal(tx.state.config.data_dir, said.body(address))
    n.attempts = 0
    n.last_error = unconfigured(tx.state, n.channel)
    set_status(tx, n, "queued", _actor(tx), resend=True)
    n.next_attempt_at = n.updated_at
    tx.state.notices.wake_after_commit(tx.s)
    return notice_json(n)


async def resend(state: AppState, caller: Caller, notice_id: int) -> dict:
    """Queue a failed notice again, attempts from zero (the hearing's staff)."""
    return await state.transaction(caller, _resend, notice_id)


# -- the providers' delivery reports ------------------------------------------------------------
def _report(tx: Tx, provider_ref: str, status: NoticeStatus) -> dict:
    n = tx.s.execute(select(Notice).where(Notice.provider_ref == provider_ref)).scalars().first()
    if n is None:
        raise not_found("no notice with this provider_ref")
    if n.status == "sent":
        set_status(tx, n, status, SERVER, report=True)
    return {"notice_id": n.id, "status": n.status}


async def delivery_report(state: AppState, secret: str | None, provider_ref: str,
                          status: NoticeStatus) -> dict:
    """A provider's word on a notice it took (delivered, bounced, failed): accepted only with
    the shared secret; a report on a notice already final changes nothing."""
    expected = state.config.notice_report_secret
    if not expected:
        raise forbidden("delivery reports are not configured (notice_report_secret)")
    if not secret or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise forbidden("wrong or missing X-Delivery-Secret header")
    return await state.transaction(None, _report, provider_ref, status)
