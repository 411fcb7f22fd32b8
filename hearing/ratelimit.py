"""Token buckets per key (a participant), so one caller's flood of small actions cannot fill the
audit log or the database queue while everyone else goes on as usual."""

from __future__ import annotations

import time


class KeyedBuckets:
    """``burst`` actions at once, then ``rate`` a second, per key; memory is bounded (the
    oldest keys are forgotten first, which only ever gives a caller a fresh bucket)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[object, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: object) -> float:
        """Spend one token: 0 when allowed, else the seconds until one is available."""
        now = time.monotonic()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if len(self._buckets) >= self.max_keys:
            for k in list(self._buckets)[: self.max_keys // 10]:
                del self._buckets[k]
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate
