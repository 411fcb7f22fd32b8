"""Courts, courtrooms and their seat maps as stored records, and their JSON; and the
courtroom's bookings: a hearing holds its room from scheduled_at for duration_min minutes, and
a room holds one hearing in session at a time.

A courtroom keeps a seat map (hardware.seatmap, TOML): which input of which device is which
seat. A hearing held there gets one audio source per seat (``seat:<seat id>``, the same id the
capture puts on its chunks), named for the hearing by the judge or secretary. The workflows
that change these records are in hearing.services.courtrooms; the capture of a running
hearing's microphones is in hearing.live.courtroom."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta, timezone

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from hardware import Seat, SeatMap, SeatMapError
from hardware.device_url import DeviceUrlError, parse_device_url
from hardware.seatmap import parse_seat_map
from hearing.audit import iso_utc
from hearing.errors import Conflict, bad_request
from hearing.models import AudioSource, Court, Courtroom, Hearing, HearingState
from media.seat_recorder import recorder_id

SEAT_ROLE_MAX = 50  # AudioSource.seat
LABEL_MAX = 300  # AudioSource.label
#: A hearing's booked length in minutes (Hearing.duration_min): at least 1, at most a day.
MAX_DURATION_MIN = 1440
#: States in which a hearing holds its courtroom booking; cancelled and closed ones free it.
BOOKED: tuple[HearingState, ...] = ("scheduled", "open", "recess")
#: States in which a hearing occupies the room itself (its microphones, its seats).
IN_SESSION: tuple[HearingState, ...] = ("open", "recess")


def parse_seat_map_text(text: str, device: str | None = None,
                        origin: str = "seat map") -> tuple[dict, SeatMap]:
    """Validate a courtroom's seat map (TOML) and optional device override; returns the
    parsed data (what is stored) and the map. SeatMapError says what to fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SeatMapError(f"{origin}: not valid TOML: {e}") from None
    seat_map = parse_seat_map(data, origin=origin)
    for seat in seat_map.seats:
        where = f"{origin}: [seats.{seat.seat_id}]"
        if len(seat.role) > SEAT_ROLE_MAX:
            raise SeatMapError(f"{where}: 'role' is longer than {SEAT_ROLE_MAX} characters")
        if len(seat.label) > LABEL_MAX:
            raise SeatMapError(f"{where}: 'label' is longer than {LABEL_MAX} characters")
    for url in [*seat_map.devices(), *([device] if device else [])]:
        try:
            parse_device_url(url)
        except DeviceUrlError as e:
            raise SeatMapError(f"{origin}: device {url!r}: {e}") from None
    return data, seat_map


def stored_seat_map(text: str, device: str | None) -> dict:
    """The Courtroom.seat_map column: the TOML as the administrator wrote it (comments kept),
    its parsed data, and the device that replaces every seat's device on this server."""
    data, _ = parse_seat_map_text(text, device)
    return {"toml": text, "data": data, "device": device or None}


def courtroom_seat_map(room: Courtroom | None) -> SeatMap | None:
    """The courtroom's seat map with its device override applied, or None without one."""
    if room is None or not room.seat_map:
        return None
    stored = room.seat_map
    seat_map = parse_seat_map(stored.get("data") or tomllib.loads(stored.get("toml", "")),
                              origin=f"courtroom {room.id}")
    if stored.get("device"):
        seat_map = seat_map.with_device(stored["device"])
    return seat_map


def check_court_and_room(s: Session, court_id: int | None, courtroom_id: int | None) -> None:
    """Before a hearing is created: a clear 400 for a court or courtroom that does not exist,
    or a courtroom of another court (rather than a foreign-key failure)."""
    if court_id is not None and s.get(Court, court_id) is None:
        raise bad_request(f"court_id: no court with id {court_id}", field="court_id")
    if courtroom_id is None:
        return
    room = s.get(Courtroom, courtroom_id)
    if room is None:
        raise bad_request(f"courtroom_id: no courtroom with id {courtroom_id}",
                          field="courtroom_id")
    if court_id is not None and room.court_id != court_id:
        raise bad_request("courtroom_id: that courtroom belongs to another court",
                          field="courtroom_id")


def lock_courtroom(s: Session, courtroom_id: int) -> None:
    """Serialise the bookings of one courtroom until this transaction ends: PostgreSQL holds
    the courtroom's row lock (SELECT ... FOR NO KEY UPDATE, which rows merely referring to the
    courtroom do not wait for), so a concurrent booking waits and then sees this one; SQLite
    has one writer, which serialises them already."""
    s.execute(select(Courtroom.id).where(Courtroom.id == courtroom_id)
              .with_for_update(key_share=True))


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)  # SQLite answers naive UTC


def hearing_end(h: Hearing) -> datetime | None:
    return _utc(h.scheduled_at) + timedelta(minutes=h.duration_min) if h.scheduled_at else None


def overlapping(s: Session, start: datetime, end: datetime,
                *where: ColumnElement[bool]) -> list[Hearing]:
    """Hearings whose booked period [scheduled_at, +duration_min) overlaps [start, end), in
    time order. The database narrows by start time (no hearing is longer than a day), the end
    is compared here so the same query runs on SQLite and PostgreSQL."""
    rows = s.execute(select(Hearing).where(
        Hearing.scheduled_at.is_not(None), Hearing.scheduled_at < end,
        Hearing.scheduled_at > start - timedelta(minutes=MAX_DURATION_MIN), *where)
        .order_by(Hearing.scheduled_at, Hearing.id)).scalars()
    return [h for h in rows if hearing_end(h) > start]


def booking_json(h: Hearing) -> dict:
    """The hearing that holds a booking, as a refusal names it."""
    end = hearing_end(h)
    return {"id": h.id, "case_number": h.case_number, "state": h.state,
            "courtroom_id": h.courtroom_id,
            "scheduled_at": iso_utc(h.scheduled_at) if h.scheduled_at else None,
            "ends_at": iso_utc(end) if end else None}


def check_booking(s: Session, courtroom_id: int | None, start: datetime | None,
                  duration_min: int, hearing_id: int | None = None) -> None:
    """Refuse (409) a booking of the courtroom for [start, start + duration_min) that overlaps
    a hearing still holding it. Locks the courtroom first, so two concurrent bookings cannot
    both pass."""
    if courtroom_id is None or start is None:
        return
    lock_courtroom(s, courtroom_id)
    start = _utc(start)
    taken = overlapping(s, start, start + timedelta(minutes=duration_min),
                        Hearing.courtroom_id == courtroom_id, Hearing.state.in_(BOOKED),
                        *([Hearing.id != hearing_id] if hearing_id is not None else []))
    if taken:
        other = booking_json(taken[0])
        raise Conflict(f"the courtroom is booked for case {other['case_number']} from "
                       f"{other['scheduled_at']} to {other['ends_at']}",
                       code="courtroom_booked", hearing=other)


def check_room_free(s: Session, h: Hearing) -> None:
    """Refuse (409) opening a hearing while another one is in session in its courtroom."""
    if h.courtroom_id is None:
        return
    lock_courtroom(s, h.courtroom_id)
    other = s.execute(select(Hearing).where(
        Hearing.courtroom_id == h.courtroom_id, Hearing.id != h.id,
        Hearing.state.in_(IN_SESSION)).order_by(Hearing.id).limit(1)).scalar_one_or_none()
    if other is not None:
        raise Conflict(f"hearing {other.id} (case {other.case_number}) is in session in this "
                       "courtroom; close it first", code="courtroom_in_use",
                       hearing=booking_json(other))


def ensure_seat_sources(s: Session, h: Hearing) -> list[AudioSource]:
    """One AudioSource per seat of the hearing's courtroom (missing ones are added, so a seat
    added to the map later still gets one); called when the hearing is created and again when
    capture starts. The hearing's court defaults to the courtroom's."""
    room = s.get(Courtroom, h.courtroom_id) if h.courtroom_id is not None else None
    if room is None:
        return []
    if h.court_id is None:
        h.court_id = room.court_id
    seat_map = courtroom_seat_map(room)
    if seat_map is None:
        return []
    have = {a.key: a for a in s.execute(select(AudioSource).where(
        AudioSource.hearing_id == h.id, AudioSource.kind == "seat")).scalars()}
    out = []
    for seat in seat_map.seats:
        src = have.get(seat.source_id)
        if src is None:
            src = AudioSource(hearing_id=h.id, kind="seat", key=seat.source_id, seat=seat.role,
                              label=seat.label)
            s.add(src)
        out.append(src)
    s.flush()
    return out


def seat_json(seat: Seat, src: AudioSource | None) -> dict:
    """A courtroom seat in one hearing: who sits there (``label``) and where it is recorded."""
    return {"seat_id": seat.seat_id, "source_id": seat.source_id,
            "recording_id": recorder_id(seat.source_id), "role": seat.role,
            "channel": seat.channel, "default_label": seat.label,
            "label": src.label if src else seat.label, "device": seat.device}


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
