"""`courtroom verify OUT.zip`: check an exported stenogram bundle offline (no database, no
network). Prints every check; exits 1 if any failed, 2 if the file is not a bundle at all.
`courtroom verify protocol.pdf --trust DIR` checks a sealed protocol PDF (stenogram/pades.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from media.redaction import check_bundle_audio
from stenogram.redaction import is_redacted_file
from stenogram.verify import Check, format_report, verify_bundle


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify an exported stenogram bundle offline",
                       description="Check the versions, signatures, revision chain, audit-log "
                       "proofs and media hashes of a bundle made by `courtroom export`.")
    p.add_argument("bundle", type=Path, help="the bundle zip (OUT.zip), or a signed protocol "
                   "PDF (its PAdES signatures, attached version and certificate signatures)")
    p.add_argument("--trust", action="append", default=[], metavar="FINGERPRINT",
                   help="a key fingerprint (SHA-256 hex, spaces allowed, at least 32 digits) "
                   "the court publishes for its judges, secretaries and server; repeatable. "
                   "With any --trust or --trusted-keys, every signature must be by such a key. "
                   "For a PDF: a folder of the court's root (and intermediate) certificates, "
                   "PEM, to which every PAdES signature must chain")
    p.add_argument("--trusted-keys", type=Path, metavar="FILE",
                   help="file of trusted fingerprints, one a line (# comments allowed)")
    p.add_argument("--original", type=Path, metavar="ORIGINAL.zip",
                   help="for a redacted copy's bundle: the bundle of the version it redacts; "
                   "checks that the copy differs from it only inside the declared spans, in "
                   "the text and (with both exported with their media) in the recordings")
    p.add_argument("--json", action="store_true", help="print the checks as JSON lines")
    p.set_defaults(func=run)


def _verify_pdf(args: argparse.Namespace) -> int:
    import logging

    from stenogram.cms import TrustAnchors, load_trust_dir
    from stenogram.pades import verify_pdf
    dirs = [Path(t) for t in getattr(args, "trust", None) or []]
    if any(not d.is_dir() for d in dirs):
        print("for a PDF, --trust names a folder of the court's root certificates (PEM)")
        return 2
    anchors = None
    if dirs:
        got = [load_trust_dir(d) for d in dirs]
        anchors = TrustAnchors(tuple(c for a in got for c in a.roots),
                               tuple(c for a in got for c in a.intermediates))
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # failures are in the checks
    try:
        data = args.bundle.read_bytes()
    except OSError as e:
        print(f"cannot read {args.bundle}: {e}")
        return 2
    return _report(args, verify_pdf(data, anchors))


def _report(args: argparse.Namespace, checks: list) -> int:
    """Print the checks (lines or JSON); exit 0 when all pass, 2 when the file could not be
    read at all (its one check failed), else 1."""
    if args.json:
        for c in checks:
            print(json.dumps({"check": c.name, "ok": c.ok, "detail": c.detail},
                             ensure_ascii=False))
    else:
        print(format_report(checks))
    if len(checks) == 1 and not checks[0].ok:
        return 2
    return 0 if all(c.ok for c in checks) else 1


def _is_pdf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    if _is_pdf(args.bundle):
        return _verify_pdf(args)
    trusted = list(getattr(args, "trust", None) or [])
    if getattr(args, "trusted_keys", None):
        try:
            text = args.trusted_keys.read_text()
        except OSError as e:
            print(f"cannot read {args.trusted_keys}: {e}")
            return 2
        trusted += [ln.split("#")[0].strip() for ln in text.splitlines() if ln.split("#")[0].strip()]
    original = getattr(args, "original", None)
    checks = verify_bundle(args.bundle, trusted_keys=trusted or None, original=original)
    if original is not None and is_redacted_file(args.bundle):
        try:
            checks += [Check(name, not problems, detail if not problems else "; ".join(
                problems[:5])) for name, problems, detail in check_bundle_audio(
                    args.bundle, original)]
        except Exception as e:  # noqa: BLE001 - an unreadable recording fails its check
            checks.append(Check("redacted recordings: readable", False, f"{type(e).__name__}: {e}"))
    return _report(args, checks)
