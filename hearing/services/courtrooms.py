"""Courts and courtrooms with their seat maps (the court administrator's), and who sits in
each courtroom seat for one hearing (the hearing's judge or secretary)."""

from __future__ import annotations

import zoneinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hardware import SeatMap, SeatMapError
from hearing.access import is_assigned, load_hearing, require_staff_role
from hearing.courtrooms import (court_json, courtroom_json, courtroom_seat_map,
                                ensure_seat_sources, seat_json, stored_seat_map)
from hearing.errors import bad_request, conflict, forbidden, not_found
from hearing.models import AudioSource, Court, Courtroom, Hearing
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.state import AppState
from hearing.transaction import Tx

#: Who may look at courts and courtrooms (to pick one when scheduling a hearing).
VIEWERS = ("admin", "judge", "secretary")


def _court(s: Session, court_id: int) -> Court:
    court = s.get(Court, court_id)
    if court is None:
        raise not_found("no such court")
    return court


def _create_court(tx: Tx, name: str, tz: str) -> dict:
    court = Court(name=name, timezone=tz)
    tx.s.add(court)
    tx.s.flush()
    result = court_json(court)
    tx.audit(None, "court.create", result)
    return result


async def create_court(state: AppState, caller: Caller, name: str, tz: str | None) -> dict:
    """A new court; its time zone (the server's by default) dates its documents."""
    require_staff_role(caller, "admin")
    tz = tz or state.config.timezone
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"timezone: unknown time zone {tz!r} (e.g. Asia/Almaty)",
                          field="timezone") from None
    return await state.transaction(caller, _create_court, name, tz)


def _list_courts(tx: Tx, req: PageRequest) -> tuple[list[dict], str | None]:
    require_staff_role(tx.me, *VIEWERS)
    return page(tx.s, select(Court), Court.id, req, court_json)


async def list_courts(state: AppState, caller: Caller,
                      req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the courts and the next page's cursor."""
    return await state.transaction(caller, _list_courts, req)


def _create_courtroom(tx: Tx, court_id: int, name: str, stored: dict | None) -> dict:
    _court(tx.s, court_id)
    room = Courtroom(court_id=court_id, name=name, seat_map=stored)
    tx.s.add(room)
    tx.s.flush()
    result = courtroom_json(room)
    tx.audit(None, "courtroom.create", {"courtroom_id": room.id, "court_id": court_id,
                                        "name": room.name, "seats": result["seats"],
                                        "device": result["device"]})
    return result


async def create_courtroom(state: AppState, caller: Caller, court_id: int, name: str,
                           seat_map: str | None, device: str | None) -> dict:
    """A courtroom of the court, with its seat map (TOML) and the device URL that replaces
    every seat's device on this server, both checked before anything is stored."""
    require_staff_role(caller, "admin")
    stored = None
    if seat_map:
        try:
            stored = stored_seat_map(seat_map, device or None)
        except SeatMapError as exc:
            raise bad_request(f"seat_map: {exc}", field="seat_map") from None
    return await state.transaction(caller, _create_courtroom, court_id, name, stored)


def _list_courtrooms(tx: Tx, court_id: int,
                     req: PageRequest) -> tuple[list[dict], str | None]:
    require_staff_role(tx.me, *VIEWERS)
    _court(tx.s, court_id)
    return page(tx.s, select(Courtroom).where(Courtroom.court_id == court_id), Courtroom.id,
                req, courtroom_json)


async def list_courtrooms(state: AppState, caller: Caller, court_id: int,
                          req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the court's courtrooms with their seats, and the next page's cursor."""
    return await state.transaction(caller, _list_courtrooms, court_id, req)


def _seats_of(s: Session, h: Hearing) -> tuple[SeatMap | None, dict[str, AudioSource]]:
    """The seat map of the hearing's courtroom and the hearing's seat sources by key."""
    seat_map = courtroom_seat_map(s.get(Courtroom, h.courtroom_id)) if h.courtroom_id else None
    if seat_map is None:
        return None, {}
    sources = {a.key: a for a in s.execute(select(AudioSource).where(
        AudioSource.hearing_id == h.id, AudioSource.kind == "seat")).scalars()}
    return seat_map, sources


def _list_seats(tx: Tx, hearing_id: int) -> list[dict]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    seat_map, sources = _seats_of(tx.s, h)
    return [seat_json(seat, sources.get(seat.source_id))
            for seat in (seat_map.seats if seat_map else ())]


async def list_seats(state: AppState, caller: Caller, hearing_id: int) -> list[dict]:
    return await state.transaction(caller, _list_seats, hearing_id)


def _assign_seat(tx: Tx, hearing_id: int, seat_id: str, name: str) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    if not is_assigned(tx.me, h):
        raise forbidden("only the judge or the secretary of this hearing names the seats")
    if h.state == "closed":
        raise conflict("the hearing is closed; correct speakers in the transcript instead")
    seat_map, _ = _seats_of(tx.s, h)
    seat = seat_map.by_source(f"seat:{seat_id}") if seat_map else None
    if seat is None:
        raise not_found("no such seat in this hearing's courtroom")
    src = {a.key: a for a in ensure_seat_sources(tx.s, h)}[seat.source_id]
    before, src.label = src.label, name or seat.label
    tx.audit(h, "seat.assign", {"seat_id": seat.seat_id, "source_id": seat.source_id,
                                "name": name or None, "label": src.label, "previous": before})
    tx.publish(h.id, {"type": "seat", "source_id": seat.source_id, "seat_id": seat.seat_id,
                      "label": src.label})
    return seat_json(seat, src)


async def assign_seat(state: AppState, caller: Caller, hearing_id: int, seat_id: str,
                      name: str | None) -> dict:
    """Name the person in a seat (empty: the seat's own label). A running hearing's meters
    and later transcript messages show the new name at once."""
    result = await state.transaction(caller, _assign_seat, hearing_id, seat_id,
                                     (name or "").strip())
    state.courtrooms.relabel(hearing_id, result["source_id"], result["label"])
    await state.live.speakers_changed(hearing_id)
    return result
