"""Courts and courtrooms (court administrator), and who sits in each courtroom seat for one
hearing (the hearing's judge or secretary)."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import array_of, endpoint, schema
from hearing.api.schemas import INT, OPT_STR, STR, paged, record
from hearing.paging import PAGE_QUERY, PageRequest
from hearing.services import courtrooms

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

COURT = record("Court", {"id": INT, "name": STR, "timezone": STR})
COURTROOM_SEAT = record("CourtroomSeat", {
    "seat_id": STR, "source_id": STR, "channel": INT, "role": STR, "label": STR,
    "device": STR})
COURTROOM = record("Courtroom", {
    "id": INT, "court_id": INT, "name": STR,
    "seat_map": {**OPT_STR, "description": "the TOML as written (null: no microphones)"},
    "device": {**OPT_STR, "description": "device URL replacing every seat's device"},
    "seats": {"type": "array", "items": COURTROOM_SEAT}})
SEAT = record("Seat", {
    "seat_id": STR, "source_id": STR,
    "recording_id": {**STR, "description": "the seat's source id in recordings"},
    "role": STR, "channel": INT, "default_label": STR,
    "label": {**STR, "description": "who sits there in this hearing"}, "device": STR})


@endpoint("POST", "/api/courts", summary="Add a court (court administrator)", body=COURT_CREATE,
          response=COURT, status=201, responses={201: "created"}, tag="courts")
async def create_court(call: Call, body: dict) -> dict:
    return await courtrooms.create_court(call.state, call.me, body["name"], body.get("timezone"))


@endpoint("GET", "/api/courts", summary="Courts (staff: judges and secretaries pick a "
          "courtroom when they schedule; paged)", response=paged(COURT, "courts"),
          query=PAGE_QUERY, tag="courts")
async def list_courts(call: Call, query: dict) -> dict:
    found, next_cursor = await courtrooms.list_courts(call.state, call.me,
                                                      PageRequest.from_query(query))
    return {"courts": found, "next_cursor": next_cursor}


@endpoint("POST", "/api/courts/{court_id}/courtrooms",
          summary="Add a courtroom with its seat map (court administrator)",
          body=COURTROOM_CREATE, response=COURTROOM, status=201,
          responses={201: "created", 404: "no such court"}, tag="courts")
async def create_courtroom(call: Call, court_id: int, body: dict) -> dict:
    return await courtrooms.create_courtroom(call.state, call.me, court_id, body["name"],
                                             body.get("seat_map"), body.get("device"))


@endpoint("GET", "/api/courts/{court_id}/courtrooms",
          summary="Courtrooms of a court with their seats (staff; paged)",
          response=paged(COURTROOM, "courtrooms"), responses={404: "no such court"},
          query=PAGE_QUERY, tag="courts")
async def list_courtrooms(call: Call, court_id: int, query: dict) -> dict:
    found, next_cursor = await courtrooms.list_courtrooms(call.state, call.me, court_id,
                                                          PageRequest.from_query(query))
    return {"courtrooms": found, "next_cursor": next_cursor}


@endpoint("GET", "/api/hearings/{hearing_id}/seats",
          summary="Courtroom seats of a hearing and who sits in them",
          response=array_of(SEAT, "seats"))
async def list_seats(call: Call, hearing_id: int) -> dict:
    return {"seats": await courtrooms.list_seats(call.state, call.me, hearing_id)}


@endpoint("PUT", "/api/hearings/{hearing_id}/seats/{seat}",
          summary="Name the person in a courtroom seat for this hearing (judge or secretary)",
          body=SEAT_ASSIGN, response=SEAT,
          responses={404: "no such seat", 409: "hearing is closed"})
async def assign_seat(call: Call, hearing_id: int, seat: str, body: dict) -> dict:
    return await courtrooms.assign_seat(call.state, call.me, hearing_id, seat, body["name"])
