"""Hearings, their lifecycle, participants and invites, and the audit log."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing import audit, auth
from hearing.errors import bad_request, conflict, not_found
from hearing.api.registry import endpoint, json_body, schema
from hearing.views import (audit_json, hearing_json, invite_json, participant_json,
                                   public_participant_json)
from hearing.invites import invite_link, qr_payload
from hearing.lifecycle import IllegalTransition, check_transition
from hearing.models import (HEARING_KINDS, LANGUAGES, PARTICIPANT_ROLES, AudioSource,
                            AuditEvent, Hearing, Invite, Participant, User)
from hearing.api.context import STATE
from hearing.api.context import CALLER
from hearing.access import require_manage, require_presiding, require_staff_role, require_view
from hearing.roles import Caller

TEXT = {"type": "string", "maxLength": 300}
HEARING_CREATE = schema("HearingCreate", {
    "type": "object", "additionalProperties": False,
    "required": ["case_number", "title", "kind", "language"],
    "properties": {
        "case_number": {"type": "string", "minLength": 1, "maxLength": 100},
        "title": {"type": "string", "minLength": 1, "maxLength": 500},
        "kind": {"enum": list(HEARING_KINDS)},
        "language": {"enum": list(LANGUAGES)},
        "scheduled_at": {"type": "string", "format": "date-time", "maxLength": 40},
        "judge_id": {"type": "integer", "minimum": 1},
        "secretary_id": {"type": "integer", "minimum": 1},
        "court_id": {"type": "integer", "minimum": 1},
        "courtroom_id": {"type": "integer", "minimum": 1},
        "vocabulary": {"type": "array", "maxItems": 500,
                       "items": {"type": "string", "minLength": 1, "maxLength": 200}}}})
HEARING_UPDATE = schema("HearingUpdate", {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {k: HEARING_CREATE["properties"][k] for k in
                   ("title", "scheduled_at", "secretary_id", "vocabulary", "language")}})
TRANSITION = schema("Transition", {
    "type": "object", "additionalProperties": False, "required": ["to"],
    "properties": {"to": {"enum": ["open", "recess", "closed"]}}})
PARTICIPANT_CREATE = schema("ParticipantCreate", {
    "type": "object", "additionalProperties": False, "required": ["role", "display_name"],
    "properties": {"role": {"enum": list(PARTICIPANT_ROLES)},
                   "display_name": {"type": "string", "minLength": 1, "maxLength": 300},
                   "contact": TEXT, "user_id": {"type": "integer", "minimum": 1}}})
INVITE_CREATE = schema("InviteCreate", {
    "type": "object", "additionalProperties": False,
    "properties": {"ttl_s": {"type": "integer", "minimum": 60, "maximum": 90 * 24 * 3600}}})


def parse_time(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{field}: not an ISO 8601 date-time", field=field) from None
    if dt.tzinfo is None:
        raise bad_request(f"{field}: give a time zone (e.g. +05:00 or Z)", field=field)
    return dt.astimezone(timezone.utc)


def path_int(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise not_found(f"no such {name.removesuffix('_id')}") from None
    if not 0 < value < 2**31:
        raise not_found(f"no such {name.removesuffix('_id')}")
    return value


def load_hearing(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    h = s.get(Hearing, hearing_id)
    if h is None:
        raise not_found("no such hearing")
    require_view(caller, h)
    return h


def load_managed(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    """A hearing whose record the caller may see whole: its staff and the administrator."""
    h = load_hearing(s, hearing_id, caller)
    require_manage(caller, h)
    return h


def load_changeable(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    """A hearing the caller manages and that is not closed (its record no longer grows)."""
    h = load_managed(s, hearing_id, caller)
    if h.state == "closed":
        raise conflict("the hearing is closed")
    return h


def load_participant(s: Session, h: Hearing, pid: int) -> Participant:
    p = s.get(Participant, pid)
    if p is None or p.hearing_id != h.id:
        raise not_found("no such participant in this hearing")
    return p


def staff_user(s: Session, user_id: int, role: str, field: str) -> User:
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


@endpoint("GET", "/api/hearings", summary="Hearings visible to the caller", auth="any")
async def list_hearings(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]

    def work(s):
        q = select(Hearing).order_by(Hearing.id)
        if c.kind == "participant":
            q = q.where(Hearing.id == c.hearing_id)
        elif c.role != "admin":
            q = q.where((Hearing.judge_id == c.user_id) | (Hearing.secretary_id == c.user_id))
        return [hearing_json(h) for h in s.execute(q).scalars()]

    return web.json_response({"hearings": await request.app[STATE].db.run(work)})


@endpoint("POST", "/api/hearings", summary="Schedule a hearing (court administrator or judge)",
          body=HEARING_CREATE, responses={201: "created"})
async def create_hearing(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    require_staff_role(c, "admin", "judge")
    data = await json_body(request)
    state = request.app[STATE]
    scheduled = parse_time(data.get("scheduled_at"), "scheduled_at")

    def work(s):
        judge_id = data.get("judge_id") or (c.user_id if c.role == "judge" else None)
        if judge_id is None:
            raise bad_request("judge_id: the presiding judge is required", field="judge_id")
        if c.role == "judge" and judge_id != c.user_id:
            raise bad_request("judge_id: a judge schedules their own hearings", field="judge_id")
        judge = staff_user(s, judge_id, "judge", "judge_id")
        secretary = (staff_user(s, data["secretary_id"], "secretary", "secretary_id")
                     if data.get("secretary_id") else None)
        from hearing.courtrooms import check_court_and_room, ensure_seat_sources
        check_court_and_room(s, data.get("court_id"), data.get("courtroom_id"))  # 400 if unknown
        h = Hearing(case_number=data["case_number"], title=data["title"], kind=data["kind"],
                    language=data["language"], scheduled_at=scheduled, judge_id=judge.id,
                    secretary_id=secretary.id if secretary else None,
                    court_id=data.get("court_id"), courtroom_id=data.get("courtroom_id"),
                    vocabulary=data.get("vocabulary", []), state="scheduled",
                    created_at=datetime.now(timezone.utc), created_by=c.user_id)
        s.add(h)
        s.flush()
        ensure_seat_sources(s, h)  # a courtroom hearing: one audio source per seat
        add_participant(s, h, "judge", judge.display_name, user_id=judge.id)
        if secretary:
            add_participant(s, h, "secretary", secretary.display_name, user_id=secretary.id)
        state.audit(s, h, c.actor, "hearing.create",
                    {"case_number": h.case_number, "title": h.title, "kind": h.kind,
                     "language": h.language, "judge_id": h.judge_id,
                     "secretary_id": h.secretary_id})
        return hearing_json(h)

    return web.json_response(await state.db.run(work), status=201)


@endpoint("GET", "/api/hearings/{hearing_id}", summary="One hearing with its participants",
          auth="any", responses={404: "no such hearing"})
async def get_hearing(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        h = load_hearing(s, hid, c)
        show = participant_json if c.kind == "staff" else public_participant_json
        return {**hearing_json(h), "participants": [show(p) for p in h.participants]}

    return web.json_response(await request.app[STATE].db.run(work))


@endpoint("PATCH", "/api/hearings/{hearing_id}", summary="Change a hearing's details",
          body=HEARING_UPDATE, responses={404: "no such hearing", 409: "hearing is closed"})
async def update_hearing(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    data = await json_body(request)
    state = request.app[STATE]

    def work(s):
        h = load_changeable(s, hid, c)
        if "scheduled_at" in data:
            h.scheduled_at = parse_time(data["scheduled_at"], "scheduled_at")
        if "secretary_id" in data:
            h.secretary_id = staff_user(s, data["secretary_id"], "secretary", "secretary_id").id
        for key in ("title", "vocabulary", "language"):
            if key in data:
                setattr(h, key, data[key])
        state.audit(s, h, c.actor, "hearing.update", {"fields": sorted(data)})
        return hearing_json(h)

    return web.json_response(await state.db.run(work))


@endpoint("POST", "/api/hearings/{hearing_id}/transitions",
          summary="Open, recess, resume or close (presiding judge)", body=TRANSITION,
          responses={409: "illegal transition"})
async def transition(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    data = await json_body(request)
    state = request.app[STATE]

    def work(s):
        h = load_hearing(s, hid, c)
        require_presiding(c, h)
        try:
            check_transition(h.state, data["to"])
        except IllegalTransition as exc:
            raise conflict(str(exc), state=h.state) from None
        before, h.state = h.state, data["to"]
        now = datetime.now(timezone.utc)
        if h.opened_at is None:
            h.opened_at = now  # hearing clock zero, fixed once
        if h.state == "closed":
            h.closed_at = now
        state.audit(s, h, c.actor, "hearing.transition", {"from": before, "to": h.state})
        return {**hearing_json(h), "clock_ms": state.clock_ms(h)}

    result = await state.db.run(work)
    state.hub.publish(hid, {"type": "state", "state": result["state"],
                            "clock_ms": result["clock_ms"]})
    await state.live.transition(hid, result["state"])
    return web.json_response(result)


@endpoint("GET", "/api/hearings/{hearing_id}/participants", summary="Participants of a hearing",
          auth="any")
async def list_participants(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        h = load_hearing(s, hid, c)
        show = participant_json if c.kind == "staff" else public_participant_json
        return [show(p) for p in h.participants]

    return web.json_response({"participants": await request.app[STATE].db.run(work)})


@endpoint("POST", "/api/hearings/{hearing_id}/participants",
          summary="Add a participant (who then gets an invite)", body=PARTICIPANT_CREATE,
          responses={201: "created", 409: "hearing is closed"})
async def create_participant(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    data = await json_body(request)
    state = request.app[STATE]

    def work(s):
        h = load_changeable(s, hid, c)
        p = add_participant(s, h, data["role"], data["display_name"], data.get("contact", ""),
                            data.get("user_id"))
        state.audit(s, h, c.actor, "participant.add",
                    {"participant_id": p.id, "role": p.role, "display_name": p.display_name})
        return participant_json(p)

    return web.json_response(await state.db.run(work), status=201)


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/invites",
          summary="Issue an invite link and QR code for one participant (shown once)",
          body=INVITE_CREATE, responses={201: "created", 409: "hearing is closed"})
async def create_invite(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid, pid = path_int(request, "hearing_id"), path_int(request, "participant_id")
    data = await json_body(request) if request.can_read_body else {}
    state = request.app[STATE]

    def work(s):
        h = load_changeable(s, hid, c)
        p = load_participant(s, h, pid)
        if p.presence == "ejected":
            raise conflict("this participant was removed from the hearing")
        new = auth.create_invite(s, h.id, p.id, p.role, c.user_id,
                                 (data or {}).get("ttl_s", state.config.invite_ttl_s))
        state.audit(s, h, c.actor, "invite.create",
                    {"invite_id": new.row.id, "participant_id": p.id, "role": p.role,
                     "expires_at": audit.iso_utc(new.row.expires_at)})
        return new

    new = await state.db.run(work)
    link = invite_link(state.config.base_url, new.token)
    # drawing the QR code takes milliseconds of CPU: not on the event loop
    qr = await asyncio.get_running_loop().run_in_executor(None, qr_payload, link)
    return web.json_response({**invite_json(new.row), "token": new.token, "link": link, **qr},
                             status=201)


@endpoint("GET", "/api/hearings/{hearing_id}/invites", summary="Invites of a hearing "
          "(without tokens)")
async def list_invites(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        h = load_managed(s, hid, c)
        rows = s.execute(select(Invite).where(Invite.hearing_id == h.id).order_by(Invite.id))
        return [invite_json(i) for i in rows.scalars()]

    return web.json_response({"invites": await request.app[STATE].db.run(work)})


@endpoint("DELETE", "/api/hearings/{hearing_id}/invites/{invite_id}",
          summary="Revoke an invite", responses={404: "no such invite"})
async def revoke_invite(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid, iid = path_int(request, "hearing_id"), path_int(request, "invite_id")
    state = request.app[STATE]

    def work(s):
        h = load_managed(s, hid, c)
        inv = s.get(Invite, iid)
        if inv is None or inv.hearing_id != h.id:
            raise not_found("no such invite")
        if inv.revoked_at is None:
            inv.revoked_at = datetime.now(timezone.utc)
            state.audit(s, h, c.actor, "invite.revoke", {"invite_id": inv.id})
        return invite_json(inv)

    return web.json_response(await state.db.run(work))


@endpoint("GET", "/api/hearings/{hearing_id}/audit", summary="The hearing's audit log "
          "(staff of the hearing)")
async def get_audit(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        h = load_managed(s, hid, c)
        rows = s.execute(select(AuditEvent).where(AuditEvent.hearing_id == h.id)
                         .order_by(AuditEvent.seq)).scalars()
        n, problems = audit.verify(s, h.id)
        return {"events": [audit_json(e) for e in rows], "verified": not problems,
                "problems": [str(p) for p in problems]}

    return web.json_response(await request.app[STATE].db.run(work))
