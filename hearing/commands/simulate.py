"""`courtroom simulate`: build a multi-channel courtroom recording and its reference."""

from __future__ import annotations

import sys


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("simulate", help="build a simulated multi-channel courtroom WAV with a "
                                        "reference of who said what (for tests and demos)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--seats", type=int, default=4, help="number of seats/channels (default 4)")
    p.add_argument("--minutes", type=float, default=2.0, help="length (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--bleed-db", type=float, default=-20.0,
                   help="level of a voice in the neighbouring microphone (default -20)")
    p.add_argument("--rate", type=int, default=48_000, help="WAV sample rate (default 48000)")
    p.add_argument("--speech-dir", default=None,
                   help="folder of */manifest.jsonl utterances (default ../shared/speech)")
    p.set_defaults(func=run)


def run(args) -> int:  # noqa: ANN001
    from hardware.simulator import SimOptions, simulate

    if args.seats < 1 or args.minutes <= 0 or args.rate < 8000:
        print("courtroom simulate: --seats >= 1, --minutes > 0 and --rate >= 8000 please",
              file=sys.stderr)
        return 2
    try:
        ref = simulate(args.out, SimOptions(seats=args.seats, minutes=args.minutes,
                                            seed=args.seed, bleed_db=args.bleed_db,
                                            rate=args.rate), speech_dir=args.speech_dir)
    except FileNotFoundError as e:
        print(f"courtroom simulate: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}/courtroom.wav ({ref['channels']} ch, {ref['sample_rate']} Hz, "
          f"{ref['duration_ms'] / 1000:.0f} s), reference.json ({len(ref['utterances'])} "
          f"utterances, {ref['overlaps']} overlaps), seats.toml")
    return 0
