"""The audit log as an RFC 6962 Merkle tree (leaf hash = SHA-256(0x00 || data), node hash =
SHA-256(0x01 || left || right); distinct prefixes so a leaf can never pass for a node).

The hearing server produces the audit rows; each row's canonical JSON is one leaf. Periodically
the server signs a tree head (size, root, time); inclusion proofs show a row is in a signed
tree, consistency proofs show a later tree extends an earlier one (nothing was rewritten or cut).
Pure functions over lists of leaf hashes, so the server can keep the hashes wherever it likes."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

from .canonical import canonical_bytes, canonical_sha256
from .signing import Signer, b64, unb64, verify_signature

EMPTY_ROOT = hashlib.sha256(b"").digest()
STH_FORMAT = "courtroom-tree-head/1"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def audit_leaf(row: Mapping[str, Any]) -> bytes:
    """The leaf hash of one audit row: over its canonical JSON."""
    return leaf_hash(canonical_bytes(dict(row)))


def _split(n: int) -> int:
    """Largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 section 2.1.1."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {size}")

    def path(m: int, d: Sequence[bytes]) -> list[bytes]:
        if len(d) == 1:
            return []
        k = _split(len(d))
        if m < k:
            return path(m, d[:k]) + [root(d[k:])]
        return path(m - k, d[k:]) + [root(d[:k])]

    return path(index, leaves[:size])


def consistency_proof(leaves: Sequence[bytes], first: int, second: int | None = None) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 6962 section 2.1.2."""
    second = len(leaves) if second is None else second
    if not 0 <= first <= second <= len(leaves):
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == 0 or first == second:
        return []

    def sub(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if whole else [root(d)]
        k = _split(n)
        if m <= k:
            return sub(m, d[:k], whole) + [root(d[k:])]
        return sub(m - k, d[k:], False) + [root(d[:k])]

    return sub(first, leaves[:second], True)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     expected_root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2 (size 0 is consistent with anything, given no proof)."""
    if not 0 <= first <= second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself on the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# ---------------------------------------------------------------- signed tree heads

def tree_head_statement(log_id: str, tree_size: int, root_hash: bytes, timestamp: str) -> dict[str, Any]:
    return {"format": STH_FORMAT, "log_id": log_id, "tree_size": tree_size,
            "root_hash": root_hash.hex(), "timestamp": timestamp}


def sign_tree_head(signer: Signer, log_id: str, leaves: Sequence[bytes], timestamp: str,
                   size: int | None = None) -> dict[str, Any]:
    """A signed tree head over leaves[0:size] (a JSON-able dict the server stores as is)."""
    size = len(leaves) if size is None else size
    stmt = tree_head_statement(log_id, size, root(leaves[:size]), timestamp)
    return {**stmt, "algorithm": signer.algorithm, "key_id": signer.key_id,
            "signature": b64(signer.sign(canonical_bytes(stmt)))}


def tree_head_problems(sth: Mapping[str, Any], keys: Mapping[str, dict[str, Any]]) -> list[str]:
    """Signature check of a tree head against the public keys (key_id -> public_key_info)."""
    stmt = {k: sth.get(k) for k in ("format", "log_id", "tree_size", "root_hash", "timestamp")}
    key = keys.get(sth.get("key_id", ""))
    if key is None:
        return [f"tree head {sth.get('tree_size')} signed by unknown key {sth.get('key_id')}"]
    try:
        ok = verify_signature(key, canonical_bytes(stmt), unb64(sth["signature"]))
    except Exception as e:  # noqa: BLE001 - any failure to check is a failed check
        return [f"tree head {sth.get('tree_size')}: {e}"]
    return [] if ok else [f"tree head {sth.get('tree_size')}: signature does not verify"]


def tree_head_id(sth: Mapping[str, Any]) -> str:
    return canonical_sha256(dict(sth))
