"""JSON Schemas of the records the API answers with (published in OpenAPI; the test suite
checks every answer against them). Request body schemas live beside their endpoints."""

from __future__ import annotations

from hearing.api.registry import schema

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": ["string", "null"], "format": "date-time"}
OPT_INT = {"type": ["integer", "null"]}
OPT_STR = {"type": ["string", "null"]}


def record(name: str, properties: dict, *, optional: tuple[str, ...] = ()) -> dict:
    """A named object schema whose listed properties are all present (unless optional)."""
    return schema(name, {"type": "object", "properties": properties,
                         "required": [k for k in properties if k not in optional]})


HEARING = record("Hearing", {
    "id": INT, "case_number": STR, "title": STR, "kind": STR, "language": STR,
    "scheduled_at": TIME, "state": {"enum": ["scheduled", "open", "recess", "closed"]},
    "judge_id": OPT_INT, "secretary_id": OPT_INT, "court_id": OPT_INT, "courtroom_id": OPT_INT,
    "vocabulary": {"type": "array", "items": STR}, "opened_at": TIME, "closed_at": TIME,
    "created_at": TIME})

PARTICIPANT = record("Participant", {
    "id": INT, "hearing_id": INT, "role": STR, "display_name": STR, "contact": STR,
    "user_id": OPT_INT, "presence": OPT_STR, "muted": BOOL, "hand_raised": BOOL},
    optional=("contact",))  # contact details are shown to staff only
