"""The export bundle: one zip that carries everything needed to check a stenogram offline.

Layout (every JSON file is canonical JSON, RFC 8785):
  manifest.json              format, hearing id, created_at, SHA-256 and size of every other file
  versions/v0001.json        {"sha256", "document"} per version, in order; the document's
                             recordings carry each source's gaps (where its audio is missing,
                             and why), so the signatures cover them, and the
                             judge's and secretary's log notes (each matched against its
                             note.add audit row by the verifier)
  signatures/v0001.json      the signature records on that version, in signing order
  keys/<key_id>.json         public keys (signing users and the server's tree-head key)
  revisions.jsonl            the revision chain, one revision per line
  audit/rows.jsonl           the hearing's audit log rows (leaf i = row i)
  audit/tree_heads.json      signed tree heads, by size: every head the server signed, also
                             those kept only outside its database (a head over more rows
                             than the bundle has shows a truncated log)
  audit/proofs.json          consistency proofs between successive heads, inclusion proof of
                             every row in the latest head
  media/recordings/<sha256>[.ext], media/evidence/<sha256>[.ext]   with --media only
  documents/...              optional human-readable exports (protocol.pdf, .docx, .txt …)
The manifest is a convenience for spotting a damaged file; trust comes from the signatures."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .canonical import canonical_bytes
from .merkle import MerkleTree, audit_leaf
from .revisions import Revision, utc_now
from .version import StenogramVersion

BUNDLE_FORMAT = "courtroom-bundle/1"
MANIFEST = "manifest.json"


class BundleError(Exception):
    """A file that is not a readable bundle at all (the verifier reports it as a failed check)."""


def _version_name(number: int) -> str:
    return f"v{number:04d}.json"


def _jsonl(items: Iterable[Any]) -> bytes:
    return b"".join(canonical_bytes(i) + b"\n" for i in items)


def write_bundle(path: Path, *, versions: Sequence[StenogramVersion],
                 signatures: Sequence[Mapping[str, Any]],
                 public_keys: Sequence[Mapping[str, Any]],
                 revisions: Sequence[Revision | Mapping[str, Any]],
                 audit_rows: Sequence[Mapping[str, Any]] = (),
                 tree_heads: Sequence[Mapping[str, Any]] = (),
                 media: Mapping[str, Path] | None = None,
                 documents: Mapping[str, bytes] | None = None,
                 created_at: str | None = None) -> dict[str, Any]:
    """Write the bundle zip (atomically: temp file then rename). ``signatures`` may be all
    signature records of the hearing (grouped here by the version they sign); ``media`` maps a
    recording/evidence SHA-256 to its file (only hashes listed in a version are accepted).
    Returns the manifest."""
    path = Path(path)
    versions = sorted(versions, key=lambda v: v.number)
    by_hash = {v.sha256: v for v in versions}
    files: dict[str, dict[str, Any]] = {}
    tmp = path.with_name(path.name + ".part")

    listed: dict[str, str] = {}
    for v in versions:
        for r in v.document.get("recordings", []):
            listed[r["sha256"]] = "recordings"
        for e in v.document.get("evidence", []):
            listed[e["sha256"]] = "evidence"

    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def put(name: str, data: bytes) -> None:
            zf.writestr(name, data)
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

        for v in versions:
            put(f"versions/{_version_name(v.number)}", canonical_bytes(v.to_dict()))
            mine = [dict(s) for s in signatures if s["statement"]["version_sha256"] == v.sha256]
            if mine:
                put(f"signatures/{_version_name(v.number)}", canonical_bytes(mine))
        stray = [s for s in signatures if s["statement"]["version_sha256"] not in by_hash]
        if stray:
            raise BundleError(f"{len(stray)} signature(s) on versions not in the bundle")
        for k in public_keys:
            put(f"keys/{k['key_id']}.json", canonical_bytes(dict(k)))
        put("revisions.jsonl", _jsonl(r.to_dict() if isinstance(r, Revision) else dict(r)
                                      for r in revisions))
        put("audit/rows.jsonl", _jsonl(dict(r) for r in audit_rows))
        heads = sorted((dict(h) for h in tree_heads), key=lambda h: h["tree_size"])
        put("audit/tree_heads.json", canonical_bytes(heads))
        leaves = [audit_leaf(r) for r in audit_rows]
        tree = MerkleTree(leaves)
        proofs: dict[str, Any] = {"consistency": [], "inclusion": []}
        for a, b in zip(heads, heads[1:]):
            if b["tree_size"] <= len(leaves):
                proofs["consistency"].append({
                    "first": a["tree_size"], "second": b["tree_size"],
                    "proof": [p.hex() for p in tree.consistency_proof(a["tree_size"],
                                                                      b["tree_size"])]})
        if heads and 0 < heads[-1]["tree_size"] <= len(leaves):
            size = heads[-1]["tree_size"]
            for i in range(size):
                proofs["inclusion"].append({"index": i, "tree_size": size, "proof": [
                    p.hex() for p in tree.inclusion_proof(i, size)]})
        put("audit/proofs.json", canonical_bytes(proofs))

        for sha, src in (media or {}).items():
            kind = listed.get(sha)
            if kind is None:
                raise BundleError(f"media {sha} is not a recording or evidence of any version")
            name = f"media/{kind}/{sha}{Path(src).suffix.lower()}"
            h, size = hashlib.sha256(), 0
            with open(src, "rb") as f, zf.open(zipfile.ZipInfo(name), "w",
                                               force_zip64=True) as out:
                while block := f.read(1 << 20):
                    h.update(block)
                    size += len(block)
                    out.write(block)
            files[name] = {"sha256": h.hexdigest(), "size": size}
        for name, data in (documents or {}).items():
            put(f"documents/{name}", data)

        hearing_id = versions[-1].document["hearing"].get("id") if versions else None
        manifest = {"format": BUNDLE_FORMAT, "hearing_id": hearing_id,
                    "created_at": created_at or utc_now(), "files": files}
        zf.writestr(MANIFEST, canonical_bytes(manifest))
    tmp.replace(path)
    return manifest


@dataclass
class BundleContents:
    """What a bundle says, parsed; ``files`` lists member names (media read lazily)."""
    zf: zipfile.ZipFile
    manifest: dict[str, Any]
    versions: list[StenogramVersion] = field(default_factory=list)
    signatures: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    revisions: list[Revision] = field(default_factory=list)
    audit_rows: list[dict[str, Any]] = field(default_factory=list)
    tree_heads: list[dict[str, Any]] = field(default_factory=list)
    proofs: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _load(zf: zipfile.ZipFile, name: str) -> Any:
    try:
        return json.loads(zf.read(name))
    except KeyError:
        raise BundleError(f"{name} is missing") from None
    except ValueError as e:
        raise BundleError(f"{name} is not JSON: {e}") from None


def _load_lines(zf: zipfile.ZipFile, name: str) -> list[Any]:
    try:
        return [json.loads(line) for line in zf.read(name).splitlines() if line.strip()]
    except KeyError:
        raise BundleError(f"{name} is missing") from None
    except ValueError as e:
        raise BundleError(f"{name} is not JSON lines: {e}") from None


def read_bundle(path: Path) -> BundleContents:
    """Open and parse a bundle. Raises BundleError if it is not one; content problems (bad
    hashes, signatures, proofs) are for stenogram.verify to find, not for this function."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise BundleError(f"cannot open {path} as a zip: {e}") from None
    manifest = _load(zf, MANIFEST)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"not a courtroom bundle (format {manifest.get('format')!r})")
    b = BundleContents(zf=zf, manifest=manifest, files=zf.namelist())
    try:
        for name in sorted(n for n in b.files if n.startswith("versions/")):
            b.versions.append(StenogramVersion.from_dict(_load(zf, name)))
        for name in sorted(n for n in b.files if n.startswith("signatures/")):
            num = int(name.rsplit("/", 1)[1][1:5])
            b.signatures[num] = list(_load(zf, name))
        for name in (n for n in b.files if n.startswith("keys/")):
            k = _load(zf, name)
            b.keys[str(k.get("key_id"))] = k
        b.revisions = [Revision.from_dict(r) for r in _load_lines(zf, "revisions.jsonl")]
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"malformed bundle content: {e!r}") from None
    b.audit_rows = _load_lines(zf, "audit/rows.jsonl")
    b.tree_heads = list(_load(zf, "audit/tree_heads.json"))
    b.proofs = dict(_load(zf, "audit/proofs.json"))
    return b
