"""The bleed gate: one voice heard by several microphones must become one segment, on the seat
of the person who spoke.

Per 20 ms frame a channel is *bleed* when it is more than ``margin_db`` under a louder channel
and its waveform is that louder channel's, shifted by the acoustic delay between the two mics
(normalised cross-correlation at the best lag within ``max_lag_ms`` ≥ ``coherence``). Bleed is
silenced for transcription. Two people really speaking at once stay: each is loud in their own
microphone and the other's voice explains little of it, so the correlation stays low. Frames
close to a channel's noise floor carry no evidence and keep the previous decision, so the gate
does not flutter in pauses. The recorder never sees this: it gets every channel untouched."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from media.audio import SAMPLE_RATE


@dataclass(frozen=True)
class BleedOptions:
    enabled: bool = True
    frame_ms: int = 20  # decision granularity
    margin_db: float = 10.0  # a channel this far under a louder one may be its bleed
    coherence: float = 0.5  # correlation with the louder channel that makes it "the same voice"
    max_lag_ms: float = 10.0  # acoustic delay between mics considered (about 3.4 m)
    floor_margin_db: float = 6.0  # within this of the noise floor a frame keeps the last decision
    floor_rise_db_s: float = 1.0  # how fast the noise-floor estimate may climb
    ramp_ms: float = 5.0  # gain changes are ramped over this to avoid clicks


class BleedGate:
    """Processes sample-aligned 16 kHz blocks of the channels of one device.

    ``process`` returns ``(raw, gated)`` of the same length (whole frames; the remainder waits
    for the next block), so both are delayed identically and keep the same timestamps."""

    def __init__(self, channels: int, options: BleedOptions = BleedOptions(),
                 rate: int = SAMPLE_RATE) -> None:
        self.opt = options
        self.channels = channels
        self.L = rate * options.frame_ms // 1000
        self.max_lag = int(rate * options.max_lag_ms / 1000)
        # linear (not circular) correlation of 2L-sample windows at lags up to max_lag
        self.nfft = 1 << int(np.ceil(np.log2(2 * self.L + self.max_lag)))
        self.ramp = max(1, int(rate * options.ramp_ms / 1000))
        self.floor_rise = options.floor_rise_db_s * options.frame_ms / 1000
        self._carry = np.zeros((channels, 0), np.float32)
        self._prev = np.zeros((channels, self.L), np.float32)  # previous frame (analysis context)
        self._open = np.ones(channels, dtype=bool)
        self._gain = np.ones(channels, dtype=np.float32)
        self._floor = np.full(channels, np.nan)
        self.frames = 0
        self.gated_frames = np.zeros(channels, dtype=np.int64)

    def process(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([self._carry, block], axis=1) if self._carry.shape[1] else block
        F = x.shape[1] // self.L
        used = F * self.L
        self._carry = np.array(x[:, used:], dtype=np.float32)
        raw = np.ascontiguousarray(x[:, :used], dtype=np.float32)
        if F == 0 or not self.opt.enabled or self.channels < 2:
            return raw, raw
        frames = raw.reshape(self.channels, F, self.L)
        energy = np.einsum("cfl,cfl->cf", frames, frames, dtype=np.float64) / self.L
        level = 10 * np.log10(np.maximum(energy, 1e-14))
        # pass 1: which (channel, frame) need the correlation test, and against whom
        LOUD, QUIET, TEST = 0, 1, 2
        kind = np.full((self.channels, F), LOUD, dtype=np.int8)
        pairs: list[tuple[int, int, int]] = []  # (channel, louder channel, frame)
        for f in range(F):
            lv = level[:, f]
            floor = np.where(np.isnan(self._floor), lv,
                             np.minimum(lv, self._floor + self.floor_rise))
            self._floor = floor
            top = lv.max()
            for c in np.flatnonzero(lv < top - self.opt.margin_db):
                if lv[c] <= floor[c] + self.opt.floor_margin_db:
                    kind[c, f] = QUIET
                else:
                    kind[c, f] = TEST
                    pairs.extend((c, j, f) for j in np.flatnonzero(
                        lv >= lv[c] + self.opt.margin_db))
        rho = np.zeros((self.channels, F))
        if pairs:
            rho_pairs = self._coherence(frames, pairs)
            for (c, _j, f), r in zip(pairs, rho_pairs):
                rho[c, f] = max(rho[c, f], r)
        # pass 2: decisions in time order (quiet frames keep the previous one)
        gains = np.empty((self.channels, F), dtype=np.float32)
        for f in range(F):
            k = kind[:, f]
            self._open[k == LOUD] = True
            test = k == TEST
            self._open[test] = rho[test, f] < self.opt.coherence
            gains[:, f] = self._open
        self._prev = np.array(frames[:, -1, :])
        self.frames += F
        self.gated_frames += np.count_nonzero(gains == 0, axis=1)
        return raw, raw * self._gain_curve(gains)

    def _coherence(self, frames: np.ndarray, pairs: list[tuple[int, int, int]]) -> np.ndarray:
        """Peak normalised cross-correlation within ±max_lag for each (c, j, f), computed on
        40 ms windows (the frame and the one before it) so a few ms of delay still overlap."""
        c_idx, j_idx, f_idx = np.array(pairs).T
        ext = np.concatenate([self._prev[:, None, :], frames], axis=1)  # (C, F+1, L)
        used = np.zeros(frames.shape[:2], dtype=bool)
        used[c_idx, f_idx] = used[j_idx, f_idx] = True
        keys_c, keys_f = np.nonzero(used)
        row = np.full(frames.shape[:2], -1)
        row[keys_c, keys_f] = np.arange(len(keys_c))
        w = np.concatenate([ext[keys_c, keys_f], ext[keys_c, keys_f + 1]], axis=1)  # (K, 2L)
        spec = np.fft.rfft(w, self.nfft, axis=1)
        energy = np.einsum("kl,kl->k", w, w, dtype=np.float64)
        a, b = row[c_idx, f_idx], row[j_idx, f_idx]
        r = np.fft.irfft(spec[a] * np.conj(spec[b]), self.nfft, axis=1)
        m = self.max_lag
        best = np.maximum(np.abs(r[:, :m + 1]).max(axis=1), np.abs(r[:, -m:]).max(axis=1))
        norm = np.sqrt(energy[a] * energy[b])
        return np.where(norm > 0, best / np.maximum(norm, 1e-30), 0.0)

    def _gain_curve(self, gains: np.ndarray) -> np.ndarray:
        """Per-sample gain: each frame's 0/1 with a short linear ramp where it changes."""
        C, F = gains.shape
        curve = np.repeat(gains, self.L, axis=1)
        prev = self._gain
        for f in range(F):
            changed = gains[:, f] != prev
            if changed.any():
                start = f * self.L
                ramp = np.linspace(0, 1, self.ramp, endpoint=False, dtype=np.float32)
                for c in np.flatnonzero(changed):
                    curve[c, start:start + self.ramp] = prev[c] + (gains[c, f] - prev[c]) * ramp
            prev = gains[:, f]
        self._gain = gains[:, -1].copy()
        return curve
