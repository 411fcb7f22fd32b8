"""Records as the JSON a caller sees (API answers, CLI output). Names are returned verbatim;
escaping is the page's job."""

from __future__ import annotations

from datetime import datetime

from hearing.audit import iso_utc
from hearing.models import (AuditEvent, Case, CaseParty, Hearing, Invite, Notice, Participant,
                            User)
from hearing.roles import Caller


def ts(dt: datetime | None) -> str | None:
    return iso_utc(dt) if dt else None


def user_json(u: User) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "contact": u.contact or "", "active": u.active}


def hearing_json(h: Hearing) -> dict:
    return {"id": h.id, "case_id": h.case_id, "case_number": h.case_number, "title": h.title,
            "kind": h.kind, "language": h.language, "scheduled_at": ts(h.scheduled_at),
            "duration_min": h.duration_min, "state": h.state,
            "judge_id": h.judge_id, "secretary_id": h.secretary_id,
            "court_id": h.court_id, "courtroom_id": h.courtroom_id,
            "vocabulary": list(h.vocabulary or []), "opened_at": ts(h.opened_at),
            "closed_at": ts(h.closed_at), "created_at": ts(h.created_at),
            "access_level": h.access_level or "public"}


def participant_json(p: Participant) -> dict:
    return {"id": p.id, "hearing_id": p.hearing_id, "role": p.role,
            "display_name": p.display_name, "contact": p.contact, "user_id": p.user_id,
            "presence": p.presence, "muted": p.muted, "hand_raised": p.hand_raised,
            "interprets_into": p.interprets_into, "interprets_from": p.interprets_from}


def public_participant_json(p: Participant) -> dict:
    """What other participants may see: no contact details."""
    d = participant_json(p)
    d.pop("contact")
    return d


def invite_json(i: Invite) -> dict:
    return {"id": i.id, "hearing_id": i.hearing_id, "participant_id": i.participant_id,
            "role": i.role, "created_at": ts(i.created_at), "expires_at": ts(i.expires_at),
            "revoked_at": ts(i.revoked_at)}


def audit_json(e: AuditEvent) -> dict:
    return {"seq": e.seq, "at": ts(e.at), "clock_ms": e.clock_ms, "actor": e.actor,
            "action": e.action, "data": e.data, "prev_hash": e.prev_hash, "hash": e.hash}


def party_notice_json(n: Notice) -> dict:
    """A notice as its addressee sees it in the workplace: what, where, and how far it got."""
    return {"id": n.id, "case_id": n.case_id, "hearing_id": n.hearing_id, "kind": n.kind,
            "channel": n.channel, "address": n.address, "subject": n.subject,
            "status": n.status, "created_at": ts(n.created_at), "updated_at": ts(n.updated_at)}


def notice_json(n: Notice) -> dict:
    """A notice as the hearing's staff see it: to whom, how, and where its delivery stands
    (never its body: an invite's holds the join link)."""
    return {**party_notice_json(n), "participant_id": n.participant_id,
            "case_party_id": n.case_party_id, "user_id": n.user_id,
            "ics_sequence": n.ics_sequence, "attempts": n.attempts,
            "next_attempt_at": ts(n.next_attempt_at), "last_error": n.last_error}


def caller_json(c: Caller) -> dict:
    """Who is calling; a staff session also hands its CSRF token back to the page."""
    out: dict = {"kind": c.kind, "role": c.role, "name": c.name, "user_id": c.user_id,
                 "participant_id": c.participant_id, "hearing_id": c.hearing_id}
    if c.csrf:
        out["csrf_token"] = c.csrf
    return out


def case_json(c: Case) -> dict:
    return {"id": c.id, "court_id": c.court_id, "number": c.number, "category": c.category,
            "title": c.title, "judge_id": c.judge_id, "status": c.status,
            "created_at": ts(c.created_at), "created_by": c.created_by}


def case_party_json(p: CaseParty, *, contact: bool = True) -> dict:
    """A party of a case; its contact only for the court's staff."""
    out = {"id": p.id, "case_id": p.case_id, "role": p.role, "display_name": p.display_name,
           "user_id": p.user_id, "acts_for": p.acts_for, "active": p.active,
           "added_at": ts(p.added_at)}
    if contact:
        out["contact"] = p.contact
    return out
