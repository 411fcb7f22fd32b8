"""JSON Schemas of the records the API answers with (published in OpenAPI; the test suite
checks every answer against them). Request body schemas live beside their endpoints."""

from __future__ import annotations

from typing import get_args

from hearing.api.registry import schema
from hearing.models import (ACCOUNT_ROLES, CASE_STATUSES, HEARING_KINDS, HEARING_STATES,
                            INTERPRETATION_LANGUAGES, LANGUAGES, NOTICE_CHANNELS, NOTICE_KINDS, NOTICE_STATUSES,
                            PARTICIPANT_ROLES, Presence)

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
AT = {"type": "string", "format": "date-time"}
TIME = {"type": ["string", "null"], "format": "date-time"}
OPT_INT = {"type": ["integer", "null"]}
OPT_STR = {"type": ["string", "null"]}


def record(name: str, properties: dict, *, optional: tuple[str, ...] = ()) -> dict:
    """A named object schema whose listed properties are all present (unless optional)."""
    return schema(name, {"type": "object", "properties": properties,
                         "required": [k for k in properties if k not in optional]})


def paged(item: dict, key: str) -> dict:
    """A page of a list (hearing.paging): {key: [item, ...], "next_cursor": ...}."""
    return {"type": "object", "required": [key, "next_cursor"],
            "properties": {key: {"type": "array", "items": item},
                           "next_cursor": {"type": ["string", "null"]}}}


HEARING = record("Hearing", {
    "id": INT, "case_id": INT, "case_number": STR, "title": STR,
    "kind": {"enum": list(HEARING_KINDS)},
    "language": {"enum": list(LANGUAGES)}, "scheduled_at": TIME, "duration_min": INT,
    "state": {"enum": list(HEARING_STATES)},
    "judge_id": OPT_INT, "secretary_id": OPT_INT, "court_id": OPT_INT, "courtroom_id": OPT_INT,
    "vocabulary": {"type": "array", "items": STR}, "opened_at": TIME, "closed_at": TIME,
    "created_at": AT,
    "access_level": {"enum": ["public", "restricted", "sealed"],
                     "description": "who may join and read the record (closed parts: "
                     "/api/hearings/{id}/closures)"}})

PARTICIPANT = record("Participant", {
    "id": INT, "hearing_id": INT, "role": {"enum": list(PARTICIPANT_ROLES)},
    "display_name": STR, "contact": STR, "user_id": OPT_INT,
    "presence": {"enum": [*get_args(Presence), None]}, "muted": BOOL, "hand_raised": BOOL,
    "interprets_into": {"enum": [*INTERPRETATION_LANGUAGES, None],
                        "description": "an interpreter's language: their speech is "
                        "transcribed in it and marked as interpretation"},
    "interprets_from": OPT_STR},
    optional=("contact",))  # contact details are shown to staff only

USER = record("User", {
    "id": INT, "username": STR, "display_name": STR, "role": {"enum": list(ACCOUNT_ROLES)},
    "contact": STR, "active": BOOL})

INVITE = record("Invite", {
    "id": INT, "hearing_id": INT, "participant_id": INT,
    "role": {"enum": list(PARTICIPANT_ROLES)}, "created_at": AT, "expires_at": AT,
    "revoked_at": TIME})

AUDIT_EVENT = record("AuditEvent", {
    "seq": INT, "at": AT, "clock_ms": OPT_INT, "actor": STR, "action": STR,
    "data": {"type": "object"}, "prev_hash": STR, "hash": STR})

CASE = record("Case", {
    "id": INT, "court_id": OPT_INT, "number": STR, "category": {"enum": list(HEARING_KINDS)},
    "title": STR, "judge_id": OPT_INT, "status": {"enum": list(CASE_STATUSES)},
    "created_at": AT, "created_by": OPT_INT})

CASE_PARTY = record("CaseParty", {
    "id": INT, "case_id": INT, "role": {"enum": list(PARTICIPANT_ROLES)}, "display_name": STR,
    "contact": STR, "user_id": OPT_INT, "acts_for": OPT_INT, "active": BOOL, "added_at": AT},
    optional=("contact",))  # contact details are shown to staff only

NOTICE = record("Notice", {
    "id": INT, "case_id": INT, "hearing_id": OPT_INT, "kind": {"enum": list(NOTICE_KINDS)},
    "channel": {"enum": list(NOTICE_CHANNELS)}, "address": STR, "subject": STR,
    "status": {"enum": list(NOTICE_STATUSES)}, "created_at": AT, "updated_at": AT,
    "participant_id": OPT_INT, "case_party_id": OPT_INT, "user_id": OPT_INT,
    "ics_sequence": INT, "attempts": INT, "next_attempt_at": TIME, "last_error": STR})
