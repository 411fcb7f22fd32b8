"""Hearings (the filtered, paged list), their lifecycle, participants and invites, and the
audit log."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import MAX_ID, endpoint, schema
from hearing.api.schemas import (AUDIT_EVENT, BOOL, HEARING, INVITE, OPT_INT, PARTICIPANT, STR,
                                 paged, record)
from hearing.courtrooms import MAX_DURATION_MIN
from hearing.lifecycle import TARGETS
from hearing.models import (HEARING_KINDS, HEARING_STATES, INTERPRETATION_LANGUAGES, LANGUAGES,
                            PARTICIPANT_ROLES)
from hearing.paging import NEXT_CURSOR, PAGE_QUERY, PageRequest
from hearing.services import hearings

TEXT = {"type": "string", "maxLength": 300}
#: A record id: larger ones cannot exist and would overflow the database's integer column.
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
HEARING_CREATE = schema("HearingCreate", {
    "type": "object", "additionalProperties": False,
    "required": ["case_number", "title", "kind", "language"],
    "properties": {
        "case_number": {"type": "string", "minLength": 1, "maxLength": 100},
        "title": {"type": "string", "minLength": 1, "maxLength": 500},
        "kind": {"enum": list(HEARING_KINDS)},
        "language": {"enum": list(LANGUAGES)},
        "scheduled_at": {"type": "string", "format": "date-time", "maxLength": 40},
        "judge_id": {**ID, "description": "the presiding judge: required when the caller is "
                     "the administrator (a judge schedules their own hearings)"},
        "secretary_id": ID,
        "court_id": ID,
        "courtroom_id": ID,
        "duration_min": {"type": "integer", "minimum": 1, "maximum": MAX_DURATION_MIN,
                         "description": "how long the courtroom is booked (default 60)"},
        "vocabulary": {"type": "array", "maxItems": 500,
                       "items": {"type": "string", "minLength": 1, "maxLength": 200}}}})
HEARING_UPDATE = schema("HearingUpdate", {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {k: HEARING_CREATE["properties"][k] for k in
                   ("title", "scheduled_at", "duration_min", "secretary_id", "vocabulary",
                    "language")}})
TRANSITION = schema("Transition", {
    "type": "object", "additionalProperties": False, "required": ["to"],
    "properties": {"to": {"enum": list(TARGETS)}}})
PARTICIPANT_CREATE = schema("ParticipantCreate", {
    "type": "object", "additionalProperties": False, "required": ["role", "display_name"],
    "properties": {"role": {"enum": list(PARTICIPANT_ROLES),
                            "description": "not judge or secretary: those seats come with the "
                            "hearing and are taken by signing in (400)"},
                   "display_name": {"type": "string", "minLength": 1, "maxLength": 300},
                   "contact": TEXT, "user_id": ID,
                   "interprets_into": {"enum": list(INTERPRETATION_LANGUAGES),
                                       "description": "an interpreter's: the language they "
                                       "speak, which their speech is transcribed in"},
                   "interprets_from": {"type": "string", "pattern": "^[a-z]{2,3}$",
                                       "description": "an interpreter's: the language they "
                                       "interpret from (a code: kk, ru, uz, en, ...)"}}})
INTERPRETATION = schema("Interpretation", {
    "type": "object", "additionalProperties": False, "required": ["into"],
    "properties": {"into": {"enum": [*INTERPRETATION_LANGUAGES, None],
                            "description": "null: no longer an interpreting channel"},
                   "from": {"type": ["string", "null"], "pattern": "^[a-z]{2,3}$"}}})
INVITE_CREATE = schema("InviteCreate", {
    "type": "object", "additionalProperties": False,
    "properties": {"ttl_s": {"type": "integer", "minimum": 60, "maximum": 90 * 24 * 3600}}})

HEARING_DETAIL = record("HearingDetail", {
    **HEARING["properties"], "participants": {"type": "array", "items": PARTICIPANT}})
HEARING_MOVED = record("HearingTransition", {**HEARING["properties"], "clock_ms": OPT_INT})
ISSUED_INVITE = record("IssuedInvite", {
    **INVITE["properties"], "token": STR, "link": STR,
    "qr_png": {"type": "string", "pattern": "^data:image/png;base64,"},
    "qr_svg": {"type": "string", "pattern": "^<svg"}})
AUDIT_LOG = record("AuditLog", {"events": {"type": "array", "items": AUDIT_EVENT},
                                "next_cursor": NEXT_CURSOR, "verified": BOOL,
                                "problems": {"type": "array", "items": STR}})
WHEN = {"type": "string", "format": "date-time", "maxLength": 40}
HEARING_FILTERS = {
    "case_number": {"type": "string", "minLength": 1, "maxLength": 100,
                    "description": "exactly this case number"},
    "case_id": {**ID, "description": "hearings of this case"},
    "q": {"type": "string", "minLength": 1, "maxLength": 200,
          "description": "text anywhere in the title or the case number (any case)"},
    "state": {"type": "string", "enum": list(HEARING_STATES)},
    "courtroom_id": {**ID, "description": "held in this courtroom"},
    "judge_id": {**ID, "description": "presided over by this judge"},
    "from": {**WHEN, "description": "scheduled at or after (ISO 8601 with a time zone)"},
    "to": {**WHEN, "description": "scheduled before (ISO 8601 with a time zone)"},
}


@endpoint("GET", "/api/hearings", summary="Hearings visible to the caller, filtered and paged "
          "(in id order; follow next_cursor for the next page)", auth="any",
          response=paged(HEARING, "hearings"), query={**HEARING_FILTERS, **PAGE_QUERY})
async def list_hearings(call: Call, query: dict) -> dict:
    found, next_cursor = await hearings.find_hearings(
        call.state, call.me, {k: v for k, v in query.items() if k in HEARING_FILTERS},
        PageRequest.from_query(query))
    return {"hearings": found, "next_cursor": next_cursor}


@endpoint("POST", "/api/hearings", summary="Schedule a hearing (court administrator, who "
          "names the judge in judge_id, or a judge, for themselves)",
          body=HEARING_CREATE, response=HEARING, status=201,
          responses={201: "created", 409: "the courtroom is booked then (the error names the "
                     "booking's hearing)"})
async def create_hearing(call: Call, body: dict) -> dict:
    return await hearings.create_hearing(call.state, call.me, body)


@endpoint("GET", "/api/hearings/{hearing_id}", summary="One hearing with its participants",
          auth="any", response=HEARING_DETAIL, responses={404: "no such hearing"})
async def get_hearing(call: Call, hearing_id: int) -> dict:
    return await hearings.get_hearing(call.state, call.me, hearing_id)


@endpoint("PATCH", "/api/hearings/{hearing_id}", summary="Change a hearing's details",
          body=HEARING_UPDATE, response=HEARING,
          responses={404: "no such hearing", 409: "hearing is closed or cancelled, or the "
                     "courtroom is booked then (the error names the booking's hearing)"})
async def update_hearing(call: Call, hearing_id: int, body: dict) -> dict:
    return await hearings.update_hearing(call.state, call.me, hearing_id, body)


@endpoint("POST", "/api/hearings/{hearing_id}/transitions",
          summary="Open, recess, resume or close (presiding judge); cancel a hearing that has "
          "not opened (presiding judge or court administrator), which frees its courtroom",
          body=TRANSITION, response=HEARING_MOVED,
          responses={409: "illegal transition, or another hearing is in session in the "
                          "courtroom"})
async def transition(call: Call, hearing_id: int, body: dict) -> dict:
    return await hearings.transition(call.state, call.me, hearing_id, body["to"])


@endpoint("GET", "/api/hearings/{hearing_id}/participants", summary="Participants of a hearing "
          "(paged)", auth="any", response=paged(PARTICIPANT, "participants"), query=PAGE_QUERY)
async def list_participants(call: Call, hearing_id: int, query: dict) -> dict:
    found, next_cursor = await hearings.list_participants(call.state, call.me, hearing_id,
                                                          PageRequest.from_query(query))
    return {"participants": found, "next_cursor": next_cursor}


@endpoint("POST", "/api/hearings/{hearing_id}/participants",
          summary="Add a participant (who then gets an invite)", body=PARTICIPANT_CREATE,
          response=PARTICIPANT, status=201, responses={201: "created", 409: "hearing is closed"})
async def create_participant(call: Call, hearing_id: int, body: dict) -> dict:
    return await hearings.create_participant(call.state, call.me, hearing_id, body)


@endpoint("PUT", "/api/hearings/{hearing_id}/participants/{participant_id}/interpretation",
          summary="Set the language an interpreter interprets into (and from): their speech "
          "is transcribed in it, marked as interpretation, and is the listeners' "
          "interpretation channel of that language", body=INTERPRETATION, response=PARTICIPANT,
          responses={400: "not an interpreter", 409: "hearing is closed"})
async def set_interpretation(call: Call, hearing_id: int, participant_id: int,
                             body: dict) -> dict:
    return await hearings.set_interpretation(call.state, call.me, hearing_id, participant_id,
                                             body["into"], body.get("from"))


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/invites",
          summary="Issue an invite link and QR code for one participant (shown once; "
          "issuing again re-issues: the participant's earlier invites are revoked and their "
          "connections end)",
          body=INVITE_CREATE, body_optional=True, response=ISSUED_INVITE, status=201,
          responses={201: "created", 409: "hearing is closed or participant removed"})
async def create_invite(call: Call, hearing_id: int, participant_id: int, body: dict) -> dict:
    return await hearings.issue_invite(call.state, call.me, hearing_id, participant_id,
                                       body.get("ttl_s"))


@endpoint("GET", "/api/hearings/{hearing_id}/invites", summary="Invites of a hearing "
          "(without tokens; paged)", response=paged(INVITE, "invites"), query=PAGE_QUERY)
async def list_invites(call: Call, hearing_id: int, query: dict) -> dict:
    found, next_cursor = await hearings.list_invites(call.state, call.me, hearing_id,
                                                     PageRequest.from_query(query))
    return {"invites": found, "next_cursor": next_cursor}


@endpoint("DELETE", "/api/hearings/{hearing_id}/invites/{invite_id}",
          summary="Revoke an invite", response=INVITE, responses={404: "no such invite"})
async def revoke_invite(call: Call, hearing_id: int, invite_id: int) -> dict:
    return await hearings.revoke_invite(call.state, call.me, hearing_id, invite_id)


@endpoint("GET", "/api/hearings/{hearing_id}/audit", summary="The hearing's audit log, paged, "
          "with the verdict on the whole hash chain (staff of the hearing)", response=AUDIT_LOG,
          query=PAGE_QUERY)
async def get_audit(call: Call, hearing_id: int, query: dict) -> dict:
    return await hearings.audit_log(call.state, call.me, hearing_id,
                                    PageRequest.from_query(query))

