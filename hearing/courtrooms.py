"""Courtrooms and their microphones in running hearings.

A courtroom keeps a seat map (hardware.seatmap, TOML): which input of which device is which
seat. A hearing held there gets one audio source per seat (``seat:<seat id>``, the same id the
capture puts on its chunks), named for the hearing by the judge or secretary. While the hearing
is open the courtroom's devices are captured: each seat is transcribed on its own stream
(attribution is structural), recorded through the hearing room's recorder like a remote
participant, metered for the judge's console, and watched for faults, which are sent to the
staff and written to the audit log.

Staff-only WebSocket messages::

    {"type": "meter", "levels": [{"source_id": "seat:judge", "label": "A. Nurlanova",
                                  "peak_db": -12.3, "rms_db": -24.0}, ...]}   about 10 a second
    {"type": "alert", "source_id": "seat:witness", "label": ..., "kind": "silent" | "clipping" |
     "silence_cleared" | "device_error" | "device_stalled" | "device_restored" | "dropped" |
     "ended", "message": ..., "device": ..., "device_wide": bool, "sources": [...], "t_ms": ...}

and to everybody ``{"type": "seat", "source_id", "seat_id", "label"}`` when a seat is named.
A seat's recording is kept under the recorder-safe id ``seat.<seat id>``
(media.seat_recorder.recorder_id / source_of_recording)."""

from __future__ import annotations

import asyncio
import logging
import tomllib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hardware import CourtroomCapture, SeatMap, SeatMapError
from hardware.device_url import DeviceUrlError, parse_device_url
from hardware.seatmap import parse_seat_map
from hearing.errors import bad_request
from hearing.models import AudioSource, Court, Courtroom, Hearing
from hearing.state import AppState
from media.seat_recorder import SeatRecorder, recorder_id

log = logging.getLogger(__name__)

SEAT_ROLE_MAX = 50  # AudioSource.seat
LABEL_MAX = 300  # AudioSource.label
METER_INTERVAL_S = 0.1  # the judge's level meters: about ten updates a second


# -- seat maps as stored data ------------------------------------------------------------------
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


def seat_json(seat, src: AudioSource | None, staff: bool = True) -> dict:  # noqa: ANN001
    d = {"seat_id": seat.seat_id, "source_id": seat.source_id,
         "recording_id": recorder_id(seat.source_id), "role": seat.role, "channel": seat.channel,
         "default_label": seat.label, "label": src.label if src else seat.label}
    if staff:
        d["device"] = seat.device
    return d


# -- live capture --------------------------------------------------------------------------------
@dataclass
class HearingCapture:
    """The courtroom microphones of one hearing while it runs."""

    hearing_id: int
    seat_map: SeatMap
    labels: dict[str, str]  # source id -> who the console shows
    capture: CourtroomCapture | None = None
    seat_recorder: SeatRecorder | None = None
    levels: dict[str, dict] = field(default_factory=dict)
    fresh: bool = False
    tasks: set[asyncio.Task] = field(default_factory=set)
    meter_task: asyncio.Task | None = None


class CourtroomCaptures:
    """Starts, pauses and stops the capture of hearings held in courtrooms, on the hearing's
    transitions (registered with ``LiveHearings.on_transition``)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.running: dict[int, HearingCapture] = {}
        self._lock = asyncio.Lock()

    async def on_transition(self, hearing_id: int, new_state: str) -> None:
        async with self._lock:
            hc = self.running.get(hearing_id)
            if new_state == "open":
                if hc is not None:
                    hc.capture.set_hearing_open(True)
                else:
                    await self._start(hearing_id, hearing_open=True)
            elif new_state == "recess" and hc is not None:
                hc.capture.set_hearing_open(False)  # keep recording; no silence alerts
            elif new_state == "closed" and hc is not None:
                await self._stop(hearing_id)

    async def resume_after_restart(self) -> None:
        """Hearings left open (or in recess) by a previous process get their mics back."""
        try:
            rows = await self.state.db.run(lambda s: [
                (h.id, h.state) for h in s.execute(select(Hearing).where(
                    Hearing.state.in_(("open", "recess")),
                    Hearing.courtroom_id.is_not(None))).scalars()])
        except Exception:  # the server must still start (e.g. to show a migration error)
            log.exception("cannot look for courtroom hearings left open")
            return
        for hid, st in rows:
            try:
                await self.state.live.ensure(hid)
                async with self._lock:
                    if hid not in self.running:
                        await self._start(hid, hearing_open=st == "open")
            except Exception:
                log.exception("could not resume courtroom capture of hearing %s", hid)

    def relabel(self, hearing_id: int, source_id: str, label: str) -> None:
        hc = self.running.get(hearing_id)
        if hc is not None:
            hc.labels[source_id] = label

    async def close(self) -> None:
        """Server shutdown (not the close of a hearing): flush what was captured into the
        recorder, which keeps it as chunks until the judge closes the hearing."""
        async with self._lock:
            for hid in list(self.running):
                await self._stop(hid)

    # -- internals ---------------------------------------------------------------------------
    async def _start(self, hearing_id: int, hearing_open: bool) -> None:
        state = self.state
        live = state.live.get(hearing_id)
        if live is None or live.room is None:
            return

        def load(s):
            h = s.get(Hearing, hearing_id)
            if h is None or h.courtroom_id is None:
                return None
            seat_map = courtroom_seat_map(s.get(Courtroom, h.courtroom_id))
            if seat_map is None:
                return None
            sources = ensure_seat_sources(s, h)
            return seat_map, {a.key: a.label for a in sources}
        try:
            loaded = await state.db.run(load)
        except Exception:
            log.exception("cannot load the seat map of hearing %s", hearing_id)
            return
        if loaded is None:
            return
        seat_map, labels = loaded
        override = state.config.courtroom_device_override.strip()
        if override:
            seat_map = seat_map.with_device(override)
        hc = HearingCapture(hearing_id, seat_map, labels)
        hc.seat_recorder = SeatRecorder(live.room.recorder,
                                        on_event=lambda ev: self._recording_event(hc, ev))
        try:
            hc.capture = CourtroomCapture(
                seat_map, live.clock,
                on_chunk=lambda chunk: state.live.feed(hearing_id, chunk),
                on_record=hc.seat_recorder.feed,
                on_meter=lambda ev: self._meter(hc, ev),
                on_alert=lambda ev: self._alert(hc, ev))
            hc.capture.set_hearing_open(hearing_open)
            await hc.capture.start()
        except Exception as exc:  # a bad device URL: say so; the hearing goes on without mics
            log.exception("courtroom capture of hearing %s did not start", hearing_id)
            await hc.seat_recorder.close()
            self._alert(hc, {"kind": "device_error", "message": f"courtroom capture did not "
                             f"start: {exc}", "device": override or None})
            await self._settle(hc)
            return
        hc.meter_task = asyncio.ensure_future(self._meter_loop(hc))
        self.running[hearing_id] = hc

    async def _stop(self, hearing_id: int) -> None:
        hc = self.running.pop(hearing_id, None)
        if hc is None:
            return
        try:
            await hc.capture.stop()  # hands over everything captured: transcripts, recording
        finally:
            await hc.seat_recorder.close()
            if hc.meter_task is not None:
                hc.meter_task.cancel()
                await asyncio.gather(hc.meter_task, return_exceptions=True)
            await self._settle(hc)

    async def _settle(self, hc: HearingCapture) -> None:
        if hc.tasks:
            await asyncio.gather(*list(hc.tasks), return_exceptions=True)

    def _spawn(self, hc: HearingCapture, coro) -> None:  # noqa: ANN001
        task = asyncio.ensure_future(coro)
        hc.tasks.add(task)
        task.add_done_callback(hc.tasks.discard)

    def _meter(self, hc: HearingCapture, event: dict) -> None:
        for ch in event.get("channels", ()):
            if ch.get("seat") is None:
                continue  # an input no seat is mapped to
            sid = f"seat:{ch['seat']}"
            hc.levels[sid] = {"source_id": sid, "peak_db": ch["peak_dbfs"],
                              "rms_db": ch["rms_dbfs"]}
        hc.fresh = True

    async def _meter_loop(self, hc: HearingCapture) -> None:
        """One aggregated message for all devices, at most ten a second (droppable in the hub)."""
        order = [s.source_id for s in hc.seat_map.seats]
        while True:
            await asyncio.sleep(METER_INTERVAL_S)
            if not hc.fresh:
                continue
            hc.fresh = False
            levels = [{**hc.levels[sid], "label": hc.labels.get(sid, sid)}
                      for sid in order if sid in hc.levels]
            self.state.hub.publish(hc.hearing_id, {"type": "meter", "levels": levels},
                                   staff_only=True)

    def _alert(self, hc: HearingCapture, event: dict) -> None:
        kind = event.get("kind", "device_error")
        seat = event.get("seat")
        source_id = event.get("source_id") or (f"seat:{seat}" if seat else None)
        device = event.get("device")
        if source_id:
            sources = [source_id]
        else:  # a device-wide event concerns every seat on it
            sources = [s.source_id for s in hc.seat_map.seats if device in (None, s.device)]
        message = {"type": "alert", "source_id": source_id, "kind": kind,
                   "message": event.get("message", kind), "sources": sources,
                   "label": hc.labels.get(source_id) if source_id else None,
                   "device": device, "t_ms": event.get("t_ms")}
        for extra in ("gap", "silent_s", "clipped_samples", "peak_dbfs", "from_ms", "to_ms"):
            if extra in event:
                message[extra] = event[extra]
        if kind == "device_error" and hc.seat_recorder is not None:
            for sid in sources:  # close the open recording chunks now: they are safe on disk
                hc.seat_recorder.gap(sid)
        # The console shows alerts on a seat's row: a device-wide event goes to each of its
        # seats (``device_wide`` lets a console show one notice for them); audited once.
        for sid in sources:
            self.state.hub.publish(hc.hearing_id, {
                **message, "source_id": sid, "label": hc.labels.get(sid, sid),
                "device_wide": source_id is None}, staff_only=True)
        self._spawn(hc, self._audit(hc.hearing_id, "courtroom.alert",
                                    {k: v for k, v in message.items() if k != "type"}))

    def _recording_event(self, hc: HearingCapture, event: dict) -> None:
        self.state.hub.publish(hc.hearing_id, {"type": "media", "event": event},
                               staff_only=True)
        data = {k: v for k, v in event.items() if k != "type"}
        self._spawn(hc, self._audit(hc.hearing_id, event["type"], data))

    async def _audit(self, hearing_id: int, action: str, data: dict) -> None:
        state = self.state

        def work(s):
            state.audit(s, s.get(Hearing, hearing_id), "courtroom", action, data)
        try:
            await state.db.run(work)
        except Exception:
            log.exception("could not audit %s of hearing %s", action, hearing_id)
