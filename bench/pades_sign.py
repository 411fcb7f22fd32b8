"""Seal a long protocol PDF with the court's certificate (PAdES B-B, pyHanko) and verify it.

Prints, against the unsigned render in the same process: the time to seal (attach the version
JSON and a signer's CMS, sign in an incremental update), the time to verify offline (PAdES
signature, chain, coverage, attached version and CMS), and the size the seal adds.
usage: .venv/bin/python bench/pades_sign.py [--pages 50] [--repeat 3]"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the packages, and tests/support

from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,  # noqa: E402
                                                          PrivateFormat)

from stenogram.canonical import canonical_bytes  # noqa: E402
from stenogram.cms import CMS, TrustAnchors, key_info, verify_detached  # noqa: E402
from stenogram.export import protocol_from_version  # noqa: E402
from stenogram.export.pdf import render_pdf  # noqa: E402
from stenogram.pades import load_seal, seal_protocol, verify_pdf  # noqa: E402
from stenogram.version import sign_version, signature_record, signing_statement  # noqa: E402
from support.pki import make_ca  # noqa: E402
from support.synthetic import build_synthetic_hearing  # noqa: E402

#: Synthetic segments per protocol page (A4, 10 pt), measured on this renderer.
SEGMENTS_PER_PAGE = 22


def best(fn, repeat: int):  # noqa: ANN001, ANN201
    """The fastest of ``repeat`` runs (the machine is shared: the minimum is the cost)."""
    dt, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        dt = min(dt, time.perf_counter() - t0)
    return out, dt


def pages(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    h = build_synthetic_hearing(segments=args.pages * SEGMENTS_PER_PAGE, revisions=10,
                                versions=1)
    v = h.versions[-1]
    ca = make_ca()
    seal_leaf = ca.leaf("Astana District Court seal", "BIN990340001234", kind="rsa")
    sec = ca.leaf("Secretary", "IIN800101400111")
    now = datetime.now(timezone.utc)
    stmt = signing_statement(v, role="secretary", user_id="s", name="S",
                             signed_at=now.isoformat().replace("+00:00", "Z"))
    cms = sec.sign(canonical_bytes(stmt), ca.inter)
    got = verify_detached(cms, canonical_bytes(stmt), anchors=TrustAnchors((ca.root,), ()),
                          at=now, crls=ca.crls())
    sigs = [{**signature_record(stmt, algorithm=CMS, key_id=got.key_id, signature=cms),
             "kind": CMS, "key": key_info(got, "S")}]
    sigs.append(sign_version(v, h.signers["judge"], role="judge", user_id="j", name="J",
                             signatures=sigs))
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "k.pem").write_bytes(seal_leaf.key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        (Path(d) / "c.pem").write_bytes(seal_leaf.cert.public_bytes(Encoding.PEM)
                                        + ca.inter.public_bytes(Encoding.PEM))
        seal = load_seal(Path(d) / "k.pem", Path(d) / "c.pem")
    anchors = TrustAnchors((ca.root,), ())
    p = protocol_from_version(v, sigs)
    seal_protocol(render_pdf(p), seal, v, sigs)  # warm: imports pyHanko once

    print(f"protocol of {len(v.document['segments'])} segments (best of {args.repeat}; "
          f"load average now {os.getloadavg()[0]:.1f})")
    plain, dt_render = best(lambda: render_pdf(p), args.repeat)
    sealed, dt_seal = best(lambda: seal_protocol(plain, seal, v, sigs), args.repeat)
    checks, dt_verify = best(lambda: verify_pdf(sealed, anchors), args.repeat)
    failed = [c for c in checks if not c.ok]
    n = pages(plain)
    print(f"{'render unsigned PDF (reportlab)':<44} {dt_render * 1000:9.1f} ms  {n} pages, "
          f"{len(plain) / 1024:.0f} KiB")
    print(f"{'seal: attach version + CMS, PAdES B-B':<44} {dt_seal * 1000:9.1f} ms  "
          f"{len(sealed) / 1024:.0f} KiB")
    print(f"{'verify offline (signature, chain, attached)':<44} {dt_verify * 1000:9.1f} ms  "
          f"{len(checks)} checks, {len(failed)} failed" + (f": {failed}" if failed else ""))
    version_json = len(canonical_bytes(v.document))
    print(f"size added by the seal: {(len(sealed) - len(plain)) / 1024:.0f} KiB "
          f"(+{(len(sealed) - len(plain)) / len(plain) * 100:.0f}%), of which the attached "
          f"version JSON is {version_json / 1024:.0f} KiB before compression")
    print(f"ratio: seal / render = {dt_seal / dt_render:.2f}x; "
          f"verify / render = {dt_verify / dt_render:.2f}x")


if __name__ == "__main__":
    main()
