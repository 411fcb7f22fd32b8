"""What the check before serving a stored file costs: the stat comparison every download pays
against the full re-hash it avoids (paid once after a change, or once for a blob written before
fingerprints were kept). Prints figures; no pass/fail.

    .venv/bin/python bench/blob_fixity.py [size_mb]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media.blobstore import BlobStore  # noqa: E402


def per_call(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as d:
        store = BlobStore(Path(d))
        ref = store.put_bytes(os.urandom(size_mb << 20))
        cheap = per_call(lambda: store.check(ref.path, ref.sha256), 2000)
        entry = store.stats / ref.sha256[:2] / ref.sha256

        def rehash() -> None:
            entry.unlink()
            store.check(ref.path, ref.sha256)
        full = per_call(rehash, 3)
    print(f"blob {size_mb} MiB: check when unchanged {cheap * 1e6:.1f} us per download; "
          f"re-hash {full * 1e3:.0f} ms ({full / cheap:.0f}x)")


if __name__ == "__main__":
    main()
