"""Hearings: scheduling (with the courtroom's bookings), details, the lifecycle (open, recess,
close, cancel), the filtered and paged list, the list of participants, their invites, and
reading the audit log.

The operator at the server's shell (the `courtroom` command) runs the same workflows with no
caller: no access rules apply to them, and their audit rows name the actor "cli"."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Required, TypedDict

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from hearing import audit, auth, cases, courtrooms
from hearing.access import (hearings_visible_to, load_hearing, load_managed, load_participant,
                            load_presided, require_canceller, require_staff_role,
                            still_changeable)
from hearing.errors import bad_request, conflict, not_found
from hearing.invites import invite_link, qr_payload
from hearing.lifecycle import check_transition
from hearing.models import (AudioSource, AuditEvent, Hearing, HearingKind, HearingState,
                            Invite, Language, Participant, ParticipantRole, STAFF_ROLES,
                            StaffRole, User)
from hearing.paging import PageRequest, page
from hearing.hub import Selector
from hearing.roles import Caller
from hearing.services import live_events, notices
from hearing.services.accounts import OPERATOR
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import (audit_json, hearing_json, invite_json, participant_json,
                           public_participant_json)


class NewHearing(TypedDict, total=False):
    case_number: Required[str]
    title: Required[str]
    kind: Required[HearingKind]
    language: Required[Language]
    scheduled_at: str  # ISO 8601 with a time zone
    judge_id: int
    secretary_id: int
    court_id: int
    courtroom_id: int
    duration_min: int  # the courtroom is booked for this long (default 60)
    vocabulary: list[str]


class HearingChanges(TypedDict, total=False):
    title: str
    scheduled_at: str
    duration_min: int
    secretary_id: int
    vocabulary: list[str]
    language: Language


class NewParticipant(TypedDict, total=False):
    role: Required[ParticipantRole]
    display_name: Required[str]
    contact: str
    user_id: int
    interprets_into: str  # an interpreter's: "kk" or "ru"
    interprets_from: str  # an interpreter's: a language code ("kk", "ru", "uz", ...)


#: Filters of the hearing list (all optional, combined with AND); "from"/"to" bound
#: scheduled_at (ISO 8601 with a time zone; "to" exclusive).
HearingFilters = TypedDict("HearingFilters", {
    "case_number": str, "case_id": int, "q": str, "state": HearingState, "courtroom_id": int,
    "judge_id": int, "from": str, "to": str}, total=False)


@dataclass(frozen=True)
class IssuedInvite:
    """An invite as issued: the token and its link exist only in this answer."""
    row: Invite
    token: str
    link: str


#: A hearing's booked length when scheduling gives none (Hearing.duration_min's default).
DEFAULT_DURATION_MIN = 60


def parse_time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{field}: not an ISO 8601 date-time", field=field) from None
    if dt.tzinfo is None:
        raise bad_request(f"{field}: give a time zone (e.g. +05:00 or Z)", field=field)
    try:  # 9999-12-31T23:00-12:00 or 0001-01-01T00:00+14:00 leave the representable years
        return dt.astimezone(timezone.utc)
    except OverflowError:
        raise bad_request(f"{field}: outside the years 0001-9999 in UTC", field=field) from None


def staff_user(s: Session, user_id: int, role: StaffRole, field: str) -> User:
    u = s.get(User, user_id)
    if u is None or u.role != role or not u.active:
        raise bad_request(f"{field}: no active {role} with id {user_id}", field=field)
    return u


def add_participant(s: Session, h: Hearing, role: str, name: str, contact: str = "",
                    user_id: int | None = None) -> Participant:
    p = Participant(hearing_id=h.id, role=role, display_name=name, contact=contact,
                    user_id=user_id)
    s.add(p)
    s.flush()
    # Each remote participant is a source of its own: attribution needs no diarisation.
    s.add(AudioSource(hearing_id=h.id, kind="remote", key=f"p{p.id}", participant_id=p.id,
                      label=name))
    s.flush()
    return p


def _actor(tx: Tx) -> str:
    return tx.caller.actor if tx.caller is not None else OPERATOR


def _participant_view(caller: Caller) -> Callable[[Participant], dict]:
    """Staff see contact details; participants see each other without them."""
    return participant_json if caller.kind == "staff" else public_participant_json


# -- the workflows both edges share ------------------------------------------------------------
def _schedule(tx: Tx, new: NewHearing, judge: User, secretary: User | None,
              created_by: int) -> Hearing:
    scheduled = parse_time(new.get("scheduled_at"), "scheduled_at")
    duration = new.get("duration_min", DEFAULT_DURATION_MIN)
    courtrooms.check_court_and_room(tx.s, new.get("court_id"), new.get("courtroom_id"))
    courtrooms.check_booking(tx.s, new.get("courtroom_id"), scheduled, duration)
    case, _ = cases.case_for_hearing(tx.s, new.get("court_id"), new["case_number"], new["kind"],
                                     new["title"], judge.id, created_by)
    h = Hearing(case_id=case.id, case_number=new["case_number"], title=new["title"],
                kind=new["kind"], language=new["language"], scheduled_at=scheduled,
                duration_min=duration, judge_id=judge.id,
                secretary_id=secretary.id if secretary else None,
                court_id=new.get("court_id"), courtroom_id=new.get("courtroom_id"),
                vocabulary=new.get("vocabulary", []), state="scheduled",
                created_at=datetime.now(timezone.utc), created_by=created_by)
    tx.s.add(h)
    tx.s.flush()
    courtrooms.ensure_seat_sources(tx.s, h)  # a courtroom hearing: one audio source per seat
    add_participant(tx.s, h, "judge", judge.display_name, user_id=judge.id)
    if secretary:
        add_participant(tx.s, h, "secretary", secretary.display_name, user_id=secretary.id)
    tx.audit(h, "hearing.create",
             {"case_number": h.case_number, "title": h.title, "kind": h.kind,
              "language": h.language, "judge_id": h.judge_id, "secretary_id": h.secretary_id,
              "courtroom_id": h.courtroom_id, "duration_min": h.duration_min,
              "scheduled_at": audit.iso_utc(scheduled) if scheduled else None},
             actor=_actor(tx))
    notices.hearing_event(tx, h, "scheduled")
    return h


def _enrol(tx: Tx, h: Hearing, new: NewParticipant) -> Participant:
    _not_a_staff_seat(new["role"])
    user_id = new.get("user_id")
    if user_id is not None and tx.s.get(User, user_id) is None:
        raise bad_request(f"user_id: no user with id {user_id}", field="user_id")
    p = add_participant(tx.s, h, new["role"], new["display_name"], new.get("contact", ""),
                        user_id)
    languages = {}
    if "interprets_into" in new or "interprets_from" in new:
        _interprets(tx.s, p, new.get("interprets_into"), new.get("interprets_from"))
        languages = {"interprets_into": p.interprets_into, "interprets_from": p.interprets_from}
    tx.audit(h, "participant.add",
             {"participant_id": p.id, "role": p.role, "display_name": p.display_name,
              **languages}, actor=_actor(tx))
    return p


def _interprets(s: Session, p: Participant, into: str | None, from_: str | None) -> None:
    """An interpreter's languages; their audio source takes the one they speak, so it is
    transcribed in it (live and when heard again) rather than in the hearing's mix."""
    if p.role != "interpreter":
        raise bad_request("interprets_into: only an interpreter interprets", field="role")
    if into is None and from_ is not None:
        raise bad_request("interprets_into: say which language they interpret into",
                          field="interprets_into")
    if from_ is not None and from_ == into:
        raise bad_request("interprets_from: the same language as interprets_into",
                          field="interprets_from")
    p.interprets_into, p.interprets_from = into, from_
    src = s.execute(select(AudioSource).where(AudioSource.hearing_id == p.hearing_id,
                                              AudioSource.participant_id == p.id)).scalar()
    if src is not None:
        src.language = into


def _not_a_staff_seat(role: str) -> None:
    """The judge's and the secretary's seats come with the hearing and are taken by signing
    in; an invited person in one would appear as the court in the transcript."""
    if role in STAFF_ROLES:
        raise bad_request(f"role: {role} is a staff seat, taken by the hearing's {role} "
                          "signing in; invite participants as parties, witnesses or experts",
                          field="role")


def _invite(tx: Tx, h: Hearing, p: Participant, created_by: int,
            ttl_s: int | None) -> IssuedInvite:
    _not_a_staff_seat(p.role)
    if p.presence == "ejected":
        raise conflict("this participant was removed from the hearing")
    new = auth.create_invite(tx.s, h.id, p.id, p.role, created_by,
                             ttl_s if ttl_s is not None else tx.state.config.invite_ttl_s)
    tx.audit(h, "invite.create",
             {"invite_id": new.row.id, "participant_id": p.id, "role": p.role,
              "expires_at": audit.iso_utc(new.row.expires_at)}, actor=_actor(tx))
    link = invite_link(tx.state.config.base_url, new.token)
    notices.hearing_event(tx, h, "invited", participant=p, link=link)
    return IssuedInvite(new.row, new.token, link)


def _visible(tx: Tx) -> list[dict]:
    q = select(Hearing).order_by(Hearing.id)
    if tx.caller is not None:  # the operator sees every hearing
        q = q.where(hearings_visible_to(tx.caller))
    return [hearing_json(h) for h in tx.s.execute(q).scalars()]


async def list_hearings(state: AppState, caller: Caller | None) -> list[dict]:
    """Every hearing the caller may see (the operator: all), unpaged, for the command line."""
    return await state.transaction(caller, _visible)


def _like(column: Any, text: str) -> ColumnElement[bool]:
    """``text`` anywhere in ``column``, ignoring case. SQLite folds only ASCII letters, so the
    usual spellings of a Cyrillic word (as typed, lower, upper, capitalised) are tried too."""
    escaped = {v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
               for v in (text, text.lower(), text.upper(), text.capitalize())}
    return or_(*(column.ilike(f"%{v}%", escape="\\") for v in sorted(escaped)))


def hearing_conditions(f: HearingFilters) -> list[ColumnElement[bool]]:
    """The hearing list's filters as conditions on Hearing."""
    out: list[ColumnElement[bool]] = []
    for key, column in (("case_number", Hearing.case_number), ("case_id", Hearing.case_id),
                        ("state", Hearing.state), ("courtroom_id", Hearing.courtroom_id),
                        ("judge_id", Hearing.judge_id)):
        if key in f:
            out.append(column == f[key])  # type: ignore[literal-required]
    if f.get("q"):
        out.append(_like(Hearing.title, f["q"]) | _like(Hearing.case_number, f["q"]))
    start, end = parse_time(f.get("from"), "from"), parse_time(f.get("to"), "to")
    if start is not None:
        out.append(Hearing.scheduled_at >= start)
    if end is not None:
        out.append(Hearing.scheduled_at < end)
    return out


def _find(tx: Tx, f: HearingFilters, req: PageRequest) -> tuple[list[dict], str | None]:
    q = select(Hearing).where(hearings_visible_to(tx.me), *hearing_conditions(f))
    return page(tx.s, q, Hearing.id, req, hearing_json)


async def find_hearings(state: AppState, caller: Caller, f: HearingFilters,
                        req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the hearings the caller may see (their own as staff, their cases' as a
    party, the one they were invited to) that match every filter, and the next page's
    cursor."""
    return await state.transaction(caller, _find, f, req)


# -- the HTTP edge's workflows ------------------------------------------------------------------
def _create(tx: Tx, new: NewHearing) -> dict:
    c = tx.me
    require_staff_role(c, "admin", "judge")
    judge_id = new.get("judge_id") or (c.user_id if c.role == "judge" else None)
    if judge_id is None:
        raise bad_request("judge_id: the presiding judge is required", field="judge_id")
    if c.role == "judge" and judge_id != c.user_id:
        raise bad_request("judge_id: a judge schedules their own hearings", field="judge_id")
    judge = staff_user(tx.s, judge_id, "judge", "judge_id")
    secretary = (staff_user(tx.s, new["secretary_id"], "secretary", "secretary_id")
                 if new.get("secretary_id") else None)
    assert c.user_id is not None
    return hearing_json(_schedule(tx, new, judge, secretary, c.user_id))


async def create_hearing(state: AppState, caller: Caller, new: NewHearing) -> dict:
    """Schedule a hearing (the court administrator, or a judge for themselves)."""
    return await state.transaction(caller, _create, new)


def _detail(tx: Tx, hearing_id: int) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    show = _participant_view(tx.me)
    return {**hearing_json(h), "participants": [show(p) for p in h.participants]}


async def get_hearing(state: AppState, caller: Caller, hearing_id: int) -> dict:
    return await state.transaction(caller, _detail, hearing_id)


def _update(tx: Tx, hearing_id: int, changes: HearingChanges) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    still_changeable(h)
    moved = False
    if "scheduled_at" in changes or "duration_min" in changes:
        when = (parse_time(changes["scheduled_at"], "scheduled_at") if "scheduled_at" in changes
                else h.scheduled_at)
        duration = changes.get("duration_min", h.duration_min)
        before = h.scheduled_at and courtrooms.hearing_end(h)
        courtrooms.check_booking(tx.s, h.courtroom_id, when, duration, h.id)
        h.scheduled_at, h.duration_min = when, duration
        moved = before != (h.scheduled_at and courtrooms.hearing_end(h))
    if "secretary_id" in changes:
        h.secretary_id = staff_user(tx.s, changes["secretary_id"], "secretary",
                                    "secretary_id").id
    if "title" in changes:
        h.title = changes["title"]
    if "vocabulary" in changes:
        h.vocabulary = changes["vocabulary"]
    if "language" in changes:
        h.language = changes["language"]
    tx.audit(h, "hearing.update", {"fields": sorted(changes)})
    if moved:
        notices.hearing_event(tx, h, "rescheduled")
    return hearing_json(h)


async def update_hearing(state: AppState, caller: Caller, hearing_id: int,
                         changes: HearingChanges) -> dict:
    """Change a hearing's details while it is not closed (its staff or the administrator)."""
    return await state.transaction(caller, _update, hearing_id, changes)


def _transition(tx: Tx, hearing_id: int, to: HearingState) -> dict:
    if to == "cancelled":
        h = load_hearing(tx.s, hearing_id, tx.me)
        require_canceller(tx.me, h)
    else:
        h = load_presided(tx.s, hearing_id, tx.me)
    check_transition(h.state, to)
    if to == "open":
        courtrooms.check_room_free(tx.s, h)
    before, h.state = h.state, to
    now = datetime.now(timezone.utc)
    if h.opened_at is None and h.state == "open":
        h.opened_at = now  # hearing clock zero, fixed once
    if h.state == "closed":
        h.closed_at = now
    tx.audit(h, "hearing.transition", {"from": before, "to": h.state})
    if h.state == "cancelled":
        notices.hearing_event(tx, h, "cancelled")
    result = {**hearing_json(h), "clock_ms": tx.state.clock_ms(h)}
    tx.publish(h.id, {"type": "state", "state": h.state, "clock_ms": result["clock_ms"]})
    return result


async def transition(state: AppState, caller: Caller, hearing_id: int,
                     to: HearingState) -> dict:
    """Open, recess, resume or close (the presiding judge; a courtroom holds one hearing in
    session at a time), or cancel a hearing that has not opened (the presiding judge or the
    administrator), which frees its courtroom booking. The live parts follow the state."""
    result = await state.transaction(caller, _transition, hearing_id, to)
    await state.live.transition(hearing_id, result["state"])
    return result


def _participants(tx: Tx, hearing_id: int, req: PageRequest) -> tuple[list[dict], str | None]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    return page(tx.s, select(Participant).where(Participant.hearing_id == h.id),
                Participant.id, req, _participant_view(tx.me))


async def list_participants(state: AppState, caller: Caller, hearing_id: int,
                            req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the hearing's participants and the next page's cursor."""
    return await state.transaction(caller, _participants, hearing_id, req)


def _add(tx: Tx, hearing_id: int, new: NewParticipant) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    still_changeable(h)
    return participant_json(_enrol(tx, h, new))


async def create_participant(state: AppState, caller: Caller, hearing_id: int,
                             new: NewParticipant) -> dict:
    """Add a participant to the hearing's list (who then gets an invite). A hearing already
    running here learns the name at once, so its health notices and gaps name them."""
    added = await state.transaction(caller, _add, hearing_id, new)
    if state.live.get(hearing_id) is not None:
        await state.live.speakers_changed(hearing_id)
    return added


def _set_interpretation(tx: Tx, hearing_id: int, participant_id: int, into: str | None,
                        from_: str | None) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    still_changeable(h)
    p = load_participant(tx.s, h, participant_id)
    _interprets(tx.s, p, into, from_)
    tx.audit(h, "participant.interpretation",
             {"participant_id": p.id, "interprets_into": into, "interprets_from": from_},
             actor=_actor(tx))
    tx.publish(h.id, {"type": "participant", "action": "interpretation",
                      "participant": public_participant_json(p)})
    return participant_json(p)


async def set_interpretation(state: AppState, caller: Caller, hearing_id: int,
                             participant_id: int, into: str | None,
                             from_: str | None = None) -> dict:
    """The judge or secretary says which language an interpreter interprets into (None: not
    any more) and from. A hearing running now transcribes their next words in it and offers
    the listeners its channel at once."""
    result = await state.transaction(caller, _set_interpretation, hearing_id, participant_id,
                                     into, from_)
    await state.live.speakers_changed(hearing_id)  # on the owner, wherever it runs
    return result


def _issue(tx: Tx, hearing_id: int, participant_id: int,
           ttl_s: int | None) -> tuple[IssuedInvite, list[str]]:
    h = load_managed(tx.s, hearing_id, tx.me)
    still_changeable(h)
    p = load_participant(tx.s, h, participant_id)
    assert tx.me.user_id is not None
    issued = _invite(tx, h, p, tx.me.user_id, ttl_s)
    # a re-issue replaces the earlier links: a lost or forwarded one stops admitting anyone
    now = auth.now_utc()
    replaced = []
    for old in tx.s.execute(select(Invite).where(
            Invite.participant_id == p.id, Invite.id != issued.row.id,
            Invite.revoked_at.is_(None))).scalars():
        if auth.aware(old.expires_at) > now:
            old.revoked_at = now
            tx.audit(h, "invite.revoke", {"invite_id": old.id, "replaced_by": issued.row.id})
            replaced.append(old.token_hash)
    return issued, replaced


async def issue_invite(state: AppState, caller: Caller, hearing_id: int, participant_id: int,
                       ttl_s: int | None) -> dict:
    """A new invite for one participant: its link and QR code are shown this once. Issued
    again, it revokes the participant's earlier invites and ends their connections (the
    phone then joins with the new link)."""
    issued, replaced = await state.transaction(caller, _issue, hearing_id, participant_id,
                                               ttl_s)
    for credential in replaced:
        await live_events.end_connections(state, Selector(credential=credential), "revoked",
                                          live_events.CLOSE_UNAUTHORIZED, by=caller.actor)
    # drawing the QR code takes milliseconds of CPU: not on the event loop
    qr = await asyncio.get_running_loop().run_in_executor(None, qr_payload, issued.link)
    return {**invite_json(issued.row), "token": issued.token, "link": issued.link, **qr}


def _invites(tx: Tx, hearing_id: int, req: PageRequest) -> tuple[list[dict], str | None]:
    h = load_managed(tx.s, hearing_id, tx.me)
    return page(tx.s, select(Invite).where(Invite.hearing_id == h.id), Invite.id, req,
                invite_json)


async def list_invites(state: AppState, caller: Caller, hearing_id: int,
                       req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the hearing's invites, without their tokens (only hashes are stored)."""
    return await state.transaction(caller, _invites, hearing_id, req)


def _revoke(tx: Tx, hearing_id: int, invite_id: int) -> tuple[dict, str, bool]:
    h = load_managed(tx.s, hearing_id, tx.me)
    inv = tx.s.get(Invite, invite_id)
    if inv is None or inv.hearing_id != h.id:
        raise not_found("no such invite")
    if inv.revoked_at is None:
        inv.revoked_at = datetime.now(timezone.utc)
        tx.audit(h, "invite.revoke", {"invite_id": inv.id})
    now = auth.now_utc()
    still_invited = any(
        other.revoked_at is None and auth.aware(other.expires_at) > now
        for other in tx.s.execute(select(Invite).where(
            Invite.participant_id == inv.participant_id, Invite.id != inv.id)).scalars())
    return invite_json(inv), inv.token_hash, still_invited


async def revoke_invite(state: AppState, caller: Caller, hearing_id: int,
                        invite_id: int) -> dict:
    """Revoke an invite: the connections signed in with it close at once (a "revoked"
    notice, then close code 4401), and the participant's media too unless another valid
    invite still admits them."""
    result, credential, still_invited = await state.transaction(caller, _revoke, hearing_id,
                                                                invite_id)
    await live_events.end_connections(state, Selector(credential=credential), "revoked",
                                      live_events.CLOSE_UNAUTHORIZED, by=caller.actor)
    if not still_invited:
        await state.live.remove(hearing_id, f"p{result['participant_id']}", by=caller.actor)
    return result


def _audit_log(tx: Tx, hearing_id: int, req: PageRequest) -> dict:
    h = load_managed(tx.s, hearing_id, tx.me)
    # rows are appended in chain order, so id order is seq order
    events, next_cursor = page(tx.s, select(AuditEvent).where(AuditEvent.hearing_id == h.id),
                               AuditEvent.id, req, audit_json)
    _, problems = audit.verify(tx.s, h.id)
    return {"events": events, "next_cursor": next_cursor, "verified": not problems,
            "problems": [str(p) for p in problems]}


async def audit_log(state: AppState, caller: Caller, hearing_id: int,
                    req: PageRequest) -> dict:
    """One page of the hearing's audit log, with the verdict on its whole hash chain (the
    record's staff)."""
    return await state.transaction(caller, _audit_log, hearing_id, req)


# -- the operator's workflows (the command line) ------------------------------------------------
def _user_named(s: Session, username: str, role: StaffRole) -> User:
    u = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if u is None or u.role != role:
        raise bad_request(f"no {role} with user name {username!r}")
    return u


def _schedule_by_operator(tx: Tx, new: NewHearing, judge: str, secretary: str | None) -> int:
    j = _user_named(tx.s, judge, "judge")
    sec = _user_named(tx.s, secretary, "secretary") if secretary else None
    return _schedule(tx, new, j, sec, created_by=j.id).id


async def schedule_by_operator(state: AppState, new: NewHearing, judge: str,
                               secretary: str | None) -> int:
    """Schedule a hearing for the judge (and secretary) with these user names; its id."""
    return await state.transaction(None, _schedule_by_operator, new, judge, secretary)


def _invite_by_operator(tx: Tx, hearing_id: int, new: NewParticipant,
                        ttl_s: int | None) -> IssuedInvite:
    h = tx.s.get(Hearing, hearing_id)
    if h is None:
        raise not_found("no such hearing")
    still_changeable(h)
    p = _enrol(tx, h, new)
    return _invite(tx, h, p, h.judge_id, ttl_s)


async def invite_by_operator(state: AppState, hearing_id: int, new: NewParticipant,
                             ttl_s: int | None) -> IssuedInvite:
    """Add a participant and issue their invite in one step (issued in the judge's name)."""
    issued = await state.transaction(None, _invite_by_operator, hearing_id, new, ttl_s)
    if state.live.get(hearing_id) is not None:
        await state.live.speakers_changed(hearing_id)
    return issued
