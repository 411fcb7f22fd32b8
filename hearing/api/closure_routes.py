"""Closed hearings and closed parts: the hearing's access level, opening and ending a closed
part at the hearing clock, marking a past range as closed, the list of them, and an evidence
item's level."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import AT, INT, OPT_INT, STR, record
from hearing.services import closures

LEVELS = ["public", "restricted", "sealed"]
CLOSED_LEVELS = ["restricted", "sealed"]
MS = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
REASON = {"type": "string", "maxLength": closures.MAX_REASON}

SPAN = record("ClosedSpan", {
    "id": INT, "hearing_id": INT, "start_ms": INT, "end_ms": OPT_INT,
    "level": {"enum": CLOSED_LEVELS}, "reason": STR, "created_by": INT, "created_at": AT})
CLOSURES = record("HearingClosures", {
    "hearing_id": INT, "access_level": {"enum": LEVELS},
    "spans": {"type": "array", "items": SPAN}, "open": {"anyOf": [SPAN, {"type": "null"}]}})
LEVEL_BODY = schema("AccessLevelChange", {
    "type": "object", "additionalProperties": False, "required": ["level"],
    "properties": {"level": {"enum": LEVELS}}})
OPEN_BODY = schema("ClosedPartStart", {
    "type": "object", "additionalProperties": False, "required": ["level"],
    "properties": {"level": {"enum": CLOSED_LEVELS}, "reason": REASON}})
MARK_BODY = schema("ClosedPartMark", {
    "type": "object", "additionalProperties": False,
    "required": ["start_ms", "end_ms", "level"],
    "properties": {"start_ms": MS, "end_ms": MS, "level": {"enum": CLOSED_LEVELS},
                   "reason": REASON}})
EVIDENCE_LEVEL = record("EvidenceAccess", {
    "evidence_id": INT, "hearing_id": INT, "access_level": {"enum": LEVELS}})


@endpoint("GET", "/api/hearings/{hearing_id}/closures",
          summary="The hearing's access level and its closed parts", response=CLOSURES)
async def list_closures(call: Call, hearing_id: int) -> dict:
    return await closures.closures(call.state, call.me, hearing_id)


@endpoint("PUT", "/api/hearings/{hearing_id}/access",
          summary="Set the hearing's access level (the presiding judge)", body=LEVEL_BODY,
          response=CLOSURES)
async def set_hearing_access(call: Call, hearing_id: int, body: dict) -> dict:
    return await closures.set_hearing_level(call.state, call.me, hearing_id, body["level"])


@endpoint("POST", "/api/hearings/{hearing_id}/closures",
          summary="Start a closed part now (the presiding judge)", body=OPEN_BODY,
          response=CLOSURES, status=201,
          responses={201: "the closed part runs",
                     409: "the hearing is not running, or a closed part already runs"})
async def open_closure(call: Call, hearing_id: int, body: dict) -> dict:
    return await closures.open_span(call.state, call.me, hearing_id, body)


@endpoint("POST", "/api/hearings/{hearing_id}/closures/end",
          summary="End the running closed part (the presiding judge)", response=CLOSURES,
          responses={409: "no closed part is running"})
async def end_closure(call: Call, hearing_id: int) -> dict:
    return await closures.end_span(call.state, call.me, hearing_id)


@endpoint("POST", "/api/hearings/{hearing_id}/closures/marks",
          summary="Mark a past time range as closed (the judge or the secretary)",
          body=MARK_BODY, response=CLOSURES, status=201,
          responses={201: "marked", 409: "the hearing has no clock yet"})
async def mark_closure(call: Call, hearing_id: int, body: dict) -> dict:
    return await closures.mark_span(call.state, call.me, hearing_id, body)


@endpoint("PUT", "/api/hearings/{hearing_id}/evidence/{evidence_id}/access",
          summary="Set an evidence item's access level (the presiding judge)",
          body=LEVEL_BODY, response=EVIDENCE_LEVEL)
async def set_evidence_access(call: Call, hearing_id: int, evidence_id: int,
                              body: dict) -> dict:
    return await closures.set_evidence_level(call.state, call.me, hearing_id, evidence_id,
                                             body["level"])
