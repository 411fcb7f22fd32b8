"""Capture of a courtroom's microphones while a hearing held there runs.

While the hearing is open the courtroom's devices are captured: each seat is transcribed on
its own stream (attribution is structural), recorded through the hearing room's recorder like
a remote participant, metered for the judge's console, and watched for faults, which are sent
to the staff and written to the audit log. Started, paused and stopped on the hearing's
transitions (registered with ``LiveHearings.on_transition``).

Staff-only WebSocket messages::

    {"type": "meter", "levels": [{"source_id": "seat:judge", "label": "A. Nurlanova",
                                  "peak_db": -12.3, "rms_db": -24.0}, ...]}   about 10 a second
    {"type": "alert", "source_id": "seat:witness", "label": ..., "kind": "silent" | "clipping" |
     "silence_cleared" | "device_error" | "device_stalled" | "device_restored" | "dropped" |
     "ended", "message": ..., "device": ..., "device_wide": bool, "sources": [...], "t_ms": ...}

A "silent" alert comes after ``Config.dead_mic_alert_s`` of silence or of mains hum alone
(``"hum": true``: a dead cable picking up hum).

A seat's recording is kept under the recorder-safe id ``seat.<seat id>``
(media.seat_recorder.recorder_id / source_of_recording)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from hardware import CaptureOptions, CourtroomCapture, SeatMap
from hardware.meters import MeterOptions
from hearing.courtrooms import courtroom_seat_map, ensure_seat_sources
from hearing.models import Courtroom, Hearing
from media.seat_recorder import SeatRecorder
from media.tasks import Tasks

if TYPE_CHECKING:
    from hearing.state import AppState

log = logging.getLogger(__name__)

METER_INTERVAL_S = 0.1  # the judge's level meters: about ten updates a second


@dataclass(eq=False)
class HearingCapture:
    """The courtroom microphones of one hearing while it runs."""

    hearing_id: int
    seat_map: SeatMap
    labels: dict[str, str]  # source id -> who the console shows
    seat_recorder: SeatRecorder = field(init=False)
    capture: CourtroomCapture = field(init=False)
    levels: dict[str, dict] = field(default_factory=dict)
    fresh: bool = False
    tasks: Tasks = field(init=False)  # the meter loop and the audit writes

    def __post_init__(self) -> None:
        self.tasks = Tasks(f"courtroom capture of hearing {self.hearing_id}")


class CourtroomCaptures:
    """The running captures, one per courtroom hearing in progress."""

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
                await self._resume(hid, st)
            except Exception:
                log.exception("could not resume courtroom capture of hearing %s", hid)

    async def resume(self, hearing_id: int) -> None:
        """A hearing taken over from a node that died: its microphones are captured here now
        (if it is held in a courtroom)."""
        st = await self.state.db.run(lambda s: s.get(Hearing, hearing_id).state)
        if st in ("open", "recess"):
            await self._resume(hearing_id, st)

    async def _resume(self, hearing_id: int, hearing_state: str) -> None:
        async with self._lock:
            if hearing_id not in self.running:
                await self._start(hearing_id, hearing_open=hearing_state == "open")

    def relabel(self, hearing_id: int, source_id: str, label: str) -> None:
        """A seat renamed: the meters show the new name at once."""
        hc = self.running.get(hearing_id)
        if hc is not None:
            hc.labels[source_id] = label

    async def close(self) -> None:
        """Server shutdown (not the close of a hearing): flush what was captured into the
        recorder, which keeps it as chunks until the judge closes the hearing."""
        async with self._lock:
            for hid in list(self.running):
                await self._stop(hid)

    async def stop(self, hearing_id: int) -> None:
        """This node no longer holds the hearing: its microphones stop here (what was
        captured stays as chunks for the node that holds it now)."""
        async with self._lock:
            await self._stop(hearing_id)

    # -- internals ---------------------------------------------------------------------------
    async def _start(self, hearing_id: int, hearing_open: bool) -> None:
        state = self.state
        live = state.live.get(hearing_id)
        if live is None:
            return

        def load(s):  # noqa: ANN001, ANN202
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
                on_alert=lambda ev: self._alert(hc, ev),
                options=CaptureOptions(meters=MeterOptions(
                    silence_alert_s=state.config.dead_mic_alert_s)))
            hc.capture.set_hearing_open(hearing_open)
            await hc.capture.start()
        except Exception as exc:  # a bad device URL: say so; the hearing goes on without mics
            log.exception("courtroom capture of hearing %s did not start", hearing_id)
            await hc.seat_recorder.close()
            self._alert(hc, {"kind": "device_error", "message": f"courtroom capture did not "
                             f"start: {exc}", "device": override or None})
            await self._settle(hc)
            return
        hc.tasks.start(self._meter_loop(hc), "meters")
        self.running[hearing_id] = hc

    async def _stop(self, hearing_id: int) -> None:
        hc = self.running.pop(hearing_id, None)
        if hc is None:
            return
        try:
            await hc.capture.stop()  # hands over everything captured: transcripts, recording
        finally:
            await hc.seat_recorder.close()
            for meters in hc.tasks.named("meters"):
                await hc.tasks.cancel(meters)
            await self._settle(hc)

    async def _settle(self, hc: HearingCapture) -> None:
        """Let the audit writes finish; nothing of the capture keeps running."""
        await hc.tasks.wait()
        await hc.tasks.close()

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
        for extra in ("gap", "silent_s", "hum", "clipped_samples", "peak_dbfs", "from_ms",
                      "to_ms"):
            if extra in event:
                message[extra] = event[extra]
        if kind == "device_error":
            for sid in sources:  # close the open recording chunks now: they are safe on disk
                hc.seat_recorder.gap(sid)
        # The console shows alerts on a seat's row: a device-wide event goes to each of its
        # seats (``device_wide`` lets a console show one notice for them); audited once.
        for sid in sources:
            self.state.hub.publish(hc.hearing_id, {
                **message, "source_id": sid, "label": hc.labels.get(sid, sid),
                "device_wide": source_id is None}, staff_only=True)
        hc.tasks.start(self._audit(hc.hearing_id, "courtroom.alert",
                                   {k: v for k, v in message.items() if k != "type"}),
                       "audit courtroom.alert")

    def _recording_event(self, hc: HearingCapture, event: dict) -> None:
        self.state.hub.publish(hc.hearing_id, {"type": "media", "event": event},
                               staff_only=True)
        data = {k: v for k, v in event.items() if k != "type"}
        hc.tasks.start(self._audit(hc.hearing_id, event["type"], data),
                       f"audit {event['type']}")

    async def _audit(self, hearing_id: int, action: str, data: dict) -> None:
        state = self.state

        def work(s):  # noqa: ANN001, ANN202
            state.audit(s, s.get(Hearing, hearing_id), "courtroom", action, data)
        try:  # a live write of the owner: refused once another node holds the hearing
            await state.live.fenced(hearing_id, work)
        except Exception:
            log.exception("could not audit %s of hearing %s", action, hearing_id)
