"""The courtroom calendar: bookings and the week view."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import MAX_ID, endpoint
from hearing.api.schemas import BOOL, INT, OPT_INT, OPT_STR, STR, TIME, record
from hearing.models import HEARING_STATES
from hearing.services import calendar
from hearing.services.calendar import MAX_DAYS, Period, parse_day

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
BOOKING = record("Booking", {
    "id": INT, "case_id": INT, "case_number": STR, "title": STR,
    "state": {"enum": list(HEARING_STATES)}, "courtroom_id": OPT_INT, "courtroom": OPT_STR,
    "judge_id": INT, "judge": OPT_STR, "secretary_id": OPT_INT, "start": TIME, "end": TIME,
    "duration_min": INT,
    "mine": {**BOOL, "description": "the caller may open this hearing (its console, editor)"}})
CALENDAR_ROOM = record("CalendarCourtroom", {"id": INT, "name": STR, "court_id": INT,
                                             "court": OPT_STR})
CALENDAR = record("Calendar", {
    "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date",
                                                         "description": "first day after"},
    "days": INT, "timezone": {**STR, "description": "the court's: days begin at its midnight"},
    "courtrooms": {"type": "array", "items": CALENDAR_ROOM},
    "hearings": {"type": "array", "items": BOOKING}})


@endpoint("GET", "/api/calendar", summary="The courtroom calendar: the bookings of the caller's "
          "courtrooms and their own hearings over some days (staff; the administrator sees "
          "every courtroom)", response=CALENDAR, tag="calendar",
          query={"from": {"type": "string", "maxLength": 10, "description":
                          "first day, YYYY-MM-DD in the court's time zone (default: this "
                          "week's Monday)"},
                 "days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS,
                          "description": "how many days (default 7)"},
                 "courtroom_id": {**ID, "description": "only this courtroom"},
                 "judge_id": {**ID, "description": "only this judge's hearings"}})
async def get_calendar(call: Call, query: dict) -> dict:
    return await calendar.week(call.state, call.me, Period(
        start=parse_day(query.get("from"), "from"),
        **{k: query[k] for k in ("days", "courtroom_id", "judge_id") if k in query}))
