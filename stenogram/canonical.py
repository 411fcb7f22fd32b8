"""Canonical JSON (RFC 8785, JCS) and the SHA-256 over it.

Every hash in the stenogram (segments, revisions, versions, signature statements, audit rows) is
taken over the canonical form, so key order and whitespace in a stored or exported copy never
change a hash, and an independent verifier in any language can recompute it."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_bytes(obj: Any) -> bytes:
    """RFC 8785 serialisation. Raises rfc8785.CanonicalizationError on NaN/inf or integers
    beyond the I-JSON range, which would not round-trip through other JSON implementations."""
    return rfc8785.dumps(obj)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(obj: Any) -> str:
    """SHA-256 (hex) of the canonical form of ``obj``."""
    return sha256_hex(canonical_bytes(obj))
