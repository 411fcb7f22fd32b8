"""The hearing clock: integer milliseconds since the hearing opened, mapped once to UTC.

Every timestamp that must line up later (segments, recording offsets, audit events, evidence
intake) is taken from one instance, so a click on a word plays the right moment."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone


@dataclass
class HearingClock:
    opened_at: datetime  # UTC instant that is hearing-clock 0
    _mono_origin: float = field(default_factory=time.monotonic, repr=False)
    _offset_ms: int = 0  # clock value at _mono_origin (non-zero after a server restart)

    @classmethod
    def starting_now(cls) -> "HearingClock":
        return cls(opened_at=datetime.now(timezone.utc))

    @classmethod
    def resume(cls, opened_at: datetime) -> "HearingClock":
        """Rebuild the clock of a hearing opened earlier (e.g. after a restart): wall time is
        read once, then the monotonic clock carries it so NTP steps cannot move it backwards."""
        if opened_at.tzinfo is None:
            opened_at = opened_at.replace(tzinfo=timezone.utc)
        elapsed = datetime.now(timezone.utc) - opened_at
        return cls(opened_at=opened_at, _offset_ms=max(0, int(elapsed.total_seconds() * 1000)))

    def now_ms(self) -> int:
        return self._offset_ms + int((time.monotonic() - self._mono_origin) * 1000)

    def at_monotonic(self, mono: float) -> int:
        """Hearing-clock ms of a time.monotonic() reading taken by a producer."""
        return self._offset_ms + int((mono - self._mono_origin) * 1000)

    def to_utc(self, ms: int) -> datetime:
        return self.opened_at + timedelta(milliseconds=ms)
