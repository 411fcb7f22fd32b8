"""The workplace of prosecutors, lawyers and representatives: their cases, hearings and notices,
and joining a hearing of their case."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import AT, BOOL, HEARING, INT, OPT_INT, OPT_STR, STR, paged, record
from hearing.models import (CASE_STATUSES, HEARING_KINDS, NOTICE_CHANNELS, NOTICE_KINDS,
                            NOTICE_STATUSES, PARTICIPANT_ROLES)
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import workplace


ACTING_AS = schema("ActingAs", {
    "type": "object", "required": ["id", "case_id", "role", "display_name"],
    "properties": {"id": INT, "case_id": INT, "role": {"enum": list(PARTICIPANT_ROLES)},
                   "display_name": STR, "acts_for": OPT_INT}})
MY_CASE = schema("MyCase", {
    "type": "object", "required": ["id", "number", "title", "category", "status", "acting_as"],
    "properties": {"id": INT, "number": STR, "title": STR,
                   "category": {"enum": list(HEARING_KINDS)},
                   "status": {"enum": list(CASE_STATUSES)}, "judge_id": OPT_INT,
                   "court_id": OPT_INT, "acting_as": {"type": "array", "items": ACTING_AS}}})
CALENDAR_ITEM = record("CalendarHearing", {
    **HEARING["properties"], "case_title": STR, "joinable": BOOL, "signed_version": OPT_INT})
CALENDAR = schema("Calendar", {
    "type": "object", "required": ["hearings"],
    "properties": {"hearings": {"type": "array", "items": CALENDAR_ITEM}}})
MY_NOTICE = record("MyNotice", {
    "id": INT, "case_id": INT, "hearing_id": OPT_INT, "kind": {"enum": list(NOTICE_KINDS)},
    "channel": {"enum": list(NOTICE_CHANNELS)}, "address": STR, "subject": STR,
    "status": {"enum": list(NOTICE_STATUSES)}, "created_at": AT, "updated_at": OPT_STR})
JOINED = record("JoinLink", {
    "hearing_id": INT, "participant_id": INT, "role": {"enum": list(PARTICIPANT_ROLES)},
    "token": STR, "link": STR, "expires_at": AT})
PERIOD_END = {"type": "string", "format": "date-time", "maxLength": 40}


ListPage = Callable[..., Awaitable[tuple[list[dict], str | None]]]


async def _my_page(key: str, list_page: ListPage, call: Call, query: dict) -> dict:
    """One page of the caller's own ``key`` list, as the service pages it, answered as
    {key: [...], "next_cursor": ...}."""
    items, next_cursor = await list_page(call.state, call.me, PageRequest.from_query(query))
    return {key: items, "next_cursor": next_cursor}


@endpoint("GET", "/api/me/cases", summary="The cases your account acts in", auth="party",
          tag="workplace", query=PAGE_QUERY, response=schema("MyCases", paged(MY_CASE, "cases")))
async def my_cases(call: Call, query: dict) -> dict:
    return await _my_page("cases", workplace.my_cases, call, query)


@endpoint("GET", "/api/me/calendar", summary="Your cases' hearings scheduled from `from` "
          "until `to` (default: from a day ago, 90 days; at most 366 days), in time order",
          auth="party", tag="workplace", response=CALENDAR,
          query={"from": {**PERIOD_END, "description": "ISO 8601 with a time zone"},
                 "to": {**PERIOD_END, "description": "ISO 8601 with a time zone (excluded)"}},
          responses={400: "not a date-time, or a wrong period"})
async def my_calendar(call: Call, query: dict) -> dict:
    return {"hearings": await workplace.my_calendar(call.state, call.me, query.get("from"),
                                                    query.get("to"))}


@endpoint("GET", "/api/me/notices", summary="Notices sent to you, newest first, with their "
          "delivery status", auth="party", tag="workplace", query=PAGE_QUERY,
          response=schema("MyNotices", paged(MY_NOTICE, "notices")))
async def my_notices(call: Call, query: dict) -> dict:
    return await _my_page("notices", workplace.my_notices, call, query)


@endpoint("POST", "/api/hearings/{hearing_id}/join", summary="Join a hearing of your case: "
          "a short-lived join link for your participant (made from your place in the case)",
          auth="party", tag="workplace", response=JOINED, status=201,
          responses={201: "issued", 403: "not your case",
                     409: "hearing closed or cancelled, or you were removed from it"})
async def join(call: Call, hearing_id: int) -> dict:
    return await workplace.join(call.state, call.me, hearing_id)
