"""JSON Schemas of the records the API answers with (published in OpenAPI; the test suite
checks every answer against them). Request body schemas live beside their endpoints."""

from __future__ import annotations

from typing import get_args

from hearing.api.registry import schema
from hearing.models import (HEARING_KINDS, HEARING_STATES, LANGUAGES, PARTICIPANT_ROLES,
                            STAFF_ROLES, Presence)

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


HEARING = record("Hearing", {
    "id": INT, "case_id": INT, "case_number": STR, "title": STR,
    "kind": {"enum": list(HEARING_KINDS)},
    "language": {"enum": list(LANGUAGES)}, "scheduled_at": TIME, "duration_min": INT,
    "state": {"enum": list(HEARING_STATES)},
    "judge_id": OPT_INT, "secretary_id": OPT_INT, "court_id": OPT_INT, "courtroom_id": OPT_INT,
    "vocabulary": {"type": "array", "items": STR}, "opened_at": TIME, "closed_at": TIME,
    "created_at": AT})

PARTICIPANT = record("Participant", {
    "id": INT, "hearing_id": INT, "role": {"enum": list(PARTICIPANT_ROLES)},
    "display_name": STR, "contact": STR, "user_id": OPT_INT,
    "presence": {"enum": [*get_args(Presence), None]}, "muted": BOOL, "hand_raised": BOOL},
    optional=("contact",))  # contact details are shown to staff only

USER = record("User", {
    "id": INT, "username": STR, "display_name": STR, "role": {"enum": list(STAFF_ROLES)},
    "active": BOOL})

INVITE = record("Invite", {
    "id": INT, "hearing_id": INT, "participant_id": INT,
    "role": {"enum": list(PARTICIPANT_ROLES)}, "created_at": AT, "expires_at": AT,
    "revoked_at": TIME})

AUDIT_EVENT = record("AuditEvent", {
    "seq": INT, "at": AT, "clock_ms": OPT_INT, "actor": STR, "action": STR,
    "data": {"type": "object"}, "prev_hash": STR, "hash": STR})
