"""Courts and courtrooms (court administrator), and who sits in each courtroom seat for one
hearing (the hearing's judge or secretary)."""

from __future__ import annotations

import zoneinfo

from aiohttp import web
from sqlalchemy import select

from hardware import SeatMapError
from hearing.errors import bad_request, conflict, forbidden, not_found
from hearing.api.hearing_routes import load_hearing, path_int
from hearing.api.registry import endpoint, json_body, schema
from hearing.courtrooms import (courtroom_seat_map, ensure_seat_sources,
                                seat_json, stored_seat_map)
from hearing.models import AudioSource, Court, Courtroom
from hearing.api.context import CALLER
from hearing.access import is_assigned, require_staff_role
from hearing.roles import Caller
from hearing.api.context import STATE

COURT_CREATE = schema("CourtCreate", {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 300},
                   "timezone": {"type": "string", "minLength": 1, "maxLength": 64}}})
COURTROOM_CREATE = schema("CourtroomCreate", {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                   "seat_map": {"type": "string", "maxLength": 64 * 1024,
                                "description": "TOML seat map (see hardware.seatmap)"},
                   "device": {"type": ["string", "null"], "maxLength": 500,
                              "description": "device URL replacing every seat's device"}}})
SEAT_ASSIGN = schema("SeatAssign", {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": ["string", "null"], "maxLength": 300,
                            "description": "who sits there; empty or null: the seat's label"}}})


def court_json(c: Court) -> dict:
    return {"id": c.id, "name": c.name, "timezone": c.timezone}


def courtroom_json(room: Courtroom) -> dict:
    stored = room.seat_map or {}
    seat_map = courtroom_seat_map(room)
    return {"id": room.id, "court_id": room.court_id, "name": room.name,
            "seat_map": stored.get("toml"), "device": stored.get("device"),
            "seats": [{"seat_id": s.seat_id, "source_id": s.source_id, "channel": s.channel,
                       "role": s.role, "label": s.label, "device": s.device}
                      for s in (seat_map.seats if seat_map else ())]}


def load_court(s, court_id: int) -> Court:  # noqa: ANN001
    court = s.get(Court, court_id)
    if court is None:
        raise not_found("no such court")
    return court


@endpoint("POST", "/api/courts", summary="Add a court (court administrator)", body=COURT_CREATE,
          responses={201: "created"}, tag="courts")
async def create_court(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    require_staff_role(c, "admin")
    data = await json_body(request)
    state = request.app[STATE]
    tz = data.get("timezone") or state.config.timezone
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"timezone: unknown time zone {tz!r} (e.g. Asia/Almaty)",
                          field="timezone") from None

    def work(s):
        court = Court(name=data["name"], timezone=tz)
        s.add(court)
        s.flush()
        state.audit(s, None, c.actor, "court.create", court_json(court))
        return court_json(court)

    return web.json_response(await state.db.run(work), status=201)


@endpoint("GET", "/api/courts", summary="Courts (staff: judges and secretaries pick a "
          "courtroom when they schedule)", tag="courts")
async def list_courts(request: web.Request) -> web.Response:
    require_staff_role(request[CALLER], "admin", "judge", "secretary")

    def work(s):
        return [court_json(c) for c in s.execute(select(Court).order_by(Court.id)).scalars()]

    return web.json_response({"courts": await request.app[STATE].db.run(work)})


@endpoint("POST", "/api/courts/{court_id}/courtrooms",
          summary="Add a courtroom with its seat map (court administrator)",
          body=COURTROOM_CREATE, responses={201: "created", 404: "no such court"}, tag="courts")
async def create_courtroom(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    require_staff_role(c, "admin")
    court_id = path_int(request, "court_id")
    data = await json_body(request)
    state = request.app[STATE]
    stored = None
    if data.get("seat_map"):
        try:
            stored = stored_seat_map(data["seat_map"], data.get("device") or None)
        except SeatMapError as exc:
            raise bad_request(f"seat_map: {exc}", field="seat_map") from None

    def work(s):
        load_court(s, court_id)
        room = Courtroom(court_id=court_id, name=data["name"], seat_map=stored)
        s.add(room)
        s.flush()
        out = courtroom_json(room)
        state.audit(s, None, c.actor, "courtroom.create",
                    {"courtroom_id": room.id, "court_id": court_id, "name": room.name,
                     "seats": out["seats"], "device": out["device"]})
        return out

    return web.json_response(await state.db.run(work), status=201)


@endpoint("GET", "/api/courts/{court_id}/courtrooms",
          summary="Courtrooms of a court with their seats (staff)",
          responses={404: "no such court"}, tag="courts")
async def list_courtrooms(request: web.Request) -> web.Response:
    require_staff_role(request[CALLER], "admin", "judge", "secretary")
    court_id = path_int(request, "court_id")

    def work(s):
        load_court(s, court_id)
        rows = s.execute(select(Courtroom).where(Courtroom.court_id == court_id)
                         .order_by(Courtroom.id)).scalars()
        return [courtroom_json(r) for r in rows]

    return web.json_response({"courtrooms": await request.app[STATE].db.run(work)})


def _hearing_seats(s, h):  # noqa: ANN001, ANN202
    seat_map = courtroom_seat_map(s.get(Courtroom, h.courtroom_id)) if h.courtroom_id else None
    if seat_map is None:
        return None, {}
    sources = {a.key: a for a in s.execute(select(AudioSource).where(
        AudioSource.hearing_id == h.id, AudioSource.kind == "seat")).scalars()}
    return seat_map, sources


@endpoint("GET", "/api/hearings/{hearing_id}/seats",
          summary="Courtroom seats of a hearing and who sits in them")
async def list_seats(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")

    def work(s):
        h = load_hearing(s, hid, c)
        seat_map, sources = _hearing_seats(s, h)
        return [seat_json(seat, sources.get(seat.source_id))
                for seat in (seat_map.seats if seat_map else ())]

    return web.json_response({"seats": await request.app[STATE].db.run(work)})


@endpoint("PUT", "/api/hearings/{hearing_id}/seats/{seat}",
          summary="Name the person in a courtroom seat for this hearing (judge or secretary)",
          body=SEAT_ASSIGN, responses={404: "no such seat", 409: "hearing is closed"})
async def assign_seat(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    seat_id = request.match_info["seat"]
    data = await json_body(request)
    name = (data.get("name") or "").strip()
    state = request.app[STATE]

    def work(s):
        h = load_hearing(s, hid, c)
        if not is_assigned(c, h):
            raise forbidden("only the judge or the secretary of this hearing names the seats")
        if h.state == "closed":
            raise conflict("the hearing is closed; correct speakers in the transcript instead")
        seat_map, _ = _hearing_seats(s, h)
        seat = seat_map.by_source(f"seat:{seat_id}") if seat_map else None
        if seat is None:
            raise not_found("no such seat in this hearing's courtroom")
        src = {a.key: a for a in ensure_seat_sources(s, h)}[seat.source_id]
        before, src.label = src.label, name or seat.label
        state.audit(s, h, c.actor, "seat.assign",
                    {"seat_id": seat.seat_id, "source_id": seat.source_id, "name": name or None,
                     "label": src.label, "previous": before})
        return seat_json(seat, src)

    result = await state.db.run(work)
    captures = request.app[STATE].courtrooms
    if captures is not None:
        captures.relabel(hid, result["source_id"], result["label"])
    state.hub.publish(hid, {"type": "seat", "source_id": result["source_id"],
                            "seat_id": result["seat_id"], "label": result["label"]})
    return web.json_response(result)
