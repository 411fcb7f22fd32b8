"""The bleed gate: one voice heard by several microphones must become one segment, on the seat
of the person who spoke.

A seat's frame goes to transcription only when that seat's own talker is present: when its mic
holds energy that the other mics cannot explain. Per 20 ms frame and per frequency band each
mic's power is compared with the bleed predicted from every other mic (their power times the
room's coupling from that mic to this one), on a longer window (``window_ms``, so a
reverberant tail that outlasts the direct sound in the talker's mic does not look like a new
voice in the others) and on the frame itself (so a seat whose talker just stopped does not keep
passing the next talker's first words on the strength of its own fading window). Both must show
energy ``excess_db`` above the prediction, in total clearly above the mic's noise floor and, to
open a closed seat, in more than one band (a voice is broadband; a reverberant tail can beat the
prediction in one band where the room's response happens to dip in the talker's mic). The
bands start at 300 Hz: below that, room modes and the reverberant low end make the ratio between
two mics swing too widely to tell a voice from its bleed.

The couplings are learned from the room: whenever one mic is clearly the loudest, the ratio of
every other mic's power to it is a sample of the bleed; each coupling follows lower samples
quickly and higher ones slowly, because a higher sample usually means a second person speaking
(who must not teach the gate that the room bleeds more). Until the room has taught it, the gate
assumes strong bleed (``coupling_prior_db``) and starts closed, and a frame near the noise floor
never opens it: it only keeps a seat open for ``hang_ms`` after its own speech (the pauses
between words). Two people really speaking at once both stay, each being loud in their own mic
beyond what the other explains; in the bands where the softer one's voice differs from the
louder one's (pitch, formants) it stands out even when it is quieter overall.

State is a few arrays per channel and a channels × channels × bands coupling table; each frame
costs one small FFT per channel and a few array operations. The recorder never sees this: it
gets every channel untouched."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from media.audio import SAMPLE_RATE

BAND_EDGES_HZ = (300, 600, 1000, 1800, 3000, 5000, 8000)


@dataclass(frozen=True)
class BleedOptions:
    enabled: bool = True
    frame_ms: int = 20  # decision granularity
    window_ms: float = 150.0  # time constant of the longer window the energies are compared on
    excess_db: float = 8.0  # own speech: this far above the bleed the other mics explain
    floor_margin_db: float = 6.0  # ... with the unexplained energy this far above the noise floor
    min_bands: int = 2  # ... in at least this many bands to open a closed seat
    floor_rise_db_s: float = 1.0  # how fast the noise-floor estimate may climb
    coupling_prior_db: float = -3.0  # bleed assumed between any two mics before it is learned
    coupling_fall: float = 0.1  # share of the way to a lower observed coupling taken per frame
    coupling_rise_db_s: float = 1.0  # how fast a coupling may climb (slow: double talk)
    learn_snr_db: float = 15.0  # a mic teaches couplings only this far above its noise floor
    hang_ms: float = 300.0  # a seat stays open over quiet frames this long after own speech
    grace_ms: float = 40.0  # ... and over frames the others explain, if no longer than this
    ramp_ms: float = 5.0  # gain changes are ramped over this to avoid clicks


class BleedGate:
    """Processes sample-aligned 16 kHz blocks of the channels of one device.

    ``process`` returns ``(raw, gated)`` of the same length (whole frames; the remainder waits
    for the next block), so both are delayed identically and keep the same timestamps."""

    def __init__(self, channels: int, options: BleedOptions = BleedOptions(),
                 rate: int = SAMPLE_RATE) -> None:
        o = self.opt = options
        self.channels = channels
        self.L = rate * o.frame_ms // 1000
        hz = np.fft.rfftfreq(self.L, 1 / rate)
        self._bins = [(int(np.searchsorted(hz, lo)), int(np.searchsorted(hz, hi)))
                      for lo, hi in zip(BAND_EDGES_HZ, BAND_EDGES_HZ[1:])
                      if np.searchsorted(hz, lo) < np.searchsorted(hz, hi)]
        B = len(self._bins)
        self._long = float(np.exp(-o.frame_ms / o.window_ms))
        self._floor_rise = 10 ** (o.floor_rise_db_s * o.frame_ms / 1000 / 10)
        self._excess = 10 ** (o.excess_db / 10)
        self._margin = 10 ** (o.floor_margin_db / 10)
        self._learn = 10 ** (o.learn_snr_db / 10)
        self._rise_db = o.coupling_rise_db_s * o.frame_ms / 1000
        self._hang = int(round(o.hang_ms / o.frame_ms))
        self._grace = int(o.grace_ms // o.frame_ms)
        self.ramp = max(1, int(rate * o.ramp_ms / 1000))
        self._carry = np.zeros((channels, 0), np.float32)
        self._S = np.zeros((channels, B))  # band power on the longer window
        self._p_prev = np.zeros((channels, B))  # previous frame's band power (acoustic delay)
        self._floor = np.full((channels, B), np.nan)  # band noise floor (of S)
        self._coupling_db = np.full((channels, channels, B), o.coupling_prior_db)  # [from, to, b]
        self._coupling_db[np.arange(channels), np.arange(channels)] = -np.inf
        self._learned = np.eye(channels, dtype=bool)
        self._hang_left = np.zeros(channels, dtype=np.int64)
        self._explained = np.zeros(channels, dtype=np.int64)  # frames in a row explained as bleed
        self._gain = np.zeros(channels, dtype=np.float32)  # closed until a seat's talker shows
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
        spec = np.fft.rfft(raw.reshape(self.channels, F, self.L), axis=2)
        pw = spec.real ** 2 + spec.imag ** 2
        bands = np.stack([pw[:, :, a:b].sum(axis=2) for a, b in self._bins], axis=2) + 1e-12
        gains = np.empty((self.channels, F), dtype=np.float32)
        for f in range(F):
            gains[:, f] = self._decide(bands[:, f])
        self.frames += F
        self.gated_frames += np.count_nonzero(gains == 0, axis=1)
        return raw, raw * self._gain_curve(gains)

    def _decide(self, p: np.ndarray) -> np.ndarray:
        """One frame's band powers (channels, bands) -> which channels are open."""
        a = self._long
        if np.isnan(self._floor[0, 0]):
            self._S, self._floor = p.copy(), p.copy()
        S = self._S = a * self._S + (1 - a) * p
        floor = self._floor = np.minimum(S, self._floor * self._floor_rise)
        coupling = 10 ** (self._effective_coupling_db() / 10)
        pred_long = floor + self._bleed(coupling, S)
        pred_short = floor + self._bleed(coupling, np.maximum(p, self._p_prev))
        self._p_prev = p
        noise = self._margin * floor.sum(axis=1)
        # opening a closed seat takes a broadband voice; an open one stays on fewer bands
        bands = np.where(self._hang_left > 0, 1, self.opt.min_bands)
        own_long = self._unexplained(S, pred_long, floor, noise, bands)
        own = own_long & self._unexplained(p, pred_short, floor, noise, bands)
        quiet = p.sum(axis=1) <= noise
        # a frame or two that the others explain inside a seat's own speech (a fading syllable
        # against the room's tail) is let through; more than that is the next talker's bleed
        self._explained = np.where(own | quiet, 0, self._explained + 1)
        keep = quiet | (own_long & (self._explained <= self._grace))
        self._hang_left = np.where(own, self._hang,
                                   np.where(keep, np.maximum(self._hang_left - 1, 0), 0))
        self._learn_coupling(S, floor)
        return own | (keep & (self._hang_left > 0))

    def _unexplained(self, power: np.ndarray, pred: np.ndarray, floor: np.ndarray,
                     noise: np.ndarray, bands: np.ndarray) -> np.ndarray:
        """Per channel: energy beyond ``excess`` times the predicted bleed, clearly above the
        noise in total and in at least ``bands`` bands."""
        extra = power - self._excess * pred
        above = np.count_nonzero(extra > self._margin * floor, axis=1)
        return (np.maximum(extra, 0).sum(axis=1) > noise) & (above >= bands)

    @staticmethod
    def _bleed(coupling: np.ndarray, power: np.ndarray) -> np.ndarray:
        """Bleed each mic receives from the others: what each other mic holds beyond this mic's
        own voice coming back to it (else a talker's voice, heard by a near mic, would be
        predicted as bleed into their own), times the coupling from there."""
        echo = coupling.transpose(1, 0, 2) * power[:, None, :]  # [c, j]: c's voice in mic j
        rest = np.maximum(power[None, :, :] - echo, 0)  # [c, j]: mic j beyond c's voice
        return np.einsum("jcb,cjb->cb", coupling, rest)

    def _effective_coupling_db(self) -> np.ndarray:
        """Learned couplings; one not yet learned borrows the reverse direction's (two mics
        hear each other about equally), else the prior."""
        g = self._coupling_db
        if self._learned.all():
            return g
        return np.where(self._learned[:, :, None], g,
                        np.where(self._learned.T[:, :, None], g.transpose(1, 0, 2), g))

    def _learn_coupling(self, S: np.ndarray, floor: np.ndarray) -> None:
        """The mic furthest above its noise floor, if clearly so, gives one sample of its bleed
        into every other mic, in the bands where it is itself well above its floor."""
        j = int(np.argmax(S.sum(axis=1) / floor.sum(axis=1)))
        if S[j].sum() < self._learn * floor[j].sum():
            return
        band_ok = S[j] >= self._learn * floor[j]
        # bleed hidden under a mic's noise only bounds the coupling: it is at most floor / S[j]
        seen_db = 10 * np.log10(np.maximum(S - floor, floor) / S[j])
        g = self._coupling_db[j]
        step = np.where(seen_db < g, self.opt.coupling_fall * (seen_db - g), self._rise_db)
        step[j] = 0
        g += np.where(band_ok, step, 0)
        self._learned[j] |= band_ok.any()
        np.clip(g, -80.0, 0.0, out=g)
        g[j] = -np.inf

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
