"""Courtroom audio devices: discovery, multi-channel capture, seat map, level meters, bleed.

The hearing server needs only::

    seat_map = load_seat_map("courtroom3.toml").with_names({"judge": "A. Nurlanova"})
    room = CourtroomCapture(seat_map, clock, on_chunk=..., on_record=..., on_meter=...,
                            on_alert=...)
    await room.start(); ...; room.set_hearing_open(False); ...; await room.stop()

``on_chunk`` receives bleed-gated ``AudioChunk``s for transcription, ``on_record`` the same
channels untouched for the recorder; source ids are ``seat:<seat id>``."""

from hardware.capture import Capture, CaptureOptions
from hardware.courtroom import CourtroomCapture
from hardware.seatmap import Seat, SeatMap, SeatMapError, load_seat_map

__all__ = ["Capture", "CaptureOptions", "CourtroomCapture", "Seat", "SeatMap", "SeatMapError",
           "load_seat_map"]
