"""`courtroom transcribe FILE --lang ru [--json]`: offline transcription of a whole file."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe an audio or video file (offline, batched)")
    p.add_argument("file", help="any file PyAV can read (WAV, MP3, Opus, MP4, ...)")
    p.add_argument("--lang", default="ru", help="ru, kk or kk+ru (default ru)")
    p.add_argument("--json", action="store_true", help="print segments as JSON")
    p.add_argument("--model-dir", help="a CTranslate2 Whisper directory (default: bundled base)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--compute-type", default="int8", help="CTranslate2 compute type (int8)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--vocabulary", default="", help="names and terms, comma-separated")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _progress_bar(done: float, total: float) -> None:
    width = 30
    frac = 0.0 if total <= 0 else min(1.0, done / total)
    bar = "#" * int(frac * width)
    sys.stderr.write(f"\r[{bar:<{width}}] {frac * 100:5.1f}%  {done:7.1f}/{total:.1f} s")
    if frac >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _clock(ms: int) -> str:
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms // 10:02d}"


def run(args) -> int:
    from asr.model import ModelError, ModelOptions, load_model
    from asr.offline import OfflineOptions, transcribe_file

    try:
        model = load_model(ModelOptions(model_dir=args.model_dir, device=args.device,
                                        compute_type=args.compute_type,
                                        cpu_threads=args.threads))
        options = OfflineOptions(beam_size=args.beam_size, prompt=args.vocabulary)
        segments = transcribe_file(args.file, args.lang, model=model, options=options,
                                   progress=None if args.quiet else _progress_bar)
    except (ModelError, FileNotFoundError, ValueError) as exc:
        print(f"courtroom transcribe: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump([s.to_dict() for s in segments], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        for s in segments:
            print(f"[{_clock(s.start_ms)} - {_clock(s.end_ms)}] ({s.language}) {s.text}")
    return 0
