"""All the microphones of one courtroom for one hearing: a Capture per device of the seat map,
started, paused and stopped together. This is what the hearing server holds."""

from __future__ import annotations

import asyncio

from hardware.capture import Capture, CaptureOptions, ChunkSink, EventSink
from hardware.seatmap import SeatMap
from media.clock import HearingClock


class CourtroomCapture:
    def __init__(self, seat_map: SeatMap, clock: HearingClock, on_chunk: ChunkSink | None = None,
                 on_meter: EventSink | None = None, on_alert: EventSink | None = None,
                 options: CaptureOptions = CaptureOptions(),
                 on_record: ChunkSink | None = None) -> None:
        self.seat_map = seat_map
        self.captures = [Capture(device, seat_map, clock, on_chunk=on_chunk, on_meter=on_meter,
                                 on_alert=on_alert, options=options, on_record=on_record)
                         for device in seat_map.devices()]

    async def start(self) -> None:
        for c in self.captures:
            await c.start()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.captures))

    def set_hearing_open(self, is_open: bool) -> None:
        """Paused or closed hearings raise no silence/clipping alerts."""
        for c in self.captures:
            c.set_hearing_open(is_open)

    @property
    def stats(self) -> dict[str, dict]:
        return {c.url: dict(c.stats) for c in self.captures}
