"""The hearing simulator: a multi-channel courtroom recording built from real utterances, with a
reference that says who said what and when.

There is no openly licensed courtroom recording, so one is assembled: seats take turns (the
judge more often), with pauses, a few overlaps where two people really speak at once, each
voice bleeding into the neighbouring microphones (``bleed_db`` for the next seat, 6 dB less for
the one after, with a few ms of acoustic delay), and room noise (each mic's own hiss plus a room
tone common to all). The result replays through ``file:`` exactly like a courtroom interface.

Outputs in the target directory: ``courtroom.wav`` (PCM16, one channel per seat),
``reference.json`` and ``seats.toml`` (the seat map, device = the WAV)."""

from __future__ import annotations

import json
import os
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

from hardware.resample import ChannelResampler
from hardware.seatmap import KNOWN_ROLES, Seat, SeatMap, dump_seat_map
from media.audio import SAMPLE_RATE

SEAT_ROLES = ["judge", "secretary", "prosecution", "defence", "witness", "defendant",
              "plaintiff", "expert", "interpreter", "victim", "associate_judge", "bailiff"]
DEFAULT_SPEECH_DIR = Path(os.environ.get(
    "COURTROOM_SPEECH_DIR", Path(__file__).resolve().parents[2] / "shared" / "speech"))


@dataclass(frozen=True)
class SimOptions:
    seats: int = 4
    minutes: float = 2.0
    seed: int = 0
    bleed_db: float = -20.0  # level of a voice in the neighbouring seat's microphone
    rate: int = 48_000  # sample rate of the written WAV (courtroom interfaces run at 48 kHz)
    overlap_prob: float = 0.08  # chance that a turn starts before the previous one ended
    pause_s: tuple[float, float] = (0.4, 1.6)  # silence between turns
    noise_db: float = -62.0  # each microphone's own noise (RMS dBFS)
    room_db: float = -66.0  # room tone common to all microphones (RMS dBFS)
    speech_db: float = -22.0  # average speech level in the speaker's own mic (RMS dBFS)
    max_utterance_s: float = 30.0  # long-form recordings are left out
    langs: tuple[str, ...] = ("ru", "kk")


@dataclass(frozen=True)
class Utterance:
    seat: str
    channel: int
    start_ms: int
    end_ms: int
    text: str
    lang: str
    audio: str


def load_manifest(speech_dir: Path, opts: SimOptions) -> list[dict]:
    rows = []
    for manifest in sorted(Path(speech_dir).glob("*/manifest.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("lang") in opts.langs and r.get("duration", 0) <= opts.max_utterance_s:
                r["path"] = str(manifest.parent / r["audio"])
                rows.append(r)
    if not rows:
        raise FileNotFoundError(f"no utterances found under {speech_dir} (*/manifest.jsonl)")
    return rows


def read_mono16k(path: str) -> np.ndarray:
    with av.open(path) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        out = [f.to_ndarray()[0] for fr in c.decode(audio=0) for f in rs.resample(fr)]
        out += [f.to_ndarray()[0] for f in rs.resample(None)]
    return np.concatenate(out).astype(np.float32)


def seat_list(n: int) -> list[Seat]:
    if not 1 <= n <= 64:
        raise ValueError("seats must be 1..64")
    seats = []
    for i in range(n):
        role = SEAT_ROLES[i] if i < len(SEAT_ROLES) else "other"
        sid = role if i < len(SEAT_ROLES) else f"seat-{i + 1}"
        seats.append(Seat(seat_id=sid, channel=i + 1, role=role,
                          label=KNOWN_ROLES.get(role, sid), device=""))
    return seats


def plan_turns(rows: list[dict], seats: list[Seat], opts: SimOptions,
               rng: np.random.Generator) -> list[tuple[Seat, dict, int]]:
    """(seat, utterance row, start sample at 16 kHz) in time order."""
    total = int(opts.minutes * 60 * SAMPLE_RATE)
    # each seat keeps one voice where the material allows (the same person keeps speaking)
    by_voice: dict[str, list[dict]] = {}
    for r in rows:
        by_voice.setdefault(Path(r["audio"]).name.split("_")[0], []).append(r)
    voices = sorted(v for v, rs in by_voice.items() if len(rs) >= 10) or sorted(by_voice)
    extra = [r for v, rs in by_voice.items() if v not in voices for r in rs]
    pools = {s.seat_id: list(by_voice[voices[i % len(voices)]]) + extra
             for i, s in enumerate(seats)}
    for p in pools.values():
        rng.shuffle(p)
    used = {s.seat_id: 0 for s in seats}
    weights = np.array([3.0 if s.role == "judge" else 1.0 for s in seats])
    turns = []
    t = int(0.5 * SAMPLE_RATE)
    prev: Seat | None = None
    prev_end = t
    while t < total:
        w = weights.copy()
        if prev is not None and len(seats) > 1:
            w[seats.index(prev)] = 0
        seat = seats[int(rng.choice(len(seats), p=w / w.sum()))]
        pool = pools[seat.seat_id]
        row = None
        for _ in range(len(pool)):  # the next utterance of this voice that still fits
            cand = pool[used[seat.seat_id] % len(pool)]
            used[seat.seat_id] += 1
            if t + int(cand["duration"] * SAMPLE_RATE) <= total or not turns:
                row = cand
                break
        if row is None:
            break
        dur = int(row["duration"] * SAMPLE_RATE)
        turns.append((seat, row, t))
        prev, prev_end = seat, t + dur
        if len(seats) > 1 and rng.random() < opts.overlap_prob:
            t = prev_end - int(rng.uniform(0.5, min(2.0, row["duration"] * 0.5)) * SAMPLE_RATE)
        else:
            t = prev_end + int(rng.uniform(*opts.pause_s) * SAMPLE_RATE)
    return turns


def simulate(out_dir: str | Path, opts: SimOptions = SimOptions(),
             speech_dir: str | Path | None = None) -> dict:
    """Write courtroom.wav, reference.json and seats.toml; returns the reference."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(opts.seed)
    rows = load_manifest(Path(speech_dir or DEFAULT_SPEECH_DIR), opts)
    seats = seat_list(opts.seats)
    turns = plan_turns(rows, seats, opts, rng)
    n_ch = len(seats)
    total = max(int(opts.minutes * 60 * SAMPLE_RATE),
                max(t + int(r["duration"] * SAMPLE_RATE) for _, r, t in turns) + SAMPLE_RATE // 2)
    mix = np.zeros((n_ch, total + SAMPLE_RATE), dtype=np.float32)
    # fixed acoustic delays between seats (a few ms; neighbours are 1-2 m apart)
    delay = rng.integers(16, 80, size=(n_ch, n_ch))
    bleed = 10 ** (opts.bleed_db / 20)
    refs: list[Utterance] = []
    cache: dict[str, np.ndarray] = {}
    for seat, row, t in turns:
        x = cache.get(row["path"])
        if x is None:
            x = cache[row["path"]] = read_mono16k(row["path"])
        rms = float(np.sqrt(np.mean(x ** 2))) or 1.0
        gain = 10 ** ((opts.speech_db + rng.uniform(-3, 3)) / 20) / rms
        y = x * np.float32(gain)
        i = seat.channel - 1
        mix[i, t:t + len(y)] += y
        for j in range(n_ch):
            dist = abs(j - i)
            if dist == 0 or dist > 2:
                continue
            g = bleed * (10 ** (-6 / 20) if dist == 2 else 1.0)
            d = int(delay[min(i, j), max(i, j)]) * dist
            mix[j, t + d:t + d + len(y)] += y * np.float32(g)
        refs.append(Utterance(seat=seat.seat_id, channel=seat.channel,
                              start_ms=t * 1000 // SAMPLE_RATE,
                              end_ms=(t + len(y)) * 1000 // SAMPLE_RATE,
                              text=row["text"], lang=row["lang"], audio=row["audio"]))
    mix = mix[:, :total]
    mix += rng.standard_normal(mix.shape, dtype=np.float32) * np.float32(10 ** (opts.noise_db / 20))
    room = rng.standard_normal(total, dtype=np.float32)
    room = np.convolve(room, np.ones(8, np.float32) / np.sqrt(8), mode="same")  # duller hum
    mix += room * np.float32(10 ** (opts.room_db / 20))
    wav_path = out / "courtroom.wav"
    _write_wav(wav_path, mix, opts.rate)
    device = f"file:{wav_path.resolve()}"
    seat_map = SeatMap(name="Simulated courtroom", default_device=device,
                       seats=tuple(Seat(s.seat_id, s.channel, s.role, s.label, device)
                                   for s in seats))
    (out / "seats.toml").write_text(dump_seat_map(seat_map), encoding="utf-8")
    overlaps = sum(1 for a, b in zip(refs, refs[1:]) if b.start_ms < a.end_ms)
    reference = {
        "wav": wav_path.name, "sample_rate": opts.rate, "channels": n_ch,
        "duration_ms": total * 1000 // SAMPLE_RATE,
        "seats": [{"seat": s.seat_id, "channel": s.channel, "role": s.role, "label": s.label}
                  for s in seats],
        "options": {k: v for k, v in asdict(opts).items()},
        "overlaps": overlaps,
        "utterances": [asdict(u) for u in refs],
        "licenses": "utterances from ../shared/speech; see its README.md and LICENSES/",
    }
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    return reference


def _write_wav(path: Path, mix: np.ndarray, rate: int) -> None:
    """PCM16 WAV, written in 10 s pieces so long hearings do not need the 48 kHz copy in RAM."""
    rs = ChannelResampler(mix.shape[0], SAMPLE_RATE, rate) if rate != SAMPLE_RATE else None
    step = 10 * SAMPLE_RATE
    with wave.open(str(path), "wb") as w:
        w.setnchannels(mix.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        for i in range(0, mix.shape[1], step):
            part = mix[:, i:i + step]
            if rs is not None:
                part = rs.process(part)
            w.writeframes(_pcm16(part))
        if rs is not None:
            tail = rs.flush()
            if tail.shape[1]:
                w.writeframes(_pcm16(tail))


def _pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x.T, -1.0, 32767 / 32768) * 32768).round().astype("<i2").tobytes()
