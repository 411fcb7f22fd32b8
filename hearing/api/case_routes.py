"""Cases: the case file, its parties and its history."""

from __future__ import annotations

from aiohttp import web

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import AT, CASE, CASE_PARTY, HEARING, INT, OPT_INT, STR, record
from hearing.models import CASE_STATUSES, HEARING_KINDS, PARTICIPANT_ROLES
from hearing.paging import NEXT_CURSOR, PAGE_QUERY, PageRequest
from hearing.services import cases

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
OPT_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": 2**31 - 1}
NAME = {"type": "string", "minLength": 1, "maxLength": 300}
CONTACT = {"type": "string", "maxLength": 300}
STATUS = {"enum": list(CASE_STATUSES)}
#: A case's parties are everyone but the court itself (its judge and secretary are staff).
ROLE = {"enum": [r for r in PARTICIPANT_ROLES if r not in ("judge", "secretary")]}

CASE_CREATE = schema("CaseCreate", {
    "type": "object", "additionalProperties": False,
    "required": ["number", "category", "title"],
    "properties": {"number": {"type": "string", "minLength": 1, "maxLength": 100},
                   "category": {"enum": list(HEARING_KINDS)},
                   "title": {"type": "string", "minLength": 1, "maxLength": 500},
                   "court_id": ID, "judge_id": ID}})
CASE_UPDATE = schema("CaseUpdate", {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 500},
                   "status": STATUS, "judge_id": ID}})
PARTY_CREATE = schema("CasePartyCreate", {
    "type": "object", "additionalProperties": False, "required": ["role", "display_name"],
    "properties": {"role": ROLE, "display_name": NAME, "contact": CONTACT, "user_id": OPT_ID,
                   "acts_for": OPT_ID}})
PARTY_UPDATE = schema("CasePartyUpdate", {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {"role": ROLE, "display_name": NAME, "contact": CONTACT, "user_id": OPT_ID,
                   "acts_for": OPT_ID, "active": {"type": "boolean"}}})

CASE_DETAIL = record("CaseDetail", {
    **CASE["properties"], "hearings": {"type": "array", "items": HEARING},
    "parties": {"type": "array", "items": CASE_PARTY}})
CASE_PAGE = record("CasePage", {"cases": {"type": "array", "items": CASE},
                                "next_cursor": NEXT_CURSOR})
PARTY_PAGE = record("CasePartyPage", {"parties": {"type": "array", "items": CASE_PARTY},
                                      "next_cursor": NEXT_CURSOR})
HISTORY_EVENT = record("CaseHistoryEvent", {
    "id": INT, "at": AT, "chain": {"enum": ["case", "hearing"]}, "hearing_id": OPT_INT,
    "seq": INT, "actor": STR, "action": STR, "summary": STR, "data": {"type": "object"},
    "hash": STR})
HISTORY = record("CaseHistory", {"case_id": INT,
                                 "events": {"type": "array", "items": HISTORY_EVENT},
                                 "next_cursor": NEXT_CURSOR})

CASE_QUERY = {
    "number": {"type": "string", "maxLength": 100, "description": "exactly this case number"},
    "q": {"type": "string", "minLength": 1, "maxLength": 200,
          "description": "in the title or the number, ignoring case"},
    "status": STATUS, "judge_id": ID, "court_id": ID, **PAGE_QUERY}
PARTY_QUERY = {"role": ROLE, "active": {"type": "boolean"}, **PAGE_QUERY}
HISTORY_QUERY = {"hearing_id": {**ID, "description": "only this hearing's events"},
                 **PAGE_QUERY}


def _filters(query: dict, names: tuple[str, ...]) -> dict:
    return {k: query[k] for k in names if k in query}


@endpoint("GET", "/api/cases", summary="Cases visible to the caller, filtered, paged",
          auth="account", response=CASE_PAGE, tag="cases", query=CASE_QUERY)
async def list_cases(call: Call, query: dict) -> dict:
    f = _filters(query, ("number", "q", "status", "judge_id", "court_id"))
    return await cases.list_cases(call.state, call.me, f,
                                  PageRequest.from_query(query))


@endpoint("POST", "/api/cases", summary="Open a case (court administrator or judge)",
          body=CASE_CREATE, response=CASE, status=201, tag="cases",
          responses={201: "created", 409: "the number is taken in that court"})
async def create_case(call: Call, body: dict) -> dict:
    return await cases.create_case(call.state, call.me, body)


@endpoint("GET", "/api/cases/{case_id}", summary="A case with its hearings and parties",
          auth="account", response=CASE_DETAIL, tag="cases")
async def get_case(call: Call, case_id: int) -> dict:
    return await cases.get_case(call.state, call.me, case_id)


@endpoint("PATCH", "/api/cases/{case_id}",
          summary="Change a case's title, status or judge (administrator or its judge)",
          body=CASE_UPDATE, response=CASE, tag="cases")
async def update_case(call: Call, case_id: int, body: dict) -> dict:
    return await cases.update_case(call.state, call.me, case_id, body)


@endpoint("GET", "/api/cases/{case_id}/parties", summary="The case's parties, paged",
          auth="account", response=PARTY_PAGE, tag="cases", query=PARTY_QUERY)
async def list_parties(call: Call, case_id: int, query: dict) -> dict:
    return await cases.list_parties(call.state, call.me, case_id,
                                    _filters(query, ("role", "active")),
                                    PageRequest.from_query(query))


@endpoint("POST", "/api/cases/{case_id}/parties",
          summary="Add a party (administrator, the case's judge, its hearings' staff)",
          body=PARTY_CREATE, response=CASE_PARTY, status=201, tag="cases",
          responses={201: "added"})
async def add_party(call: Call, case_id: int, body: dict) -> dict:
    return await cases.add_party(call.state, call.me, case_id, body)


@endpoint("PATCH", "/api/cases/{case_id}/parties/{party_id}", summary="Change a party",
          body=PARTY_UPDATE, response=CASE_PARTY, tag="cases")
async def update_party(call: Call, case_id: int, party_id: int, body: dict) -> dict:
    return await cases.update_party(call.state, call.me, case_id, party_id, body)


@endpoint("DELETE", "/api/cases/{case_id}/parties/{party_id}",
          summary="Deactivate a party (kept in the file and the history)", status=204,
          tag="cases", responses={204: "deactivated"})
async def remove_party(call: Call, case_id: int, party_id: int) -> web.Response:
    await cases.remove_party(call.state, call.me, case_id, party_id)
    return web.Response(status=204)


@endpoint("GET", "/api/cases/{case_id}/history",
          summary="The case's timeline from the audit rows of its hearings and its own chain",
          response=HISTORY, tag="cases", query=HISTORY_QUERY)
async def history(call: Call, case_id: int, query: dict) -> dict:
    return await cases.history(call.state, call.me, case_id,
                               _filters(query, ("hearing_id",)),
                               PageRequest.from_query(query))
