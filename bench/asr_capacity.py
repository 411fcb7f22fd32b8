"""Live transcription capacity: how many real-time sources one scheduler keeps up with.

    python bench/asr_capacity.py --dataset ../shared/speech/ru-dev --streams 1,4 \
        --seconds 60 [--second-pass on] [--courtroom] [--policy old,new] [--clock wall] \
        [--json OUT.json]

Every stream speaks for the whole run: ru-dev files, a different set per stream, are joined
one after another (0.3 s apart, as one reader going on), so no stream is silent padding. The
streams go through the project's ``Scheduler`` (the server's path) in 100 ms chunks, at real
time on one of two clocks:

- ``simulated`` (default): one inference thread; audio arrives as a simulated clock passes its
  end, and each decode batch moves the clock on by the CPU time it took: what a core of its
  own would give, with the other core left to the VAD, capture and the server. A shared,
  busy machine slows the run down but hardly changes its figures.
- ``wall``: the wall clock and the scheduler's own threads, as in the server; on a shared
  machine the latencies grow with the others' load (the load average is printed).

``--courtroom`` adds an 8-seat room (bench/_reverb_room.py: every seat hears every talker with
a reverberant tail, room noise everywhere; one or two talking at a time, two seats never),
each seat's channel through the capture's bleed gate as the server feeds it (``--no-gate``:
every seat hears the room, the worst case for the VAD).

Figures per run: final latency p50/p95 (from the end of a final's last word being fed to its
delivery), lag p95, partials per stream-second, process CPU seconds per second of one stream
(``cpu_per_stream_s``) and ``capacity_estimate`` = cores / that. The profile says where the
time goes: encoder, language detection, generation, word alignment (CPU seconds of those calls),
VAD, and the rest (features, Python); batch sizes and streams per batch; forced prefix and new
tokens per request (each is one decoder step); model time per job kind. ``--policy old,new``
runs the scheduler without and with early partials in one process; ``--policy one-lane,new
--clock wall`` with one decode lane (the model on every core) and with ``--lanes`` of them
(default: the server's ``asr_lanes``, two on two cores, each on its share of them);
``--policy unhurried,new`` without and with hurried finals (``SchedulerOptions.hurry_finals``:
a final due while another decodes or waits is decoded without the previous segment's
audio). The first run is the baseline: ratios are against it. Nothing passes or fails here."""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _asr_replay import read_wav  # noqa: E402

from asr import SAMPLE_RATE  # noqa: E402
from asr.model import ModelOptions  # noqa: E402
from asr.scheduler import Scheduler, SchedulerOptions  # noqa: E402
from asr.stream import StreamOptions  # noqa: E402
from asr.vad import StreamingVad  # noqa: E402

CHUNK = SAMPLE_RATE // 10  # 100 ms
GAP = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


# ---------------------------------------------------------------- where the time goes
class Phases:
    """Wall and process-CPU seconds per named phase (calls from the inference thread)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = collections.defaultdict(float)
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)
        self.lock = threading.Lock()

    def add(self, name: str, wall: float, cpu: float) -> None:
        with self.lock:
            self.wall[name] += wall
            self.cpu[name] += cpu
            self.calls[name] += 1

    def timed(self, name: str, fn):
        def run(*a, **kw):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                self.add(name, time.perf_counter() - t0, time.process_time() - c0)
        return run


class TimedWhisper:
    """Stands in for the ctranslate2 model inside the Decoder, timing each call."""

    def __init__(self, whisper, phases: Phases) -> None:
        self._w = whisper
        for name in ("encode", "detect_language", "generate", "align"):
            setattr(self, name, phases.timed(name, getattr(whisper, name)))

    def __getattr__(self, name):
        return getattr(self._w, name)


class TokenLog:
    """Decoder steps per request: forced prefix tokens (one step each) and new tokens."""

    def __init__(self) -> None:
        self.prefix: list[int] = []
        self.new: list[int] = []

    def wrap(self, decoder) -> None:
        orig = decoder.decode

        def decode(requests):
            results = orig(requests)
            self.prefix += [len(r.prefix_tokens) for r in requests]
            self.new += [r.n_new_tokens for r in results]
            return results
        decoder.decode = decode

    def summary(self) -> dict:
        return {"mean_prefix_tokens": round(float(np.mean(self.prefix)), 1) if self.prefix
                else None,
                "mean_new_tokens": round(float(np.mean(self.new)), 1) if self.new else None}


class VadTimer:
    """VAD CPU (Silero runs single-threaded in the caller: thread time is its own)."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.frames = 0
        self._orig = StreamingVad.probabilities
        timer = self

        def probabilities(vad, frames):
            c0 = time.thread_time()
            try:
                return timer._orig(vad, frames)
            finally:
                timer.cpu += time.thread_time() - c0
                timer.frames += len(frames) // 512
        StreamingVad.probabilities = probabilities

    def restore(self) -> None:
        StreamingVad.probabilities = self._orig


class BatchLog:
    """Every decode batch the scheduler runs: kinds, streams, audio, time."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.rows: list[dict] = []
        orig = scheduler._run_batch

        def run_batch(jobs):
            t0, c0 = time.perf_counter(), time.process_time()
            orig(jobs)
            self.rows.append({
                "kinds": [j.kind for _, j in jobs], "streams": len({s.key for s, _ in jobs}),
                "audio_s": [len(j.request.audio) / SAMPLE_RATE for _, j in jobs],
                "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0})
        scheduler._run_batch = run_batch

    def summary(self) -> dict:
        by_kind: dict[str, dict] = {}
        for r in self.rows:
            for k in set(r["kinds"]):
                share = r["kinds"].count(k) / len(r["kinds"])
                d = by_kind.setdefault(k, {"requests": 0, "model_wall_s": 0.0, "cpu_s": 0.0,
                                           "audio_s": 0.0})
                d["requests"] += r["kinds"].count(k)
                d["model_wall_s"] += r["wall"] * share
                d["cpu_s"] += r["cpu"] * share
                d["audio_s"] += sum(a for a, kk in zip(r["audio_s"], r["kinds"]) if kk == k)
        for d in by_kind.values():
            for key in ("model_wall_s", "cpu_s", "audio_s"):
                d[key] = round(d[key], 2)
        sizes = collections.Counter(len(r["kinds"]) for r in self.rows)
        return {"batches": len(self.rows),
                "batch_size_histogram": dict(sorted(sizes.items())),
                "mean_batch_size": round(np.mean([len(r["kinds"]) for r in self.rows]), 2)
                if self.rows else None,
                "mean_streams_per_batch": round(np.mean([r["streams"] for r in self.rows]), 2)
                if self.rows else None,
                "mean_request_audio_s": round(np.mean([a for r in self.rows
                                                       for a in r["audio_s"]]), 2)
                if self.rows else None,
                "by_kind": by_kind}


# ---------------------------------------------------------------- material
def continuous_sources(dataset: Path, n: int, seconds: float, lang: str) -> list[np.ndarray]:
    """n sources of ``seconds`` of speech each: different files per source, back to back."""
    rows = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("lang", lang) == lang]
    out = []
    for i in range(n):
        parts, total = [], 0
        k = i
        while total < seconds * SAMPLE_RATE:
            a = read_wav(str(dataset / rows[k % len(rows)]["audio"]))
            parts += [a, GAP]
            total += len(a) + len(GAP)
            k += n
        out.append(np.concatenate(parts)[:int(seconds * SAMPLE_RATE)])
    return out


def courtroom_sources(speech_dir: Path, seats: int, seconds: float, seed: int, gate: bool
                      ) -> tuple[list[np.ndarray], dict]:
    """Seat channels (16 kHz) of a simulated reverberant room with its reference, through the
    capture's bleed gate (hardware/bleed.py) as the server feeds them, or ungated."""
    from _reverb_room import RoomOptions, simulate_room
    tmp = Path(tempfile.mkdtemp(prefix="capacity-room-"))
    simulate_room(tmp, RoomOptions(seats=seats, minutes=seconds / 60, seed=seed,
                                   silent_seats=2, rate=16_000), speech_dir)
    ref = json.loads((tmp / "reference.json").read_text(encoding="utf-8"))
    import wave
    with wave.open(str(tmp / ref["wav"])) as w:  # PCM16 at the rate asked for
        ch = w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, ch)
    x = x.astype(np.float32) / 32768
    if gate:
        from hardware.bleed import BleedGate
        g = BleedGate(ch)
        parts = [g.process(np.ascontiguousarray(x[i:i + CHUNK].T))[1]
                 for i in range(0, len(x), CHUNK)]
        x = np.concatenate(parts, axis=1).T
    return [np.ascontiguousarray(x[:, c]) for c in range(ch)], ref


# ---------------------------------------------------------------- one run
async def feed_wall(scheduler: Scheduler, streams: list, audios: list[np.ndarray],
                    t_start: float, lags: list[float]) -> int:
    """Real time on the wall clock; the scheduler's own threads do the work. Returns the
    number of feeds that came more than 200 ms late (the event loop starved)."""
    late = 0
    longest = max(len(a) for a in audios)
    for k, fed in enumerate(range(0, longest, CHUNK)):
        delay = t_start + (fed + CHUNK) / SAMPLE_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.2:
            late += 1
        for i, a in enumerate(audios):
            if fed < len(a):
                streams[i].feed(fed * 1000 // SAMPLE_RATE, a[fed:fed + CHUNK])
        if k % 5 == 0:
            lags += [s.lag_ms for s in streams]
    await asyncio.gather(*(s.close() for s in streams))
    return late


async def feed_simulated(scheduler: Scheduler, streams: list, audios: list[np.ndarray],
                         now: list[float], vad: "VadTimer", lags: list[float]) -> int:
    """Real time on a simulated clock: audio arrives as the clock passes its end; each
    decode batch moves the clock on by the process CPU time it took (one inference thread:
    one core of its own, whatever else runs on the machine; VAD time does not count, it
    has the other core). Events are stamped when the batch that made them ends."""
    longest = max(len(a) for a in audios)
    fed = 0
    closing = None
    while True:
        while fed < longest and (fed + CHUNK) / SAMPLE_RATE <= now[0] + 1e-9:
            for i, a in enumerate(audios):
                if fed < len(a):
                    streams[i].feed(fed * 1000 // SAMPLE_RATE, a[fed:fed + CHUNK])
            fed += CHUNK
            if (fed // CHUNK) % 5 == 0:
                lags += [s.backlog_ms for s in streams]
        if fed >= longest and closing is None:
            closing = asyncio.ensure_future(asyncio.gather(*(s.close() for s in streams)))
            await asyncio.sleep(0)
        c0, v0 = time.process_time(), vad.cpu
        jobs = scheduler.step()
        now[0] += max(0.0, time.process_time() - c0 - (vad.cpu - v0))
        await asyncio.sleep(0)  # the events of this step reach their handlers
        if not jobs:
            if closing is not None and closing.done():
                return 0
            if fed < longest:
                now[0] = max(now[0], (fed + CHUNK) / SAMPLE_RATE)


async def run(scheduler: Scheduler, audios: list[np.ndarray], options: StreamOptions,
              label: str, simulated: bool) -> dict:
    t_start = time.monotonic()
    now = [0.0]  # the simulated clock, seconds since the start
    emitted: list[list[tuple[float, object]]] = [[] for _ in audios]

    def stamp() -> float:
        return now[0] * 1000 if simulated else (time.monotonic() - t_start) * 1000

    def handler(i):
        return lambda ev: emitted[i].append((stamp(), ev))

    batches = BatchLog(scheduler)
    vad = VadTimer()
    phases = scheduler._phases
    for d in (phases.wall, phases.cpu, phases.calls):
        d.clear()
    tokens = scheduler._tokens
    tokens.prefix.clear()
    tokens.new.clear()
    streams = [scheduler.open_stream(f"{label}{i}", options, handler(i))
               for i in range(len(audios))]
    lags: list[float] = []
    c0, w0 = time.process_time(), time.perf_counter()
    load0 = os.getloadavg()[0]
    hurried_before = scheduler.hurried_finals
    longest = max(len(a) for a in audios)
    if simulated:
        scheduler.clock = lambda: now[0]
        scheduler.busy_timer = time.process_time
        late_feeds = await feed_simulated(scheduler, streams, audios, now, vad, lags)
    else:
        late_feeds = await feed_wall(scheduler, streams, audios, t_start, lags)
    cpu = time.process_time() - c0
    wall = time.perf_counter() - w0
    vad.restore()
    del scheduler._run_batch  # back to the class's method
    audio_s = sum(len(a) for a in audios) / SAMPLE_RATE
    finals_lat, partials, finals = [], 0, 0
    for per in emitted:
        for at, ev in per:
            if ev.kind == "final":
                finals += 1
                if ev.words:
                    finals_lat.append(at - ev.end_ms)
            else:
                partials += 1
    model_cpu = sum(phases.cpu.values())
    model_wall = sum(phases.wall.values())
    out = {
        "clock": "simulated" if simulated else "wall",
        "lanes": 1 if simulated else scheduler.options.lanes,
        "simulated_s": round(now[0], 1) if simulated else None,
        "streams": len(audios), "audio_s_per_stream": round(longest / SAMPLE_RATE, 1),
        "final_latency_p50_ms": pct(finals_lat, 50), "final_latency_p95_ms": pct(finals_lat, 95),
        "final_latency_max_ms": round(max(finals_lat), 1) if finals_lat else None,
        "lag_p50_ms": pct(lags, 50), "lag_p95_ms": pct(lags, 95),
        "finals": finals, "hurried_finals": scheduler.hurried_finals - hurried_before,
        "partials_per_stream_s": round(partials / audio_s, 3),
        "process_cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
        "cpu_per_stream_s": round(cpu / audio_s, 4),
        "capacity_estimate": round((os.cpu_count() or 2) / max(1e-9, cpu / audio_s), 2),
        "load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "late_feeds": late_feeds,
        "profile_cpu_s": {
            **{k: round(v, 2) for k, v in sorted(phases.cpu.items())},
            "vad": round(vad.cpu, 2),
            "rest": round(cpu - model_cpu - vad.cpu, 2)},
        "profile_model_wall_s": {k: round(v, 2) for k, v in sorted(phases.wall.items())},
        "model_busy_share": round((model_cpu if simulated else model_wall)
                                  / (now[0] if simulated else wall), 3),
        "calls": dict(phases.calls),
        **batches.summary(),
        **tokens.summary(),
        "decodes_per_stream": [dict(s.decodes) for s in streams],
    }
    return out


def print_run(name: str, r: dict, base: dict | None) -> None:
    ratio = ""
    if base:
        ratio = (f" (x{r['cpu_per_stream_s'] / base['cpu_per_stream_s']:.2f} of the baseline's"
                 f" per stream)")
    print(f"{name}: {r['streams']} streams x {r['audio_s_per_stream']} s | final p50 "
          f"{r['final_latency_p50_ms']} p95 {r['final_latency_p95_ms']} ms | lag p95 "
          f"{r['lag_p95_ms']} ms | cpu/stream-s {r['cpu_per_stream_s']}{ratio} -> capacity "
          f"~{r['capacity_estimate']} | partials/stream-s {r['partials_per_stream_s']} | "
          f"batch {r['mean_batch_size']} ({r['mean_streams_per_batch']} streams) | hurried "
          f"finals {r['hurried_finals']}/{r['finals']} | load "
          f"{r['load_average_1min']}", flush=True)
    # (several lanes decode at once: their process-CPU deltas overlap, their wall time not)
    profile = ("cpu s", r["profile_cpu_s"]) if r["clock"] == "simulated" or r.get("lanes") == 1 \
        else ("model wall s", r["profile_model_wall_s"])
    print(f"   {profile[0]}: {profile[1]}  by kind: "
          f"{ {k: (v['requests'], v['cpu_s']) for k, v in r['by_kind'].items()} }", flush=True)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset", type=Path, required=True, help="folder with manifest.jsonl")
    ap.add_argument("--lang", default="ru")
    ap.add_argument("--streams", default="1,4", help="stream counts to run, the first is the "
                    "baseline")
    ap.add_argument("--seconds", type=float, default=90.0, help="audio per stream")
    ap.add_argument("--second-pass", choices=("on", "off"), default="on",
                    help="finals decoded once more with beam search "
                    "(StreamOptions.second_pass, on in the server)")
    ap.add_argument("--policy", default="new", help="scheduler policies to run, in order: new "
                    "(the defaults), old (partials only when due: no early ones), one-lane, "
                    "unhurried (finals never hurried)")
    ap.add_argument("--no-gate", action="store_true",
                    help="courtroom seats fed ungated (every seat hears the room)")
    ap.add_argument("--courtroom", action="store_true",
                    help="also an 8-seat reverberant room, one or two talking at a time")
    ap.add_argument("--seats", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--no-detect-language", action="store_true",
                    help="DecodeOptions.detect_language off (its cost, for ru-only sources)")
    ap.add_argument("--max-batch", type=int, default=None)
    ap.add_argument("--context-total-ms", type=int, default=None,
                    help="StreamOptions.second_pass_context_total_ms")
    ap.add_argument("--clock", choices=("simulated", "wall"), default="simulated",
                    help="simulated: one inference thread, the clock moved on by each batch's "
                    "CPU time (what a core of its own would take; robust to a shared machine); "
                    "wall: real time, the scheduler's own threads")
    ap.add_argument("--threads", type=int, default=0,
                    help="inference threads per lane (0: the cores shared by the lanes; 1 with "
                    "--clock simulated)")
    ap.add_argument("--lanes", type=int, default=None,
                    help="decode lanes (default: the server's, two on a CPU of two or more "
                    "cores; the simulated clock runs one)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    options = StreamOptions(language=args.lang)
    if any(f.name == "second_pass" for f in dataclasses.fields(StreamOptions)):
        options = dataclasses.replace(options, second_pass=args.second_pass == "on")
    elif args.second_pass == "on":
        print("StreamOptions has no second_pass flag in this tree", file=sys.stderr)
        return 2
    if args.context_total_ms is not None:
        options = dataclasses.replace(options, second_pass_context_total_ms=args.context_total_ms)
    if args.no_detect_language:
        options = dataclasses.replace(
            options,
            partial_decode=dataclasses.replace(options.partial_decode, detect_language=False),
            final_decode=dataclasses.replace(options.final_decode, detect_language=False))
    simulated = args.clock == "simulated"
    threads = args.threads or (1 if simulated else 0)
    base_opts = SchedulerOptions(model=ModelOptions(cpu_threads=threads),
                                 run_workers=not simulated,
                                 lanes=1 if simulated else (args.lanes or 0))
    lanes = base_opts.lanes
    if args.max_batch:
        base_opts = dataclasses.replace(base_opts, max_batch=args.max_batch)
    policies = {"new": base_opts,
                "old": dataclasses.replace(base_opts, early_partial_share=1.0),
                "one-lane": dataclasses.replace(base_opts, lanes=1),
                "unhurried": dataclasses.replace(base_opts, hurry_finals=False)}
    counts = [int(x) for x in args.streams.split(",") if x]
    out: dict = {"cores": os.cpu_count(), "second_pass": args.second_pass, "clock": args.clock,
                 "inference_threads": threads, "lanes": lanes,
                 "detect_language": not args.no_detect_language,
                 "max_batch": base_opts.max_batch, "runs": {}}
    material = continuous_sources(args.dataset, max(counts), args.seconds, args.lang)
    room = None
    if args.courtroom:
        room = courtroom_sources(args.dataset.parent, args.seats, args.seconds, args.seed,
                                 not args.no_gate)
    base = None
    for policy in args.policy.split(","):
        scheduler = Scheduler(policies[policy])
        await scheduler.start()
        scheduler._phases = Phases()
        scheduler._tokens = TokenLog()
        scheduler.decoder.whisper = TimedWhisper(scheduler.decoder.whisper, scheduler._phases)
        scheduler._tokens.wrap(scheduler.decoder)
        for n in counts:
            r = await run(scheduler, [a for a in material[:n]], options, f"{policy}{n}-",
                          simulated)
            out["runs"][f"{policy}_continuous_x{n}"] = r
            print_run(f"{policy} policy, continuous x{n}", r, base)
            base = base or r
        if room is not None:
            seats, ref = room
            r = await run(scheduler, seats, options, f"{policy}-seat", simulated)
            r["talking_seats"] = len({u["seat"] for u in ref["utterances"]})
            r["utterances"] = len(ref["utterances"])
            r["gated"] = not args.no_gate
            out["runs"][f"{policy}_courtroom_{args.seats}_seats"] = r
            print_run(f"{policy} policy, courtroom {args.seats} seats", r, base)
        await scheduler.stop()
    if base:
        for r in out["runs"].values():
            r["cpu_ratio_to_baseline"] = round(r["cpu_per_stream_s"] / base["cpu_per_stream_s"], 3)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
