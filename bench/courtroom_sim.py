"""End-to-end courtroom check: simulate a hearing, replay it through capture -> asr -> segments,
and score who said what.

    python bench/courtroom_sim.py --dataset DIR --json OUT.json [--seats 8 --minutes 3]

If DIR has no reference.json a hearing is simulated there first: by the project's simulator
(hardware/simulator.py), or with ``--room reverb`` by an independent reverberant room
(bench/_reverb_room.py: every seat hears every talker, 6 dB less per seat, late, with a
reverberant tail; room noise about -55 dBFS; talkers of different levels; the room drawn
from ``--seed``). ``--split tune|test`` takes one half of the speech files: tune on ``tune``
and seeds below 100, check on ``test`` and seeds from 100. Figures printed:

- ``wer``: per seat, the reference utterances of that seat against its final segments, in time
  order (so a word on the wrong seat counts as an error too); ``baseline_wer`` is the same
  utterances, clean, each replayed alone through one stream the way bench/asr_stream.py does
  (its single-stream figure), in the same run.
- ``attribution_accuracy``: of the reference words the transcript recognised (aligned hits),
  the share recognised in a segment of the right seat.
- ``duplicate_segments``: final segments of a seat that did not speak then (bleed), and
  ``unexplained_segments``: finals where nobody spoke at all; together
  ``silent_seat_segments``, and ``wer_without_silent_seat_segments`` is ``wer`` without them
  (the seats' own turns alone).
- ``own_seat_recall``: of the reference words, the share recognised on the speaker's own seat.
- ``capture_cpu_core_share``: capture thread CPU per second of audio (1.0 = one core).
- gate figures from the reference alone (no Whisper needed): own speech kept, bleed let through.

Nothing here passes or fails: it prints figures and ratios against the baseline of the run."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware.bleed import BleedOptions  # noqa: E402
from hardware.capture import Capture, CaptureOptions  # noqa: E402
from hardware.seatmap import load_seat_map  # noqa: E402
from hardware.simulator import SimOptions, read_mono16k, simulate  # noqa: E402
from media.audio import AudioChunk  # noqa: E402
from media.clock import HearingClock  # noqa: E402

FRAME = 320  # 20 ms at 16 kHz

# ---------------------------------------------------------------- scoring (README's rules)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _asr_score import normalize  # noqa: E402  (the asr benchmark's normalisation)


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    import jiwer
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        return 0.0
    out = jiwer.process_words([r for r, _ in pairs], [h for _, h in pairs])
    return float(out.wer)


def hits(ref: str, hyp: str) -> int:
    import jiwer
    if not ref or not hyp:
        return 0
    return int(jiwer.process_words(ref, hyp).hits)


# ---------------------------------------------------------------- gate check (no Whisper)
class FrameLevels:
    """Per-seat 20 ms frame energies of the raw and the gated feed."""

    def __init__(self) -> None:
        self.raw: dict[str, list[np.ndarray]] = defaultdict(list)
        self.gated: dict[str, list[np.ndarray]] = defaultdict(list)
        self.start: dict[str, int] = {}

    @staticmethod
    def _frames(x: np.ndarray) -> np.ndarray:
        n = len(x) // FRAME
        return (x[:n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2).mean(axis=1)

    def add(self, chunk: AudioChunk, gated: bool) -> None:
        self.start.setdefault(chunk.source_id, chunk.start_ms)
        (self.gated if gated else self.raw)[chunk.source_id].append(self._frames(chunk.samples))


def gate_report(levels: FrameLevels, ref: dict, origin_ms: int) -> dict:
    seats = [s["seat"] for s in ref["seats"]]
    kept = kept_n = leak = leak_n = 0
    per_seat = {}
    for seat in seats:
        sid = f"seat:{seat}"
        if sid not in levels.raw:
            continue
        raw = np.concatenate(levels.raw[sid])
        gated = np.concatenate(levels.gated[sid])
        n = min(len(raw), len(gated))
        raw, gated = raw[:n], gated[:n]
        t0 = (levels.start[sid] - origin_ms) // 20
        speaking = np.zeros(n, bool)
        for u in ref["utterances"]:
            if u["seat"] == seat:
                speaking[max(0, u["start_ms"] // 20 - t0):max(0, u["end_ms"] // 20 - t0)] = True
        raw_db = 10 * np.log10(np.maximum(raw, 1e-14))
        floor = np.percentile(raw_db, 10)
        active = raw_db > floor + 10  # someone audible in this mic (own voice or bleed)
        is_open = gated >= 0.5 * raw
        own = speaking & active
        bleed = ~speaking & active
        kept += int((is_open & own).sum())
        kept_n += int(own.sum())
        leak += int((is_open & bleed).sum())
        leak_n += int(bleed.sum())
        per_seat[seat] = {"own_kept": round(float((is_open & own).sum() / max(1, own.sum())), 4),
                          "bleed_passed": round(float((is_open & bleed).sum()
                                                      / max(1, bleed.sum())), 4)}
    return {"gate_own_speech_kept": round(kept / max(1, kept_n), 4),
            "gate_bleed_passed": round(leak / max(1, leak_n), 4),
            "gate_frames_own": kept_n, "gate_frames_bleed": leak_n, "gate_per_seat": per_seat}


# ---------------------------------------------------------------- transcript scoring
def score(ref: dict, finals: list) -> dict:
    utts = ref["utterances"]
    by_seat_ref: dict[str, list[dict]] = defaultdict(list)
    for u in utts:
        by_seat_ref[u["seat"]].append(u)
    by_seat_hyp: dict[str, list] = defaultdict(list)
    for ev in finals:
        by_seat_hyp[ev.source_id.removeprefix("seat:")].append(ev)
    def seat_wer(skip: set[int]) -> float:
        pairs = []
        for s in ref["seats"]:
            seat = s["seat"]
            r = " ".join(normalize(u["text"], u["lang"]) for u in sorted(
                by_seat_ref[seat], key=lambda u: u["start_ms"]))
            h = " ".join(normalize(e.text) for e in sorted(by_seat_hyp[seat],
                                                            key=lambda e: e.start_ms)
                         if id(e) not in skip)
            pairs.append((r, h))
        return corpus_wer(pairs)

    def own_speech(seat: str, t: float) -> bool:
        return any(u["start_ms"] - 300 <= t <= u["end_ms"] + 300 for u in by_seat_ref[seat])

    words = []  # (mid_ms, seat, normalized word text)
    for ev in finals:
        seat = ev.source_id.removeprefix("seat:")
        for w in ev.words:
            t = normalize(w.text)
            if t:
                words.append(((w.start_ms + w.end_ms) / 2, seat, t))
    words.sort()
    right = total = ref_words = 0
    for u in utts:
        lo, hi = u["start_ms"] - 300, u["end_ms"] + 300
        inside = [(t, s, w) for t, s, w in words if lo <= t <= hi]
        mine = " ".join(w for _, s, w in inside if s == u["seat"])
        # words of another seat that its own speech explains (a real overlap) are not ours
        candidates = " ".join(w for t, s, w in inside
                              if s == u["seat"] or not own_speech(s, t))
        r = normalize(u["text"], u["lang"])
        right += hits(r, mine)
        total += max(hits(r, candidates), hits(r, mine))
        ref_words += len(r.split())
    dup = unexplained = 0
    dup_examples: list[dict] = []
    silent: set[int] = set()
    unexplained_examples: list[dict] = []
    for ev in finals:
        seat = ev.source_id.removeprefix("seat:")
        length = max(1, ev.end_ms - ev.start_ms)
        own = sum(max(0, min(ev.end_ms, u["end_ms"]) - max(ev.start_ms, u["start_ms"]))
                  for u in by_seat_ref[seat])
        if own >= 0.5 * length or not normalize(ev.text):
            continue
        silent.add(id(ev))
        other = any(min(ev.end_ms, u["end_ms"]) > max(ev.start_ms, u["start_ms"])
                    for u in utts if u["seat"] != seat)
        if other:
            dup += 1
            dup_examples.append({"seat": seat, "start_ms": ev.start_ms, "end_ms": ev.end_ms,
                                 "text": ev.text})
        else:
            unexplained += 1
            unexplained_examples.append({"seat": seat, "start_ms": ev.start_ms,
                                         "end_ms": ev.end_ms, "text": ev.text})
    per_utt = []
    for u in utts:
        mine = " ".join(w for t, s, w in words
                        if s == u["seat"] and u["start_ms"] - 300 <= t <= u["end_ms"] + 300)
        per_utt.append(mine)
    return {"per_utterance_hyps": per_utt,
            "wer": round(seat_wer(set()), 4),
            "wer_without_silent_seat_segments": round(seat_wer(silent), 4),
            "own_seat_recall": round(right / max(1, ref_words), 4),
            "silent_seat_segments": len(silent),
            "attribution_accuracy": round(right / max(1, total), 4),
            "attributed_hits": right, "recognised_hits": total,
            "duplicate_segments": dup, "unexplained_segments": unexplained,
            "final_segments": len(finals), "duplicate_examples": dup_examples[:5],
            "unexplained_examples": unexplained_examples[:5]}


# ---------------------------------------------------------------- runs
async def run_capture(dataset: Path, speed: float, scheduler=None, language: str = "ru",
                      levels: FrameLevels | None = None, gate: bool = True,
                      keep: dict | None = None) -> tuple[Capture, list, dict]:
    seat_map = load_seat_map(dataset / "seats.toml")
    device = f"{seat_map.default_device}?speed={speed:g}"
    clock = HearingClock.starting_now()
    finals: list = []
    streams: dict = {}
    alerts: list[dict] = []

    def on_event(ev) -> None:
        if ev.kind == "final":
            finals.append(ev)

    if scheduler is not None:
        from asr.stream import StreamOptions
        for seat in seat_map.seats:
            streams[seat.source_id] = scheduler.open_stream(
                seat.source_id, StreamOptions(language=language), on_event)

    cap: Capture

    def on_chunk(c: AudioChunk) -> None:
        if levels is not None:
            levels.add(c, gated=True)
        if keep is not None:
            keep.setdefault(c.source_id, []).append(c.samples)
        s = streams.get(c.source_id)
        if s is not None:
            s.feed(c.start_ms - cap.origin_ms, c.samples)

    def on_record(c: AudioChunk) -> None:
        if levels is not None:
            levels.add(c, gated=False)

    cap = Capture(device, seat_map, clock, on_chunk=on_chunk, on_alert=alerts.append,
                  on_record=on_record if levels is not None else None,
                  options=CaptureOptions(backpressure=speed == 0,
                                         bleed=BleedOptions(enabled=gate)))
    await cap.start()
    await cap.wait_ended()
    await cap.stop()
    for s in streams.values():
        await s.close()
    return cap, finals, {"alerts": [a["kind"] for a in alerts]}


async def run_rtp_cpu(dataset: Path, ref: dict, seconds: float = 20.0) -> float:
    """Capture CPU for the same courtroom arriving as AES67-style RTP (L24, 1 ms packets)."""
    import socket

    from hardware.readers import FileReplayReader
    from hardware.rtp import RtpFormat, RtpSender
    from hardware.seatmap import default_seat_map

    reader = FileReplayReader(str(dataset / ref["wav"]), speed=0, block_ms=1000)
    reader.open()
    parts = []
    while sum(p.shape[1] for p in parts) < seconds * reader.rate:
        b = reader.read()
        if b is None:
            break
        parts.append(b.samples)
    reader.close()
    audio = np.concatenate(parts, axis=1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    fmt = RtpFormat(channels=audio.shape[0], rate=reader.rate, encoding="L24")
    url = f"rtp://127.0.0.1:{port}?channels={fmt.channels}&rate={fmt.rate}&encoding=L24"
    cap = Capture(url, default_seat_map(fmt.channels, url), HearingClock.starting_now(),
                  on_chunk=lambda c: None, on_record=lambda c: None)
    await cap.start()
    await asyncio.sleep(0.2)
    sender = RtpSender("127.0.0.1", port, fmt, ptime_ms=1.0)
    await asyncio.get_running_loop().run_in_executor(None, sender.send, audio)
    await asyncio.sleep(0.5)
    await cap.stop()
    sender.close()
    return cap.stats["cpu_seconds"] / max(1e-9, cap.stats["device_seconds"])


async def run_baseline(ref: dict, speech_dir: Path, scheduler, language: str) -> dict:
    """The asr benchmark's single-stream figure on the same utterances: each clean utterance
    replayed alone through one stream (bench/_asr_replay.simulate), scored per file."""
    from _asr_replay import simulate as replay_one
    from _asr_score import wer

    from asr.stream import StreamOptions
    rows = {}
    for manifest in speech_dir.glob("*/manifest.jsonl"):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows[r["audio"]] = manifest.parent / r["audio"]
    refs, hyps = [], []
    loop = asyncio.get_running_loop()
    for i, u in enumerate(ref["utterances"]):
        audio = read_mono16k(str(rows[u["audio"]]))
        rep = await loop.run_in_executor(None, replay_one, scheduler.decoder, audio,
                                         StreamOptions(language=language), f"u{i}")
        refs.append(normalize(u["text"], u["lang"]))
        hyps.append(normalize(" ".join(e.text for e in sorted(rep.finals(),
                                                              key=lambda e: e.start_ms))))
    return {"baseline_wer": round(wer(refs, hyps), 4), "baseline_hyps": hyps}


async def run_seats_simulated(ref: dict, audio: dict, scheduler, language: str) -> float:
    """Each seat's captured (gated) channel through the asr benchmark's simulated-clock replay:
    the courtroom's audio under the baseline's compute conditions, so a difference from the
    baseline is the audio's (capture, bleed, noise, overlaps) and not the machine's load."""
    from _asr_replay import simulate as replay_one

    from asr.stream import StreamOptions
    loop = asyncio.get_running_loop()
    pairs = []
    for s in ref["seats"]:
        seat = s["seat"]
        r = " ".join(normalize(u["text"], u["lang"]) for u in sorted(
            (u for u in ref["utterances"] if u["seat"] == seat), key=lambda u: u["start_ms"]))
        x = np.concatenate(audio.get(f"seat:{seat}", [np.zeros(0, np.float32)]))
        rep = await loop.run_in_executor(None, replay_one, scheduler.decoder, x,
                                         StreamOptions(language=language), seat)
        pairs.append((r, " ".join(normalize(e.text) for e in sorted(
            rep.finals(), key=lambda e: e.start_ms))))
    return round(corpus_wer(pairs), 4)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--seats", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bleed-db", type=float, default=-20.0)
    ap.add_argument("--room", choices=("simple", "reverb"), default="simple",
                    help="simple: hardware/simulator.py; reverb: bench/_reverb_room.py")
    ap.add_argument("--split", choices=("tune", "test"), default=None,
                    help="reverb room: that half of the speech files")
    ap.add_argument("--silent-seats", type=int, default=1,
                    help="reverb room: the last seats never speak")
    ap.add_argument("--lang", default="ru", help="utterance language(s) of a new dataset, "
                    "and the streams' language (ru, kk, kk+ru)")
    ap.add_argument("--speed", type=float, default=1.0, help="replay pace (1 = real time)")
    ap.add_argument("--speech-dir", type=Path, default=None)
    ap.add_argument("--no-asr", action="store_true", help="capture and gate figures only")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--max-batch", type=int, default=None,
                    help="asr SchedulerOptions.max_batch (default: the engine's)")
    ap.add_argument("--no-gate", action="store_true", help="feed asr every channel ungated "
                    "(shows what the bleed gate prevents)")
    args = ap.parse_args()

    from hardware.simulator import DEFAULT_SPEECH_DIR
    speech_dir = args.speech_dir or DEFAULT_SPEECH_DIR
    if not (args.dataset / "reference.json").exists() and args.room == "reverb":
        from _reverb_room import RoomOptions, simulate_room
        simulate_room(args.dataset, RoomOptions(seats=args.seats, minutes=args.minutes,
                                                seed=args.seed, split=args.split or "",
                                                silent_seats=args.silent_seats,
                                                langs=tuple(args.lang.split("+"))), speech_dir)
    elif not (args.dataset / "reference.json").exists():
        simulate(args.dataset, SimOptions(seats=args.seats, minutes=args.minutes, seed=args.seed,
                                          bleed_db=args.bleed_db,
                                          langs=tuple(args.lang.split("+"))),
                 speech_dir=speech_dir)
    ref = json.loads((args.dataset / "reference.json").read_text(encoding="utf-8"))
    out: dict = {"dataset": str(args.dataset), "channels": ref["channels"],
                 "sample_rate": ref["sample_rate"], "minutes": round(ref["duration_ms"] / 60000, 2),
                 "utterances": len(ref["utterances"]), "overlaps": ref["overlaps"],
                 "bleed_db": ref["options"]["bleed_db"], "room": ref["options"].get("room")}

    # 1. capture alone, unpaced: CPU of the pipeline and the gate against the reference
    levels = FrameLevels()
    gated_audio: dict[str, list[np.ndarray]] = {}
    cap, _, info = await run_capture(args.dataset, 0, levels=levels, gate=not args.no_gate,
                                     keep=gated_audio)
    out["capture_cpu_core_share_unpaced"] = round(
        cap.stats["cpu_seconds"] / cap.stats["device_seconds"], 4)
    out.update(gate_report(levels, ref, cap.origin_ms))
    print(f"capture alone: {out['capture_cpu_core_share_unpaced'] * 100:.2f} % of a core for "
          f"{ref['channels']} ch at {ref['sample_rate']} Hz; gate keeps "
          f"{out['gate_own_speech_kept'] * 100:.1f} % of own-speech frames, passes "
          f"{out['gate_bleed_passed'] * 100:.2f} % of bleed frames", flush=True)

    out["capture_cpu_core_share_rtp_l24"] = round(await run_rtp_cpu(args.dataset, ref), 4)
    print(f"capture of the same channels as RTP L24 (1 ms packets): "
          f"{out['capture_cpu_core_share_rtp_l24'] * 100:.2f} % of a core", flush=True)

    asr_ok = not args.no_asr
    if asr_ok:
        try:
            from asr.scheduler import Scheduler
        except ImportError as e:
            print(f"asr not available ({e}): capture and gate figures only")
            asr_ok = False
    if asr_ok:
        from asr.scheduler import SchedulerOptions
        sched_opts = SchedulerOptions()
        if args.max_batch:
            sched_opts = dataclasses.replace(sched_opts, max_batch=args.max_batch)
        out["asr_max_batch"] = sched_opts.max_batch
        scheduler = Scheduler(sched_opts)
        await scheduler.start()
        t = time.monotonic()
        cap, finals, info = await run_capture(args.dataset, args.speed, scheduler, args.lang,
                                              gate=not args.no_gate)
        out["bleed_gate"] = not args.no_gate
        out["replay_wall_s"] = round(time.monotonic() - t, 1)
        out["capture_cpu_core_share"] = round(
            cap.stats["cpu_seconds"] / cap.stats["device_seconds"], 4)
        out.update(score(ref, finals))
        out["asr_metrics"] = scheduler.metrics()
        if not args.no_baseline:
            out.update(await run_baseline(ref, Path(speech_dir), scheduler, args.lang))
            out["wer_ratio_to_baseline"] = round(out["wer"] / max(1e-9, out["baseline_wer"]), 3)
            out["wer_courtroom_audio_simulated_clock"] = await run_seats_simulated(
                ref, gated_audio, scheduler, args.lang)
            out["per_utterance"] = [
                {"seat": u["seat"], "start_ms": u["start_ms"], "end_ms": u["end_ms"],
                 "ref": normalize(u["text"], u["lang"]), "courtroom": h, "baseline": b}
                for u, h, b in zip(ref["utterances"], out.pop("per_utterance_hyps"),
                                   out.pop("baseline_hyps"))]
        out.pop("per_utterance_hyps", None)
        await scheduler.stop()
    text = json.dumps(out, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
