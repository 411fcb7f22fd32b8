"""Live transcription benchmark: streaming against offline, with the same model, in one run.

    python bench/asr_stream.py --dataset ../shared/speech/ru-dev --lang ru --json OUT.json \
        [--half tune|test|all] [--limit N] [--max-minutes M] [--realtime-seconds S] \
        [--plain] [--second-pass on|off] [--hurried] [--offline-min-seconds S]

For every selected file of the dataset's ``manifest.jsonl``:
  * offline: the whole file transcribed in batches (beam search) -> ``offline_wer/cer``;
  * ``--plain``: the anchor, plain faster-whisper on the same model directory (whole file,
    beam 5, 30 s windows, its defaults otherwise) -> ``plain_wer/cer``;
  * the recogniser's uncertainty mark: the WER of marked and of unmarked words, separately
    (offline and stream; marked words should carry most of the errors): ``*_segment_marked_*``
    counts the words of segments marked uncertain, ``*_word_marked_*`` also each doubtful word
    (``stenogram.segments.DOUBTFUL_PROBABILITY``, as the pages show it); ``--json`` keeps the
    scores of every final and each word's probability and errors, to choose the thresholds of
    ``asr/confidence.py`` and ``DOUBTFUL_PROBABILITY`` on the tuning half (``--half tune``);
  * stream (simulated clock): replayed as a live source as fast as the machine allows, each
    event stamped with the time a real-time system on this machine would emit it -> stream
    WER/CER, final latency, commit latency, partial interval, rtf.
Then real-time pace through the real Scheduler with 1, 2, 4 and 8 concurrent sources (each a
different file, ``--realtime-seconds`` of audio each) -> lag per stream and
``realtime_streams`` (the most streams whose p95 lag stays under 2 s).

Figures are wall-clock on a shared machine: the encoder time over 1000 frames, measured in the
same run, is printed as the baseline to compare runs by."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _asr_replay import ReplayResult, read_wav, realtime, simulate  # noqa: E402
from _asr_score import (cer, marked_wer, normalize, split_half, wer,  # noqa: E402
                        word_errors)

from asr.decoder import Decoder  # noqa: E402
from asr.model import ModelOptions, load_model  # noqa: E402
from asr.offline import OfflineOptions, transcribe_audio  # noqa: E402
from asr.scheduler import Scheduler, SchedulerOptions  # noqa: E402
from asr.stream import StreamOptions  # noqa: E402
from stenogram.segments import is_doubtful  # noqa: E402

LAG_LIMIT_MS = 2000


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def select(rows: list[dict], lang: str, limit: int | None, max_minutes: float | None) -> list[dict]:
    rows = [r for r in rows if r.get("lang", lang) == lang.split("+")[0] or "+" in lang]
    if limit and limit < len(rows):
        step = len(rows) / limit  # evenly spread over the manifest (all kinds of recordings)
        rows = [rows[int(i * step)] for i in range(limit)]
    if max_minutes:
        out, total = [], 0.0
        for r in rows:
            if total + r["duration"] > max_minutes * 60 and out:
                continue
            out.append(r)
            total += r["duration"]
        rows = out
    return rows


def latency_figures(results: list[ReplayResult]) -> dict:
    final_lat, commit_lat, intervals = [], [], []
    for res in results:
        first_commit: dict[tuple[str, int], float] = {}
        last_partial: dict[str, float] = {}
        for e in res.emitted:
            ev = e.event
            for i in range(ev.committed):
                first_commit.setdefault((ev.segment_id, i), e.at_ms)
            if ev.kind == "partial":
                if ev.segment_id in last_partial:
                    intervals.append(e.at_ms - last_partial[ev.segment_id])
                last_partial[ev.segment_id] = e.at_ms
            else:
                final_lat.append(e.at_ms - ev.end_ms)
                for i, w in enumerate(ev.words):
                    commit_lat.append(first_commit.get((ev.segment_id, i), e.at_ms) - w.end_ms)
    return {"final_latency_p50_ms": pct(final_lat, 50), "final_latency_p95_ms": pct(final_lat, 95),
            "commit_latency_p50_ms": pct(commit_lat, 50),
            "commit_latency_p95_ms": pct(commit_lat, 95),
            "partial_interval_p50_ms": pct(intervals, 50), "finals": len(final_lat)}


def score_marks(into: dict[str, list], ref: str, segments, lang: str
                ) -> list[list[tuple[int, int]]]:
    """Word errors of one file, kept with each word's marks for ``marked_wer``; returns the
    (reference words, errors) of each word, by segment."""
    words = [(w.text, w.probability, k) for k, s in enumerate(segments) for w in s.words]
    per_word, missed = word_errors(ref, [w for w, _, _ in words], lang)
    into["errors"].append((per_word, missed))
    into["segment"].append([bool(segments[k].uncertain) for _, _, k in words])
    into["word"].append([bool(segments[k].uncertain) or is_doubtful(p) for _, p, k in words])
    per_segment: list[list[tuple[int, int]]] = [[] for _ in segments]
    for ne, (_, _, k) in zip(per_word, words):
        per_segment[k].append(tuple(ne))
    return per_segment


def mark_figures(prefix: str, marks: dict[str, list]) -> dict:
    return {f"{prefix}_{kind}_{k}": v for kind in ("segment", "word")
            for k, v in marked_wer(marks["errors"], marks[kind]).items()}


def scored(mode: str, name: str, segments, per_segment: list[list[tuple[int, int]]]
           ) -> list[dict]:
    """Each final with its scores and, per word, its probability and (reference words,
    errors): what the thresholds of ``asr/confidence.py`` are chosen from."""
    return [{"mode": mode, "file": name, "text": s.text, "uncertain": s.uncertain,
             "language": getattr(s, "language", ""), "scores": s.scores,
             "probabilities": [w.probability for w in s.words],
             "word_errors": words, "ref_words": sum(n for n, _ in words),
             "errors": sum(e for _, e in words)}
            for s, words in zip(segments, per_segment)]


def plain_model(model):
    """Plain faster-whisper on the same CTranslate2 directory and settings: the anchor."""
    from faster_whisper import WhisperModel
    o = model.options
    return WhisperModel(str(model.path), device=o.device, compute_type=o.compute_type,
                        cpu_threads=o.cpu_threads)


def plain_text(plain, audio: np.ndarray, lang: str) -> str:
    """The whole file through plain faster-whisper: beam 5, 30 s windows, its defaults."""
    language = lang if "+" not in lang else None
    segments, _ = plain.transcribe(audio, language=language, beam_size=5)
    return " ".join(s.text.strip() for s in segments)


def encoder_baseline(decoder: Decoder) -> float:
    import ctranslate2
    x = ctranslate2.StorageView.from_array(np.zeros((1, decoder.whisper.n_mels, 1000), np.float32))
    decoder.whisper.encode(x)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        decoder.whisper.encode(x)
        times.append(time.perf_counter() - t)
    return round(min(times) * 1000, 1)


async def realtime_runs(model, audios: list[np.ndarray], options: StreamOptions,
                        counts: list[int], seconds: float) -> dict:
    out = {}
    clip = [a[: int(seconds * 16000)] for a in audios]
    for n in counts:
        sched = Scheduler(SchedulerOptions(), model=model)
        await sched.start()
        chosen = [clip[i % len(clip)] for i in range(n)]
        t0, c0 = time.perf_counter(), time.process_time()
        results = await realtime(sched, chosen, options)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        await sched.stop()
        lags = [lag for r in results for lag in r.lags_ms]
        figs = latency_figures(results)
        out[n] = {"lag_p50_ms": pct(lags, 50), "lag_p95_ms": pct(lags, 95),
                  "lag_max_ms": round(max(lags), 1) if lags else None,
                  "final_latency_p50_ms": figs["final_latency_p50_ms"],
                  "final_latency_p95_ms": figs["final_latency_p95_ms"],
                  "commit_latency_p50_ms": figs["commit_latency_p50_ms"],
                  "audio_s_per_stream": round(max(len(a) for a in chosen) / 16000, 1),
                  "wall_s": round(wall, 1), "model_busy_s": round(sched.busy_s, 1),
                  "process_cpu_s": round(cpu, 1), "load_average_1min": round(os.getloadavg()[0], 2),
                  "batches": sched.decode_batches}
        print(f"  realtime x{n}: lag p50 {out[n]['lag_p50_ms']} p95 {out[n]['lag_p95_ms']} ms, "
              f"final p95 {out[n]['final_latency_p95_ms']} ms, busy {out[n]['model_busy_s']} s "
              f"of {out[n]['wall_s']} s", flush=True)
        if out[n]["lag_p95_ms"] is not None and out[n]["lag_p95_ms"] >= LAG_LIMIT_MS:
            break
    return out


def soak(decoder: Decoder, audios: list[np.ndarray], options: StreamOptions,
         minutes: float) -> dict:
    """One long stream (the files back to back with 1 s pauses): is memory flat?"""
    parts, total = [], 0
    while total < minutes * 60 * 16000:
        for a in audios:
            parts += [a, np.zeros(16000, np.float32)]
            total += len(a) + 16000
            if total >= minutes * 60 * 16000:
                break
    long = np.concatenate(parts)
    rep = simulate(decoder, long, options, source_id="soak", rss_every_s=60)
    del long, parts
    rss = [mb for _, mb in rep.rss_mb]
    half = len(rss) // 2
    out = {"minutes": round(total / 16000 / 60, 1), "rss_mb_by_minute": rep.rss_mb,
           "rss_growth_second_half_mb": round(rss[-1] - rss[half], 1) if len(rss) > 2 else None,
           "rtf": round(rep.compute_s / (total / 16000), 3)}
    print(f"  soak {out['minutes']} min: RSS by minute {[mb for _, mb in rep.rss_mb]}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True, help="folder with manifest.jsonl")
    ap.add_argument("--lang", default="ru", help="ru, kk or kk+ru")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--half", default="all", choices=("tune", "test", "all"),
                    help="ru-dev is split by file name: tune thresholds on one half only")
    ap.add_argument("--skip-offline", action="store_true", help="only the streaming replay")
    ap.add_argument("--skip-stream", action="store_true", help="no streaming replay")
    ap.add_argument("--plain", action="store_true",
                    help="also plain faster-whisper (whole file, beam 5) as the anchor")
    ap.add_argument("--second-pass", choices=("on", "off"),
                    help="the stream's beam-search second pass for finals (default: "
                         "StreamOptions' default)")
    ap.add_argument("--hurried", action="store_true",
                    help="every final decoded as a machine behind on finals decodes it "
                         "(SchedulerOptions.hurry_finals: without the previous segment's "
                         "audio): the worst case of the record's accuracy under load")
    ap.add_argument("--second-pass-min-seconds", type=float,
                    help="pad the second pass's encoder input to at least this (30 = Whisper)")
    ap.add_argument("--offline-min-seconds", type=float,
                    help="pad each offline chunk's encoder input to at least this")
    ap.add_argument("--limit", type=int, help="at most N files, spread over the manifest")
    ap.add_argument("--max-minutes", type=float, help="stop adding files past this much audio")
    ap.add_argument("--realtime-seconds", type=float, default=60.0,
                    help="audio per stream in the real-time runs (0 = skip them)")
    ap.add_argument("--streams", default="1,2,4,8", help="concurrent real-time sources to try")
    ap.add_argument("--kind", help="only files of this manifest kind (e.g. read_longform)")
    ap.add_argument("--realtime-only", action="store_true",
                    help="skip the offline and simulated replays (capacity runs only)")
    ap.add_argument("--soak-minutes", type=float, default=0,
                    help="also replay one stream this long (files back to back) and sample RSS")
    ap.add_argument("--model-dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)

    dataset = Path(args.dataset)
    rows = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()
            if line.strip()]
    if args.kind:
        rows = [r for r in rows if r.get("kind") == args.kind]
    rows = split_half(rows, args.half)
    rows = select(rows, args.lang, args.limit, args.max_minutes)
    model = load_model(ModelOptions(model_dir=args.model_dir, device=args.device,
                                    compute_type=args.compute_type, cpu_threads=args.threads))
    decoder = Decoder(model)
    baseline = encoder_baseline(decoder)
    options = StreamOptions(language=args.lang)
    if args.second_pass:
        options = replace(options, second_pass=args.second_pass == "on")
    if args.hurried:
        options = replace(options, second_pass_context_gap_ms=0)
    if args.second_pass_min_seconds is not None:
        options = replace(options, second_pass_decode=replace(
            options.second_pass_decode, min_seconds=args.second_pass_min_seconds))
    offline_options = OfflineOptions()
    if args.offline_min_seconds is not None:
        offline_options = replace(offline_options, min_seconds=args.offline_min_seconds)
    plain = plain_model(model) if args.plain else None
    audios = [read_wav(str(dataset / r["audio"])) for r in rows]
    audio_s = sum(len(a) for a in audios) / 16000
    print(f"{len(rows)} files, {audio_s / 60:.1f} min of audio; model {model.label}; "
          f"encoder over 1000 frames {baseline} ms (machine-load baseline)", flush=True)

    refs = [normalize(r["text"], r.get("lang", "ru")) for r in rows]
    offline_hyps, stream_hyps, replays, plain_hyps = [], [], [], []
    plain_s = 0.0
    marks = {mode: {"errors": [], "segment": [], "word": []} for mode in ("offline", "stream")}
    finals_scored: list[dict] = []
    offline_s = 0.0
    for i, (r, audio) in enumerate(zip(rows, audios)):
        if args.realtime_only:
            break
        lang = r.get("lang", "ru")
        if not args.skip_offline:
            t0 = time.perf_counter()
            segs = transcribe_audio(audio, args.lang, decoder=decoder, options=offline_options)
            offline_s += time.perf_counter() - t0
            offline_hyps.append(normalize(" ".join(s.text for s in segs), lang))
            per_segment = score_marks(marks["offline"], refs[i], segs, lang)
            finals_scored += scored("offline", r["audio"], segs, per_segment)
        if plain is not None:
            t0 = time.perf_counter()
            plain_hyps.append(normalize(plain_text(plain, audio, args.lang), lang))
            plain_s += time.perf_counter() - t0
        line = f"  [{i + 1}/{len(rows)}] {r['audio']} ({r['duration']:.1f} s) wer"
        if offline_hyps:
            line += f" offline {wer([refs[i]], [offline_hyps[i]]):.3f}"
        if plain_hyps:
            line += f" plain {wer([refs[i]], [plain_hyps[i]]):.3f}"
        if not args.skip_stream:
            rep = simulate(decoder, audio, options, source_id=f"f{i}")
            replays.append(rep)
            stream_hyps.append(normalize(" ".join(f.text for f in rep.finals()), lang))
            per_segment = score_marks(marks["stream"], refs[i], rep.finals(), lang)
            finals_scored += scored("stream", r["audio"], rep.finals(), per_segment)
            line += (f" stream {wer([refs[i]], [stream_hyps[i]]):.3f} marked "
                     f"{sum(1 for f in rep.finals() if f.uncertain)}/{len(rep.finals())}")
        print(line, flush=True)
    if args.realtime_only:
        figures = {"files": len(rows), "model": model.label, "encoder_1000_frames_ms": baseline}
        counts = [int(c) for c in args.streams.split(",") if c.strip()]
        rt = asyncio.run(realtime_runs(model, audios, options, counts, args.realtime_seconds))
        figures["realtime"] = {str(k): v for k, v in rt.items()}
        ok = [n for n, v in rt.items() if v["lag_p95_ms"] is not None
              and v["lag_p95_ms"] < LAG_LIMIT_MS]
        figures["realtime_streams"] = max(ok) if ok else 0
        print(json.dumps(figures, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=1, ensure_ascii=False))
        return 0
    compute_s = sum(r.compute_s for r in replays)
    offline = {} if args.skip_offline else {
        "offline_wer": round(wer(refs, offline_hyps), 4),
        "offline_cer": round(cer(refs, offline_hyps), 4),
        "offline_rtf": round(offline_s / audio_s, 3),
        **mark_figures("offline", marks["offline"])}
    plain_figures = {} if plain is None else {
        "plain_wer": round(wer(refs, plain_hyps), 4),
        "plain_cer": round(cer(refs, plain_hyps), 4),
        "plain_rtf": round(plain_s / audio_s, 3)}
    stream = {} if args.skip_stream else {
        "second_pass": options.second_pass,
        "stream_wer": round(wer(refs, stream_hyps), 4),
        "stream_cer": round(cer(refs, stream_hyps), 4),
        **mark_figures("stream", marks["stream"]),
        **latency_figures(replays),
        "rtf": round(compute_s / audio_s, 3),
        # CPU seconds the decodes used per second of audio: steadier than wall time on a
        # shared machine; cores / this is what one machine could carry if it were idle.
        "stream_cpu_s_per_audio_s": round(sum(r.cpu_s for r in replays) / audio_s, 3)}
    figures = {
        "files": len(rows), "half": args.half, "audio_minutes": round(audio_s / 60, 2),
        "ref_words": sum(len(r.split()) for r in refs),  # to pool the WER of two halves
        "model": model.label, "encoder_1000_frames_ms": baseline, **stream, **offline,
        **plain_figures, "load_average_1min": round(os.getloadavg()[0], 2),
    }
    figures["idle_machine_streams_estimate"] = round(
        (os.cpu_count() or 2) / figures["stream_cpu_s_per_audio_s"], 1) \
        if figures.get("stream_cpu_s_per_audio_s") else None
    figures["stream_wer_relative_to_offline"] = round(
        figures["stream_wer"] / figures["offline_wer"], 3) \
        if figures.get("offline_wer") and "stream_wer" in figures else None
    figures["stream_wer_relative_to_plain"] = round(
        figures["stream_wer"] / figures["plain_wer"], 3) \
        if figures.get("plain_wer") and "stream_wer" in figures else None
    if args.realtime_seconds > 0:
        counts = [int(c) for c in args.streams.split(",") if c.strip()]
        long_first = sorted(range(len(audios)), key=lambda i: -len(audios[i]))
        rt = asyncio.run(realtime_runs(model, [audios[i] for i in long_first], options, counts,
                                       args.realtime_seconds))
        figures["realtime"] = {str(k): v for k, v in rt.items()}
        ok = [n for n, v in rt.items() if v["lag_p95_ms"] is not None
              and v["lag_p95_ms"] < LAG_LIMIT_MS]
        figures["realtime_streams"] = max(ok) if ok else 0
    if args.soak_minutes > 0:
        figures["soak"] = soak(decoder, audios, options, args.soak_minutes)
    figures["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    print()
    print(f"{'metric':<34}{'value':>12}")
    for key, value in figures.items():
        if key != "realtime":
            print(f"{key:<34}{value!s:>12}")
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "scored_finals": finals_scored}, indent=1,
                                              ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
