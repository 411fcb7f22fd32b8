"""Verify a detached CMS signature with its chain of three and two CRLs (``verify_detached``):
GOST R 34.10-2012 with a 256-bit and a 512-bit signer key (pure Python, gostcrypto), against
ECDSA P-256 (OpenSSL, through cryptography) measured in the same process.

Every certificate and CRL is signed afresh for each run of a chain, so the verifier's cache of
GOST results does not hide the cost; a second figure gives the cached case (the same chain and
CRLs again, a new signature), as a server sees the second signature under one CA.
usage: .venv/bin/python bench/gost_verify.py [--repeat 5]"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the packages, and tests/support

from stenogram import gost  # noqa: E402
from stenogram.cms import TrustAnchors, verify_detached  # noqa: E402
from support import gost_pki, pki  # noqa: E402

DATA = b'{"role":"judge","signed_at":"2026-01-01T00:00:00Z","version_sha256":"' + b"ab" * 32 + b'"}'


def best_ms(fn, repeat: int) -> float:
    """The fastest of ``repeat`` runs (the machine is shared: the minimum is the cost)."""
    dt = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        dt = min(dt, time.perf_counter() - t0)
    return dt * 1000


def gost_case(bits: int, repeat: int) -> tuple[float, float]:
    root_key, inter_key = gost_pki.make_key(256), gost_pki.make_key(256)
    leaf_key = gost_pki.make_key(bits)
    cases = []
    for _ in range(repeat):  # a fresh chain each: nothing cached
        ca = gost_pki.make_ca(root_key=root_key, inter_key=inter_key)
        leaf = ca.leaf("Signer", "IIN1", leaf_key)
        cases.append((ca, leaf.sign(DATA, ca.inter), ca.crls()))
    at = datetime.now(timezone.utc)
    it = iter(cases)

    def fresh() -> None:
        ca, sig, crls = next(it)
        verify_detached(sig, DATA, anchors=TrustAnchors((gost_pki.crypto(ca.root),)), at=at,
                        crls=crls)
    cold = best_ms(fresh, repeat)
    ca, _, crls = cases[0]
    sigs = iter([ca.leaves["Signer"].sign(DATA, ca.inter) for _ in range(repeat)])
    anchors = TrustAnchors((gost_pki.crypto(ca.root),))
    warm = best_ms(lambda: verify_detached(next(sigs), DATA, anchors=anchors, at=at, crls=crls),
                   repeat)
    return cold, warm


def ecdsa_case(repeat: int) -> float:
    ca = pki.make_ca()
    ca.root_key = pki.ec.generate_private_key(pki.ec.SECP256R1())  # P-256 all along the chain
    ca.root = pki._cert(ca.root.subject, ca.root_key, ca.root.subject, ca.root_key, ca=True,
                        not_before=ca.root.not_valid_before_utc,
                        not_after=ca.root.not_valid_after_utc)
    ca.inter_key = pki.ec.generate_private_key(pki.ec.SECP256R1())
    ca.inter = pki._cert(ca.inter.subject, ca.inter_key, ca.root.subject, ca.root_key, ca=True,
                         not_before=ca.inter.not_valid_before_utc,
                         not_after=ca.inter.not_valid_after_utc)
    leaf = ca.leaf("Signer", "IIN1", kind="ecdsa")
    sig, crls = leaf.sign(DATA, ca.inter), ca.crls()
    at = datetime.now(timezone.utc)
    return best_ms(lambda: verify_detached(sig, DATA, anchors=TrustAnchors((ca.root,)), at=at,
                                           crls=crls), repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    ecdsa = ecdsa_case(args.repeat)
    print(f"{'ECDSA P-256 chain of 3, 2 CRLs':<44} {ecdsa:9.2f} ms")
    for bits in (256, 512):
        cold, warm = gost_case(bits, args.repeat)
        print(f"{f'GOST {bits}-bit signer, chain of 3, 2 CRLs':<44} {cold:9.2f} ms   "
              f"{cold / ecdsa:6.0f}x ECDSA")
        print(f"{'  same chain and CRLs again (cached)':<44} {warm:9.2f} ms   "
              f"{warm / ecdsa:6.0f}x ECDSA")
    for bits in (256, 512):
        key = gost_pki.make_key(bits)
        pub = gost.parse_public_key(key.spki().dump())
        sigs = iter([key.sign(DATA + bytes([i])) for i in range(args.repeat)])
        msgs = iter([DATA + bytes([i]) for i in range(args.repeat)])
        one = best_ms(lambda: gost.verify(pub, next(sigs), next(msgs), gost.SIG_256
                                          if bits == 256 else gost.SIG_512), args.repeat)
        print(f"{f'one GOST {bits}-bit signature (Streebog + curve)':<44} {one:9.2f} ms")
    print("(chains: GOST root and intermediate 256-bit; ECDSA all P-256)")


if __name__ == "__main__":
    main()
