"""Level meters and the alerts a judge needs about microphones: a dead or muted mic (silent,
or carrying nothing but mains hum, too long while the hearing is open) and clipping (someone
too close or gain too high).

A dead channel often is not silent: an unplugged or broken cable picks up mains hum (50 or
60 Hz and its harmonics) well above the silence threshold. Such a channel counts as dead when,
over a window of about a second, what is left once narrow bands around the mains harmonics are
taken out is under the silence threshold, or nearly all its energy is hum and the speech band
(300-3400 Hz) holds almost none of it. A live microphone in a quiet room carries broadband
room tone, and speech over hum keeps its speech band, so neither is flagged.

Levels are measured on the device's own samples, before resampling, so a clipped sample is
seen as it was. dBFS here is 20·log10 of the peak or RMS sample value (a full-scale sine reads
0 dBFS peak, -3 dBFS RMS); -120 stands for digital silence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR_DB = -120.0


@dataclass(frozen=True)
class MeterOptions:
    interval_ms: int = 100  # one meter event about 10 times a second
    silence_db: float = -70.0  # RMS under this counts as silent (room tone of a live mic is higher)
    #: silent (or hum only) this long during an open hearing -> alert; short enough that the
    #: judge hears of a dead seat before its words are missed (the hum test adds up to one
    #: hum_window_s, so a hum-only channel is flagged within about 9 s)
    silence_alert_s: float = 8.0
    hum_window_s: float = 1.0  # spectrum of this much audio decides "hum only" (1 Hz bins)
    mains_hz: tuple[float, ...] = (50.0, 60.0)  # mains frequencies whose harmonics are hum
    hum_width_hz: float = 3.0  # each harmonic's band is this wide either side (mains drift)
    hum_max_hz: float = 1000.0  # harmonics above this are not taken as hum
    speech_band_hz: tuple[float, float] = (300.0, 3400.0)
    hum_share: float = 0.9  # at least this share of the energy in the hum bands ...
    hum_speech_db: float = -50.0  # ... and the speech band this far under the total: hum only
    clip_level: float = 0.999  # |sample| at or above this is clipped
    clip_min_samples: int = 3  # clipped samples within one interval that make an alert
    clip_repeat_s: float = 5.0  # at most one clipping alert per channel this often


def to_db(x: np.ndarray) -> np.ndarray:
    return np.maximum(20.0 * np.log10(np.maximum(x, 1e-12)), FLOOR_DB)


def hum_only(x: np.ndarray, rate: int, opt: MeterOptions) -> np.ndarray:
    """Per channel of ``x`` (channels, n): True where the audio is mains hum and nothing else
    a microphone would pick up (see the module's docstring); digital silence is not hum."""
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    if n < rate // 10:
        return np.zeros(x.shape[0], dtype=bool)
    power = np.abs(np.fft.rfft(x * np.hanning(n), axis=1)) ** 2
    power[:, 0] = 0.0
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    hum = np.zeros(len(freqs), dtype=bool)
    for mains in opt.mains_hz:
        harmonic = np.round(freqs / mains)
        hum |= ((harmonic >= 1) & (harmonic * mains <= opt.hum_max_hz)
                & (np.abs(freqs - harmonic * mains) <= opt.hum_width_hz))
    lo, hi = opt.speech_band_hz
    speech = (freqs >= lo) & (freqs <= hi)
    total = power.sum(axis=1)
    safe = np.maximum(total, 1e-30)
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))
    rest_db = to_db(rms * np.sqrt(power[:, ~hum].sum(axis=1) / safe))
    no_speech = (power[:, speech].sum(axis=1) / safe) < 10 ** (opt.hum_speech_db / 10)
    mostly_hum = power[:, hum].sum(axis=1) / safe >= opt.hum_share
    audible = to_db(rms) >= opt.silence_db
    return audible & ((rest_db < opt.silence_db) | (mostly_hum & no_speech))


@dataclass
class _ChannelState:
    silent_samples: int = 0
    silent_alerted: bool = False
    hum: bool = False  # the last hum window held mains hum only
    last_clip_alert: float = -1e18  # device seconds
    clipped_since_alert: int = 0


class LevelMeter:
    """Accumulates blocks of one device; returns meter readings and alerts as plain dicts.

    ``channels`` lists the 0-based channel indices to meter, ``names`` the seat id of each (or
    None for an unmapped input). Time is counted in device samples so the thresholds do not
    depend on how the capture thread is scheduled."""

    def __init__(self, rate: int, channels: list[int], names: list[str | None],
                 options: MeterOptions = MeterOptions()) -> None:
        self.rate, self.channels, self.names, self.opt = rate, channels, names, options
        self.interval = max(1, rate * options.interval_ms // 1000)
        self._state = [_ChannelState() for _ in channels]
        self._peak = np.zeros(len(channels))
        self._sumsq = np.zeros(len(channels))
        self._clipped = np.zeros(len(channels), dtype=np.int64)
        self._n = 0
        self._pos = 0  # device samples seen
        self._hum_n = max(1, int(rate * options.hum_window_s))
        self._hum_blocks: list[np.ndarray] = []
        self._hum_have = 0

    def process(self, block: np.ndarray, t_ms: int, hearing_open: bool) -> tuple[
            list[dict], list[dict]]:
        """Feed one block (all device channels); returns (meter events, alerts)."""
        x = block[self.channels]
        a = np.abs(x)
        self._peak = np.maximum(self._peak, a.max(axis=1) if x.shape[1] else 0.0)
        self._sumsq += np.einsum("ij,ij->i", x, x, dtype=np.float64)
        self._clipped += np.count_nonzero(a >= self.opt.clip_level, axis=1)
        self._n += x.shape[1]
        self._pos += x.shape[1]
        self._hum_blocks.append(x)
        self._hum_have += x.shape[1]
        if self._hum_have >= self._hum_n:
            for st, hum in zip(self._state, hum_only(np.concatenate(self._hum_blocks, axis=1),
                                                     self.rate, self.opt)):
                st.hum = bool(hum)
            self._hum_blocks, self._hum_have = [], 0
        meters: list[dict] = []
        alerts: list[dict] = []
        if self._n < self.interval:
            return meters, alerts
        peak_db = to_db(self._peak)
        rms_db = to_db(np.sqrt(self._sumsq / self._n))
        meters.append({"type": "meters", "t_ms": t_ms, "channels": [
            {"channel": c + 1, "seat": name, "peak_dbfs": round(float(p), 1),
             "rms_dbfs": round(float(r), 1)}
            for c, name, p, r in zip(self.channels, self.names, peak_db, rms_db)]})
        now_s = self._pos / self.rate
        for i, (c, name) in enumerate(zip(self.channels, self.names)):
            st = self._state[i]
            where = {"channel": c + 1, "seat": name, "t_ms": t_ms}
            silent = rms_db[i] < self.opt.silence_db
            if silent or st.hum:
                st.silent_samples += self._n
                if (hearing_open and not st.silent_alerted
                        and st.silent_samples >= self.opt.silence_alert_s * self.rate):
                    st.silent_alerted = True
                    what = "silent" if silent else "carried only mains hum"
                    alerts.append({"type": "alert", "kind": "silent", **where,
                                   "silent_s": round(st.silent_samples / self.rate, 1),
                                   "hum": not silent,
                                   "message": f"input {c + 1} ({name or 'unmapped'}) has "
                                   f"{'been ' if silent else ''}{what} for "
                                   f"{st.silent_samples / self.rate:.0f} s: "
                                   "microphone dead, muted or unplugged?"})
            else:
                if st.silent_alerted:
                    alerts.append({"type": "alert", "kind": "silence_cleared", **where,
                                   "message": f"input {c + 1} ({name or 'unmapped'}) is live again"})
                st.silent_samples, st.silent_alerted = 0, False
            if self._clipped[i] >= self.opt.clip_min_samples:
                st.clipped_since_alert += int(self._clipped[i])
                if hearing_open and now_s - st.last_clip_alert >= self.opt.clip_repeat_s:
                    alerts.append({"type": "alert", "kind": "clipping", **where,
                                   "clipped_samples": st.clipped_since_alert,
                                   "peak_dbfs": round(float(peak_db[i]), 1),
                                   "message": f"input {c + 1} ({name or 'unmapped'}) is clipping: "
                                   "lower the gain or move the microphone away"})
                    st.last_clip_alert, st.clipped_since_alert = now_s, 0
        self._peak[:] = 0
        self._sumsq[:] = 0
        self._clipped[:] = 0
        self._n = 0
        return meters, alerts
