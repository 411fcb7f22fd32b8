"""What a hostile evidence file costs the server now.

    python bench/evidence_bomb.py [--runs 5] [--unconfined]

Builds the "sample-count bomb" (a few KB of MP4 whose index declares 80 million samples) and
prints: the time of the pure-Python box walk that refuses it, the time of a whole sandboxed
validation of it and of a real 1 s phone-like video (the price of the child process), the
peak resident size of this process (VmHWM, reset first) and of the children, and the CPU time
a refused over-budget playback copy costs. ``--unconfined`` also validates the bomb in this
process with the box walk switched off, as the server did before: it takes gigabytes and
tens of seconds, so only on a machine that can spare them."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the packages, and tests/support

from media.blobstore import BlobStore  # noqa: E402
from media.evidence import (EvidenceRejected, TranscodeFailed, Transcoder,  # noqa: E402
                            ValidationLimits, validate_file)
from media.evidence.boxes import check_mp4_index  # noqa: E402
from media.evidence.sandbox import validate_sandboxed  # noqa: E402
from support.media_samples import make_media, mp4_bomb  # noqa: E402


def status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


async def main(runs: int, unconfined: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="evidence-bomb-"))
    bomb = mp4_bomb(tmp / "bomb.mp4")
    real = make_media(tmp / "real.mp4", "mp4-h264", seconds=1.0, width=640, height=360, fps=30)
    size = bomb.stat().st_size
    print(f"bomb: {size} bytes declaring 80000000 samples")

    t = time.perf_counter()
    for _ in range(100):
        with open(bomb, "rb") as f:
            try:
                check_mp4_index(f, size)
            except EvidenceRejected:
                pass
    print(f"box walk refusal: {(time.perf_counter() - t) / 100 * 1e3:.3f} ms")

    reset_peak()
    rss0 = status_mb("VmRSS")
    for label, path in (("bomb", bomb), ("real 1 s 640x360 video", real)):
        t = time.perf_counter()
        outcome = "accepted"
        for _ in range(runs):
            try:
                await validate_sandboxed(path, ValidationLimits())
            except EvidenceRejected as e:
                outcome = f"refused ({e.details.get('kind')})"
        print(f"sandboxed validation, {label}: {(time.perf_counter() - t) / runs * 1e3:.0f} ms "
              f"each, {outcome}")
    print(f"this process: RSS {rss0:.0f} MB before, peak growth "
          f"{status_mb('VmHWM') - rss0:.1f} MB; children's peak RSS "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")

    store = BlobStore(tmp / "blobs")
    ref = store.put_file(real)
    info = validate_file(ref.path)
    tc = Transcoder(store)
    for hours in (2, 20):
        uhd = dataclasses.replace(info, duration_s=hours * 3600.0, streams=tuple(
            dataclasses.replace(s, width=3840, height=2160, fps=30.0) if s.type == "video"
            else s for s in info.streams))
        cpu = time.process_time()
        try:
            await tc.submit(ref.sha256, uhd).wait()
        except TranscodeFailed as e:
            print(f"over-budget copy (4K30 for {hours} h declared): refused in "
                  f"{(time.process_time() - cpu) * 1e3:.2f} CPU-ms: {e.message}")
    await tc.close()

    if unconfined:
        import media.evidence.validate as validate
        validate.check_mp4_index = lambda f, size: 0
        reset_peak()
        rss0 = status_mb("VmRSS")
        t, cpu = time.perf_counter(), time.process_time()
        try:
            validate.validate_file(bomb)
        except EvidenceRejected as e:
            print(f"unconfined, no box walk: {e.message}")
        print(f"unconfined, no box walk: {time.perf_counter() - t:.1f} s, "
              f"{time.process_time() - cpu:.1f} CPU-s, peak growth "
              f"{status_mb('VmHWM') - rss0:.0f} MB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--unconfined", action="store_true")
    a = ap.parse_args()
    asyncio.run(main(a.runs, a.unconfined))
