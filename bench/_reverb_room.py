"""A reverberant courtroom, modelled independently of hardware/simulator.py so the bleed gate is
not scored on the room it was built around.

Every talker reaches every microphone: the direct sound ``neighbour_db`` down in the next seat's
mic and ``step_db`` less per further seat, a few ms later per seat, each path followed by an
exponentially decaying noise tail (a statistical late reverberation with the room's RT60) whose
level never falls below the room's diffuse field. Talkers differ in level, each mic has its own
hiss and all share a room tone (about -55 dBFS together). The room's parameters are drawn from
the seed; the utterances can be limited to one half of the speech files (``split``), so a gate
tuned on one half of the files and on some seeds can be checked on the other half and on seeds
it never saw. Output: courtroom.wav, reference.json, seats.toml, as hardware/simulator.py."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from hardware.seatmap import Seat, SeatMap, dump_seat_map
from hardware.simulator import (SimOptions, _write_wav, load_manifest, plan_turns, read_mono16k,
                                seat_list)
from media.audio import SAMPLE_RATE


@dataclass(frozen=True)
class RoomOptions:
    seats: int = 6
    minutes: float = 2.0
    seed: int = 0
    split: str = ""  # "tune" or "test": that half of the speech files (by file name); "" all
    silent_seats: int = 1  # the last seats never speak (a far seat that only hears bleed)
    rt60_s: tuple[float, float] = (0.1, 0.3)  # drawn per room
    neighbour_db: tuple[float, float] = (-14.0, -6.0)  # direct bleed into the next seat, drawn
    step_db: float = 6.0  # less per further seat
    seat_delay_ms: tuple[float, float] = (2.0, 6.0)  # acoustic delay per seat step, drawn
    tail_db: float = -6.0  # energy of each path's reverberant tail against its direct sound
    diffuse_db: float = -28.0  # the tail never falls below this against the talker's own mic
    speech_db: float = -24.0  # average talker level in their own mic (RMS dBFS) ...
    talker_spread_db: float = 6.0  # ... each seat's talker this much louder or softer
    noise_db: float = -58.0  # each mic's own hiss (RMS dBFS)
    room_db: float = -58.0  # room tone common to all mics (RMS dBFS)
    overlap_prob: float = 0.08
    pause_s: tuple[float, float] = (0.4, 1.6)
    max_utterance_s: float = 20.0
    langs: tuple[str, ...] = ("ru",)
    rate: int = 48_000


def in_split(audio: str, split: str) -> bool:
    return not split or (zlib.crc32(audio.encode()) % 2 == 0) == (split == "tune")


def impulse_responses(n: int, rng: np.random.Generator,
                      opts: RoomOptions) -> tuple[np.ndarray, dict]:
    """(source, mic, taps) at 16 kHz and the drawn room parameters."""
    rt60 = float(rng.uniform(*opts.rt60_s))
    neighbour = float(rng.uniform(*opts.neighbour_db))
    step_ms = float(rng.uniform(*opts.seat_delay_ms))
    taps = int(1.2 * rt60 * SAMPLE_RATE) + int(n * step_ms * SAMPLE_RATE / 1000) + 64
    t = np.arange(taps) / SAMPLE_RATE
    h = np.zeros((n, n, taps), np.float32)
    diffuse = 10 ** (opts.diffuse_db / 20)
    for i in range(n):
        for j in range(n):
            dist = abs(i - j)
            g = 1.0 if dist == 0 else 10 ** ((neighbour - opts.step_db * (dist - 1)) / 20)
            d = int(dist * step_ms * SAMPLE_RATE / 1000 + rng.uniform(0, 0.5) * SAMPLE_RATE / 1000)
            h[i, j, d] = g
            start = d + int(0.002 * SAMPLE_RATE)
            tail = rng.standard_normal(taps - start) * np.exp(-6.91 * t[:taps - start] / rt60)
            level = max(g, diffuse) * 10 ** (opts.tail_db / 20)
            h[i, j, start:] += tail * level / np.sqrt(np.sum(tail ** 2))
    return h, {"rt60_s": round(rt60, 3), "neighbour_db": round(neighbour, 1),
               "seat_delay_ms": round(step_ms, 2)}


def simulate_room(out_dir: str | Path, opts: RoomOptions, speech_dir: str | Path) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(opts.seed + 7919)
    sim = SimOptions(seats=opts.seats, minutes=opts.minutes, seed=opts.seed,
                     overlap_prob=opts.overlap_prob, pause_s=opts.pause_s,
                     max_utterance_s=opts.max_utterance_s, langs=opts.langs)
    rows = [r for r in load_manifest(Path(speech_dir), sim) if in_split(r["audio"], opts.split)]
    seats = seat_list(opts.seats)
    talkers = seats[:max(1, opts.seats - opts.silent_seats)]
    turns = plan_turns(rows, talkers, replace(sim, seats=len(talkers)),
                       np.random.default_rng(opts.seed))
    n = len(seats)
    h, room = impulse_responses(n, rng, opts)
    level_db = opts.speech_db + rng.uniform(-opts.talker_spread_db, opts.talker_spread_db, n)
    total = max(int(opts.minutes * 60 * SAMPLE_RATE),
                max(t + int(r["duration"] * SAMPLE_RATE) for _, r, t in turns) + SAMPLE_RATE // 2)
    mix = np.zeros((n, total + h.shape[2] + SAMPLE_RATE), np.float32)
    refs = []
    for seat, row, t in turns:
        x = read_mono16k(row["path"])
        i = seat.channel - 1
        x *= np.float32(10 ** ((level_db[i] + rng.uniform(-2, 2)) / 20)
                        / (float(np.sqrt(np.mean(x ** 2))) or 1.0))
        m = len(x) + h.shape[2] - 1
        nfft = 1 << (m - 1).bit_length()
        y = np.fft.irfft(np.fft.rfft(x, nfft)[None, :] * np.fft.rfft(h[i], nfft, axis=1),
                         nfft, axis=1)[:, :m]
        mix[:, t:t + m] += y.astype(np.float32)
        refs.append({"seat": seat.seat_id, "channel": seat.channel,
                     "start_ms": t * 1000 // SAMPLE_RATE,
                     "end_ms": (t + len(x)) * 1000 // SAMPLE_RATE,
                     "text": row["text"], "lang": row["lang"], "audio": row["audio"]})
    mix = mix[:, :total]
    mix += rng.standard_normal(mix.shape, dtype=np.float32) * np.float32(10 ** (opts.noise_db / 20))
    tone = np.convolve(rng.standard_normal(total, dtype=np.float32),
                       np.ones(16, np.float32) / 4, mode="same")
    mix += tone * np.float32(10 ** (opts.room_db / 20))
    wav = out / "courtroom.wav"
    _write_wav(wav, mix, opts.rate)
    device = f"file:{wav.resolve()}"
    (out / "seats.toml").write_text(dump_seat_map(SeatMap(
        name="Reverberant courtroom", default_device=device,
        seats=tuple(Seat(s.seat_id, s.channel, s.role, s.label, device) for s in seats))),
        encoding="utf-8")
    reference = {
        "wav": wav.name, "sample_rate": opts.rate, "channels": n,
        "duration_ms": total * 1000 // SAMPLE_RATE,
        "seats": [{"seat": s.seat_id, "channel": s.channel, "role": s.role, "label": s.label}
                  for s in seats],
        "options": {**asdict(opts), "bleed_db": room["neighbour_db"], "room": room,
                    "talker_db": [round(float(v), 1) for v in level_db]},
        "overlaps": sum(1 for a, b in zip(refs, refs[1:]) if b["start_ms"] < a["end_ms"]),
        "utterances": refs,
        "licenses": "utterances from ../shared/speech; see its README.md and LICENSES/",
    }
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    return reference
