"""Sign and verify the stenogram of a 4-hour hearing (about 5,000 segments, 500 revisions).

Prints time and peak memory for each step, and ratios against baselines measured in the same
run (stdlib json.dumps + SHA-256 of the same document; one bare Ed25519 signature).
usage: .venv/bin/python bench/stenogram_sign.py [--segments 5000] [--revisions 500]"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the packages, and tests/support

from stenogram.bundle import write_bundle  # noqa: E402
from stenogram.canonical import canonical_bytes  # noqa: E402
from stenogram.export import protocol_from_version  # noqa: E402
from stenogram.export.pdf import render_pdf  # noqa: E402
from stenogram.revisions import Transcript  # noqa: E402
from stenogram.segments import Segment  # noqa: E402
from stenogram.verify import verify_bundle  # noqa: E402
from stenogram.version import build_version, sign_version  # noqa: E402
from support.synthetic import build_synthetic_hearing  # noqa: E402


REPEAT = 3


def measure(label, fn, *, trace=True):
    """Time fn REPEAT times and keep the best (the machine is shared: the minimum is the cost,
    the rest is other people's load), then run it once under tracemalloc for the heap peak."""
    dt = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = fn()
        dt = min(dt, time.perf_counter() - t0)
    peak = None
    if trace:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    mem = f"{peak / 2**20:8.1f} MiB peak heap" if peak is not None else ""
    print(f"{label:<46} {dt * 1000:9.1f} ms  {mem}")
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--segments", type=int, default=5000)
    ap.add_argument("--revisions", type=int, default=500)
    ap.add_argument("--keep", type=Path, help="also write the bundle here (e.g. to time "
                    "`courtroom verify` in a fresh process)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per step (best kept)")
    args = ap.parse_args()
    global REPEAT
    REPEAT = max(1, args.repeat)

    print(f"4-hour hearing: {args.segments} segments, {args.revisions} revisions "
          f"(best of {REPEAT}; load average now {os.getloadavg()[0]:.1f})")
    t0 = time.perf_counter()
    h = build_synthetic_hearing(segments=args.segments, revisions=args.revisions, versions=1)
    print(f"{'record finals + apply revisions (fixture)':<46} {(time.perf_counter() - t0) * 1000:9.1f} ms"
          f"  ({len(h.transcript.revisions)} chain entries)")
    t = h.transcript
    rows = [r.to_dict() for r in t.revisions]

    machine = [Segment.from_dict(r.payload["put"][0]) for r in t.revisions if r.kind == "asr"]

    def record_and_correct():
        fresh = Transcript()
        for seg in machine:
            fresh.add_machine_segment(seg)
        ids = [s.segment_id for s in machine]
        for i in range(args.revisions):
            sid = ids[(i * 7919) % len(ids)]
            cur = fresh.segment(sid)
            fresh.edit_text(sid, cur.text + f" түзету{i}", author="p-secretary", reason="bench")
        return fresh
    _, dt_rec = measure(f"record {len(machine)} finals + {args.revisions} text edits",
                        record_and_correct)
    print(f"  {dt_rec / (len(machine) + args.revisions) * 1000:.2f} ms per chain entry")
    measure("reload chain from rows, check hashes, fold", lambda: Transcript.from_dicts(rows))
    prev = None
    v, dt_build = measure("build version (JCS + SHA-256)", lambda: build_version(
        hearing=h.hearing, participants=h.participants, segments=t.segments(),
        revisions_head=t.head(), recordings=h.recordings, evidence=h.evidence, previous=prev))
    size = len(canonical_bytes(v.document))
    _, base = measure("  baseline: json.dumps(sort_keys) + SHA-256", lambda: hashlib.sha256(
        json.dumps(v.document, sort_keys=True, ensure_ascii=False,
                   separators=(",", ":")).encode()).hexdigest(), trace=False)
    print(f"  version document: {size / 2**20:.2f} MiB canonical JSON")

    def sign_both():
        sigs = [sign_version(v, h.signers["secretary"], role="secretary", user_id="s", name="S")]
        sigs.append(sign_version(v, h.signers["judge"], role="judge", user_id="j", name="J",
                                 signatures=sigs))
        return sigs
    sigs, dt_sign = measure("sign: secretary then judge (re-hash + 2 x Ed25519)", sign_both)
    _, dt_raw = measure("  baseline: one bare Ed25519 signature", lambda: h.signers["judge"].sign(
        b"x" * 32), trace=False)

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "OUT.zip"
        kw = h.bundle_kwargs(with_media=False)
        kw.update(versions=[v], signatures=sigs)
        measure("write bundle (no media)", lambda: write_bundle(out, **kw))
        print(f"  bundle: {out.stat().st_size / 2**20:.2f} MiB")
        checks, dt_verify = measure("verify bundle (all checks)", lambda: verify_bundle(out))
        failed = [c for c in checks if not c.ok]
        if args.keep:
            args.keep.write_bytes(out.read_bytes())
        print(f"  {len(checks)} checks, {len(failed)} failed" + (f": {failed}" if failed else ""))
    p = protocol_from_version(v, sigs)
    try:
        pdf, _ = measure("render protocol PDF", lambda: render_pdf(p), trace=False)
        print(f"  PDF: {len(pdf) / 2**20:.2f} MiB")
    except Exception as e:  # noqa: BLE001 - a missing font should not hide the other figures
        print(f"render protocol PDF: skipped ({e})")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"ratio: build version / stdlib-json baseline = {dt_build / base:.1f}x; "
          f"sign step / one bare signature = {dt_sign / dt_raw:.0f}x; "
          f"verify / sign = {dt_verify / dt_sign:.1f}x")


if __name__ == "__main__":
    main()
