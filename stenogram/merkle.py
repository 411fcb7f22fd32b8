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


class MerkleTree:
    """Leaf hashes plus a cache of subtree hashes, so the roots of many prefixes and the proofs
    of every leaf cost O(n log n) together instead of O(n) each. Leaves are not changed after
    construction (make a new tree for a longer log)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._cache: dict[tuple[int, int], bytes] = {}

    def _range(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) for a subtree range of the RFC 6962 recursion."""
        n = b - a
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaves[a]
        got = self._cache.get((a, b))
        if got is None:
            k = _split(n)
            got = node_hash(self._range(a, a + k), self._range(a + k, b))
            self._cache[(a, b)] = got
        return got

    def root(self, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"no tree of size {size} in a log of {len(self.leaves)}")
        return self._range(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 section 2.1.1."""
        size = len(self.leaves) if size is None else size
        if not 0 <= index < size <= len(self.leaves):
            raise ValueError(f"no leaf {index} in a tree of {size}")
        out: list[bytes] = []
        a, b, m = 0, size, index
        while b - a > 1:
            k = _split(b - a)
            if m < k:
                out.append(self._range(a + k, b))
                b = a + k
            else:
                out.append(self._range(a, a + k))
                a, m = a + k, m - k
        return out[::-1]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 section 2.1.2."""
        second = len(self.leaves) if second is None else second
        if not 0 <= first <= second <= len(self.leaves):
            raise ValueError(f"no consistency proof from {first} to {second}")
        if first == 0 or first == second:
            return []
        out: list[bytes] = []
        a, b, m, whole = 0, second, first, True
        while True:
            n = b - a
            if m == n:
                if not whole:
                    out.append(self._range(a, b))
                break
            k = _split(n)
            if m <= k:
                out.append(self._range(a + k, b))
                b = a + k
            else:
                out.append(self._range(a, a + k))
                a, m, whole = a + k, m - k, False
        return out[::-1]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes."""
    return MerkleTree(leaves).root()


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    return MerkleTree(leaves).inclusion_proof(index, size)


def consistency_proof(leaves: Sequence[bytes], first: int, second: int | None = None) -> list[bytes]:
    return MerkleTree(leaves).consistency_proof(first, second)


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


def sign_tree_head(signer: Signer, log_id: str, leaves: "Sequence[bytes] | MerkleTree",
                   timestamp: str, size: int | None = None) -> dict[str, Any]:
    """A signed tree head over leaves[0:size] (a JSON-able dict the server stores as is)."""
    size = len(leaves.leaves if isinstance(leaves, MerkleTree) else leaves) if size is None \
        else size
    tree = leaves if isinstance(leaves, MerkleTree) else MerkleTree(leaves)
    stmt = tree_head_statement(log_id, size, tree.root(size), timestamp)
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
