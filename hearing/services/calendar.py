"""The courtroom calendar: a period of days (a week by default) of the courtrooms' bookings, as
the judge and the secretary plan their work. Days are the court's (its time zone), so a
hearing at 09:00 in Almaty is on the day a clerk in Almaty would say."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hearing.access import bookings_visible_to, can_view, require_staff_role
from hearing.courtrooms import hearing_end, overlapping
from hearing.errors import bad_request
from hearing.models import Court, Courtroom, Hearing, User
from hearing.roles import Caller
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import ts

#: The longest period one view may ask for, in days.
MAX_DAYS = 31


@dataclass(frozen=True)
class Period:
    """Which days and rooms to show. ``start`` None: the Monday of this week (court's zone)."""
    start: date | None = None
    days: int = 7
    courtroom_id: int | None = None
    judge_id: int | None = None


def parse_day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{field}: not a date (YYYY-MM-DD)", field=field) from None


def _entry(h: Hearing, caller: Caller, rooms: dict[int, Courtroom],
           judges: dict[int, User]) -> dict:
    room = rooms.get(h.courtroom_id) if h.courtroom_id is not None else None
    judge = judges.get(h.judge_id)
    return {"id": h.id, "case_id": h.case_id, "case_number": h.case_number, "title": h.title,
            "state": h.state, "courtroom_id": h.courtroom_id,
            "courtroom": room.name if room else None, "judge_id": h.judge_id,
            "judge": judge.display_name if judge else None, "secretary_id": h.secretary_id,
            "start": ts(h.scheduled_at), "end": ts(hearing_end(h)),
            "duration_min": h.duration_min, "mine": can_view(caller, h)}


def _room_json(room: Courtroom, courts: dict[int, Court]) -> dict:
    court = courts.get(room.court_id)
    return {"id": room.id, "name": room.name, "court_id": room.court_id,
            "court": court.name if court else None}


def _week(tx: Tx, p: Period) -> dict:
    me = tx.me
    require_staff_role(me, "admin", "judge", "secretary")
    zone = ZoneInfo(tx.state.config.timezone)
    first = p.start or (datetime.now(zone).date()
                        - timedelta(days=datetime.now(zone).weekday()))
    try:
        last = first + timedelta(days=p.days)
        start = datetime.combine(first, time(), zone).astimezone(timezone.utc)
        end = datetime.combine(last, time(), zone).astimezone(timezone.utc)
    except OverflowError:
        raise bad_request("from: outside the years 0001-9999", field="from") from None
    where = [bookings_visible_to(me), Hearing.state != "cancelled"]
    if p.courtroom_id is not None:
        where.append(Hearing.courtroom_id == p.courtroom_id)
    if p.judge_id is not None:
        where.append(Hearing.judge_id == p.judge_id)
    found = overlapping(tx.s, start, end, *where)
    # the rows of the grid: the rooms booked in the period, and the caller's own rooms
    room_q = select(Courtroom).order_by(Courtroom.court_id, Courtroom.name, Courtroom.id)
    if p.courtroom_id is not None:
        room_q = room_q.where(Courtroom.id == p.courtroom_id)
    elif me.role != "admin":
        room_q = room_q.where(Courtroom.id.in_(
            {h.courtroom_id for h in found if h.courtroom_id is not None}
            | set(tx.s.execute(select(Hearing.courtroom_id).where(
                (Hearing.judge_id == me.user_id) | (Hearing.secretary_id == me.user_id),
                Hearing.courtroom_id.is_not(None)).distinct()).scalars())))
    rooms = {r.id: r for r in tx.s.execute(room_q).scalars()}
    for h in found:  # a booked room outside the filter's rows still names itself
        if h.courtroom_id is not None and h.courtroom_id not in rooms:
            rooms[h.courtroom_id] = tx.s.get(Courtroom, h.courtroom_id)
    courts = {c.id: c for c in tx.s.execute(select(Court).where(
        Court.id.in_({r.court_id for r in rooms.values()}))).scalars()}
    judges = {u.id: u for u in tx.s.execute(select(User).where(
        User.id.in_({h.judge_id for h in found}))).scalars()}
    return {"from": first.isoformat(), "to": last.isoformat(), "days": p.days,
            "timezone": tx.state.config.timezone,
            "courtrooms": [_room_json(r, courts) for r in rooms.values()],
            "hearings": [_entry(h, me, rooms, judges) for h in found]}


async def week(state: AppState, caller: Caller, period: Period) -> dict:
    """The bookings of the period that the caller may see (hearing.access.bookings_visible_to):
    each with its case, state, courtroom, judge, start and end, in time order. Cancelled
    hearings freed their rooms and are left out; closed ones stay, as what took place."""
    if not 1 <= period.days <= MAX_DAYS:
        raise bad_request(f"days: 1 to {MAX_DAYS}", field="days")
    return await state.transaction(caller, _week, period)
