"""The offline verifier: everything it needs is inside the bundle; no database, no network.

``verify_bundle(path)`` returns every check it made as (name, ok, detail), so a reader sees what
was proven, not just a verdict. The CLI (`courtroom verify OUT.zip`) prints them and exits
non-zero if any failed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .bundle import MANIFEST, BundleContents, BundleError, read_bundle
from .canonical import canonical_sha256
from .cms import CMS, root_fingerprint
from .merkle import (MerkleTree, audit_leaf, tree_head_problems, verify_consistency,
                     verify_inclusion)
from .revisions import GENESIS, check_and_fold
from .signing import display_fingerprint, key_info_problems
from .version import SIGNED, SIGNING_ORDER, signature_problems, signature_status, version_problems


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


class _Report:
    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(self, name: str, problems: list[str], ok_detail: str = "") -> bool:
        ok = not problems
        detail = ok_detail if ok else "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        self.checks.append(Check(name, ok, detail))
        return ok


def verify_bundle(path: Path, trusted_keys: Iterable[str] | None = None,
                  original: Path | None = None) -> list[Check]:
    """Every check on the bundle at ``path``. The bundle carries its own public keys, so it
    proves integrity and order by itself; *who* signed is proven only against keys the reader
    trusts from elsewhere (the court's published key fingerprints): pass them as
    ``trusted_keys`` (key ids, i.e. SHA-256 fingerprints in hex) to add that check. A signature
    by a certificate (CMS) is checked with the chain and CRLs the bundle carries, at its
    signing time; its signer is trusted when its chain's root fingerprint is among them."""
    from .redaction import is_redacted_file, verify_redacted_bundle
    if is_redacted_file(Path(path)):
        # a redacted copy's own bundle; ``original`` is the bundle of the version it redacts
        return verify_redacted_bundle(Path(path), original, trusted_keys)
    rep = _Report()
    try:
        b = read_bundle(Path(path))
    except BundleError as e:
        rep.add("bundle", [str(e)])
        return rep.checks
    rep.add("bundle", [], f"hearing {b.manifest.get('hearing_id')}, {len(b.versions)} "
            f"version(s), {len(b.revisions)} revision(s), {len(b.audit_rows)} audit row(s)")
    try:
        hashes: dict[str, str] = {}
        sections = [("manifest", lambda: _manifest(rep, b, hashes)),
                    ("keys", lambda: _keys(rep, b)),
                    ("versions", lambda: _versions(rep, b)),
                    ("audit log", lambda: _audit(rep, b)),
                    ("media", lambda: _media(rep, b, hashes))]
        if trusted_keys is not None:
            wanted = {k.strip().lower().replace(" ", "") for k in trusted_keys}
            sections.append(("trusted keys", lambda: _trust(rep, b, wanted)))
        for name, run in sections:
            try:
                run()
            except Exception as e:  # noqa: BLE001 - malformed content fails its check, loudly
                rep.add(f"{name}: readable", [f"could not be checked: {type(e).__name__}: {e}"])
    finally:
        b.zf.close()
    return rep.checks


def _trust(rep: _Report, b: BundleContents, trusted: set[str]) -> None:
    used = {s.get("key_id"): f"{s['statement']['role']} signature on version "
            f"{s['statement']['version_number']}" for sigs in b.signatures.values() for s in sigs}
    used.update({h.get("key_id"): "audit tree heads" for h in b.tree_heads})
    # a fingerprint may be given shortened (as printed on a document): at least 32 hex digits;
    # a certificate signer is vouched for by the fingerprint of its chain's root
    def known(k: str) -> bool:
        info = b.keys.get(k) or {}
        root = root_fingerprint(info) if info.get("algorithm") == CMS else ""
        return any(len(t) >= 32 and (k.startswith(t) or bool(root and root.startswith(t)))
                   for t in trusted)
    bad = [f"{what} is by untrusted key {str(k)[:16]}…" for k, what in sorted(
        used.items(), key=lambda kv: str(kv[0])) if not known(str(k))]
    rep.add("signing keys are among the trusted keys given", bad,
            f"{len(used)} key(s) used, all trusted")


def _member_sha256(b: BundleContents, name: str, cache: dict[str, str]) -> str:
    """SHA-256 of a zip member, read once even when two checks need it (media can be large)."""
    if name not in cache:
        h = hashlib.sha256()
        with b.zf.open(name) as f:
            while block := f.read(1 << 20):
                h.update(block)
        cache[name] = h.hexdigest()
    return cache[name]


def _manifest(rep: _Report, b: BundleContents, cache: dict[str, str]) -> None:
    listed = b.manifest.get("files") or {}
    problems = []
    for name, meta in listed.items():
        if name not in b.files:
            problems.append(f"{name} is listed but missing")
            continue
        if _member_sha256(b, name, cache) != meta.get("sha256"):
            problems.append(f"{name} differs from the manifest")
    for name in b.files:
        if name != MANIFEST and name not in listed and not name.endswith("/"):
            problems.append(f"{name} is not in the manifest")
    rep.add("manifest: every file present and unchanged", problems, f"{len(listed)} files")


def _keys(rep: _Report, b: BundleContents) -> None:
    for key_id, info in sorted(b.keys.items()):
        p = key_info_problems(info)
        root = (f", certificate {info.get('subject')} under root "
                f"{display_fingerprint(root_fingerprint(info))}"
                if info.get("algorithm") == CMS else "")
        rep.add(f"key {key_id[:16]}…", p, f"{info.get('algorithm')} key of "
                f"{info.get('owner') or 'unnamed'}, fingerprint {display_fingerprint(key_id)}"
                + root)


def _versions(rep: _Report, b: BundleContents) -> None:
    counts = set()
    for v in b.versions:
        try:
            counts.add(int((v.document.get("revisions") or {}).get("count", -1)))
        except (TypeError, ValueError):
            pass
    chain, _, snaps = check_and_fold(b.revisions, counts)
    replays = {c: [s.to_dict() for s in segs] for c, segs in snaps.items()}
    rep.add("revision chain: hashes, links and replay", chain,
            f"{len(b.revisions)} revisions, head {b.revisions[-1].hash[:16]}…"
            if b.revisions else "empty")
    if not b.versions:
        rep.add("versions", ["the bundle has no stenogram version"])
        return
    # the version chain
    links: list[str] = []
    for i, v in enumerate(b.versions):
        if v.number != i + 1:
            links.append(f"version {v.number} found where version {i + 1} should be")
        want_prev = None if i == 0 else b.versions[i - 1].sha256
        if v.document.get("previous_sha256") != want_prev:
            links.append(f"version {v.number} does not link to the version before it")
    rep.add("version chain: numbered 1..n, each links to the one before", links,
            f"{len(b.versions)} version(s)")
    known_numbers = {v.number for v in b.versions}
    orphans = [f"signatures for version {n}, which is not in the bundle"
               for n in b.signatures if n not in known_numbers]
    if orphans:
        rep.add("signatures: all belong to a version in the bundle", orphans)

    for v in b.versions:
        n = v.number
        rep.add(f"version {n}: content matches its SHA-256", version_problems(v),
                v.sha256)
        segs = v.document.get("segments") or []
        order = [f"segment {a['segment_id']} ({a['start_ms']} ms) listed before "
                 f"{c['segment_id']} ({c['start_ms']} ms)"
                 for a, c in zip(segs, segs[1:])
                 if (a["start_ms"], a["source_id"], a["segment_id"])
                 > (c["start_ms"], c["source_id"], c["segment_id"])]
        rep.add(f"version {n}: segments in chronological order", order, f"{len(segs)} segments")
        ids = {p.get("id") for p in v.document.get("participants") or []}
        unknown = sorted({str(s.get("speaker")) for s in segs
                          if s.get("speaker") is not None and s.get("speaker") not in ids})
        rep.add(f"version {n}: every speaker is a participant",
                [f"unknown speaker(s) {', '.join(unknown)}"] if unknown else [])
        rep.add(f"version {n}: segments are the replay of the revision chain",
                _replay(v, b, replays))
        if v.document.get("notes"):
            rep.add(f"version {n}: every log note is as the audit log recorded it",
                    _note_problems(v, b), f"{len(v.document['notes'])} note(s)")
        sigs = b.signatures.get(n, [])
        sp = signature_problems(v, sigs, b.keys)
        who = ", ".join(f"{s['statement']['role']} {s['statement']['signer'].get('name')} "
                        f"at {s['statement']['signed_at']} (key {s['key_id'][:16]}…)"
                        for s in sigs) or "no signatures"
        rep.add(f"version {n}: signatures verify, secretary then judge", sp, who)
    latest = b.versions[-1]
    latest_sigs = b.signatures.get(latest.number, [])
    state = signature_status(latest, latest_sigs)
    problems = [] if state == SIGNED else [f"version {latest.number} is {state}"]
    if signature_problems(latest, latest_sigs, b.keys):
        problems.append(f"version {latest.number}'s signatures do not all verify")
    rep.add("latest version is signed by " + " and ".join(SIGNING_ORDER), problems,
            f"version {latest.number} is {state}")


def _replay(v, b: BundleContents, replays: dict[int, list[dict]]) -> list[str]:
    r = v.document.get("revisions") or {}
    count = int(r.get("count", -1))
    if count == 0:
        # a hearing without speech (or with transcription off) is signed as an empty version:
        # it commits to the genesis hash and must carry no segments
        empty = []
        if r.get("head_hash") != GENESIS:
            empty.append("version claims 0 revisions but its head hash is not the genesis hash")
        if v.document.get("segments"):
            empty.append("version claims 0 revisions but lists segments")
        return empty
    if not 0 < count <= len(b.revisions):
        return [f"version claims {count} revisions; the chain has {len(b.revisions)}"]
    if b.revisions[count - 1].hash != r.get("head_hash"):
        return [f"revision {count - 1} hash is not the version's head hash"]
    expected = replays.get(count)
    if expected is None:
        return ["the revision chain cannot be replayed up to this version"]
    got = v.document.get("segments") or []
    if expected == got:
        return []
    exp_ids = {s["segment_id"]: s for s in expected}
    diffs = []
    for s in got:
        e = exp_ids.get(s.get("segment_id"))
        if e is None:
            diffs.append(f"segment {s.get('segment_id')} is not in the chain")
        elif e != s:
            fields = sorted(k for k in set(e) | set(s) if e.get(k) != s.get(k))
            diffs.append(f"segment {s.get('segment_id')} differs in {', '.join(fields)}")
    if len(got) != len(expected):
        diffs.append(f"{len(got)} segments, the chain gives {len(expected)}")
    if not diffs:
        diffs.append("segments are in a different order from the chain's")
    return diffs


def _note_problems(v, b: BundleContents) -> list[str]:
    """Each note was written with a ``note.add`` audit row holding its SHA-256, so a note
    changed in a version (even one re-hashed) no longer matches the hash-chained log."""
    logged = {(r.get("data") or {}).get("note_id"): (r.get("data") or {}).get("sha256")
              for r in b.audit_rows if r.get("action") == "note.add"}
    problems = []
    for note in v.document.get("notes") or []:
        want = logged.get(note.get("id"))
        if want is None:
            problems.append(f"note {note.get('id')} has no audit row")
        elif canonical_sha256(note) != want:
            problems.append(f"note {note.get('id')} differs from the one the audit log recorded")
    return problems


def _audit(rep: _Report, b: BundleContents) -> None:
    leaves = [audit_leaf(r) for r in b.audit_rows]
    tree = MerkleTree(leaves)
    _audit_commitments(rep, b, tree)
    heads = b.tree_heads
    if not heads:
        rep.add("audit log: signed tree heads", ["no signed tree head in the bundle"])
        return
    problems: list[str] = []
    log_ids = {h.get("log_id") for h in heads}
    if len(log_ids) != 1:
        problems.append(f"tree heads of several logs: {sorted(map(str, log_ids))}")
    sizes = [h.get("tree_size", -1) for h in heads]
    if sizes != sorted(sizes):
        problems.append("tree heads are not in size order")
    for h in heads:
        problems += tree_head_problems(h, b.keys)
    rep.add("audit log: tree heads signed by a key in the bundle", problems,
            f"{len(heads)} tree head(s), latest size {sizes[-1]} at {heads[-1].get('timestamp')}")

    chain = []
    prev_hash = "0" * 64
    for i, r in enumerate(b.audit_rows):
        if "prev_hash" in r and r.get("prev_hash") != prev_hash:
            chain.append(f"row {i} (seq {r.get('seq')}) does not link to the row before it")
        if i and isinstance(r.get("seq"), int) and r["seq"] != b.audit_rows[i - 1].get("seq", -9) + 1:
            chain.append(f"row {i} has seq {r.get('seq')} after {b.audit_rows[i - 1].get('seq')}")
        prev_hash = canonical_sha256(r)
    rep.add("audit log: rows hash-chained in sequence", chain)

    latest = heads[-1]["tree_size"]
    missing = (f"row {latest}" if latest == len(leaves) + 1
               else f"rows {len(leaves) + 1}-{latest}")
    trunc = [] if len(leaves) >= latest else [
        f"{missing} missing: the signed head of {heads[-1].get('timestamp')} covers {latest} "
        f"rows, the bundle has {len(leaves)}"]
    rep.add("audit log: not truncated (rows cover the latest signed tree head)", trunc,
            f"{len(leaves)} rows" + (f", {len(leaves) - latest} after the latest head"
                                     if len(leaves) > latest else ""))
    mism = []
    for h in heads:
        if h["tree_size"] <= len(leaves) and tree.root(h["tree_size"]).hex() != h["root_hash"]:
            mism.append(f"rows 0..{h['tree_size'] - 1} do not hash to the head of size "
                        f"{h['tree_size']}")
    rep.add("audit log: rows hash to every signed root (RFC 6962)", mism)

    cons = []
    by_size = {h["tree_size"]: h for h in heads}
    pairs = {(c["first"], c["second"]): c for c in b.proofs.get("consistency", [])}
    for a, c in zip(heads, heads[1:]):
        pr = pairs.get((a["tree_size"], c["tree_size"]))
        if pr is None:
            cons.append(f"no consistency proof {a['tree_size']} -> {c['tree_size']}")
            continue
        if not verify_consistency(a["tree_size"], c["tree_size"], bytes.fromhex(a["root_hash"]),
                                  bytes.fromhex(c["root_hash"]),
                                  [bytes.fromhex(p) for p in pr["proof"]]):
            cons.append(f"consistency proof {a['tree_size']} -> {c['tree_size']} fails")
    rep.add("audit log: each signed head extends the one before (consistency proofs)", cons,
            f"{max(0, len(heads) - 1)} proof(s)")

    inc = []
    proofs = b.proofs.get("inclusion", [])
    for p in proofs:
        i, size = p["index"], p["tree_size"]
        h = by_size.get(size)
        if h is None or i >= len(leaves):
            inc.append(f"inclusion proof for row {i} in a tree of {size} has nothing to match")
            continue
        if not verify_inclusion(leaves[i], i, size, [bytes.fromhex(x) for x in p["proof"]],
                                bytes.fromhex(h["root_hash"])):
            inc.append(f"row {i} is not included in the head of size {size}")
    if len(proofs) < min(latest, len(leaves)):
        inc.append(f"only {len(proofs)} inclusion proofs for {latest} signed rows")
    rep.add("audit log: inclusion proof of every row in the latest head", inc,
            f"{len(proofs)} proof(s)")

def _audit_commitments(rep: _Report, b: BundleContents, tree: MerkleTree) -> None:
    leaves = tree.leaves
    vp = []
    for v in b.versions:
        a = v.document.get("audit")
        if not a:
            continue
        size = int(a.get("tree_size", 0))
        if size > len(leaves):
            vp.append(f"version {v.number} saw {size} audit rows; the bundle has {len(leaves)}")
        elif tree.root(size).hex() != a.get("root_hash"):
            vp.append(f"version {v.number}'s audit root differs from rows 0..{size - 1}")
    rep.add("audit log: the log each version committed to is a prefix of this one", vp)


def _media(rep: _Report, b: BundleContents, cache: dict[str, str]) -> None:
    listed: dict[str, str] = {}
    for v in b.versions:
        for r in v.document.get("recordings") or []:
            listed[r["sha256"]] = "recordings"
        for e in v.document.get("evidence") or []:
            listed[e["sha256"]] = "evidence"
    media = [n for n in b.files if n.startswith("media/") and not n.endswith("/")]
    problems, seen = [], set()
    for name in media:
        kind, fname = name.split("/")[1:3]
        sha = fname.split(".")[0]
        got = _member_sha256(b, name, cache)
        if got != sha:
            problems.append(f"{name}: content hash {got[:16]}… is not its name")
        elif listed.get(sha) != kind:
            problems.append(f"{name}: not a {kind[:-1]} of any version")
        seen.add(sha)
    latest = b.versions[-1].document if b.versions else {}
    n_rec, n_ev = len(latest.get("recordings") or []), len(latest.get("evidence") or [])
    present = sum(1 for s in listed if s in seen)
    rep.add("media: every included recording/evidence file has the signed SHA-256", problems,
            f"latest version lists {n_rec} recording chunk(s) and {n_ev} evidence file(s); "
            f"{present} of {len(listed)} hashes have their file in the bundle")


def format_report(checks: list[Check]) -> str:
    lines = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name}" + (f": {c.detail}" if c.detail else "")
             for c in checks]
    failed = sum(not c.ok for c in checks)
    lines.append(f"VERIFICATION FAILED: {failed} of {len(checks)} checks failed" if failed else
                 f"verified: all {len(checks)} checks hold")
    return "\n".join(lines)
