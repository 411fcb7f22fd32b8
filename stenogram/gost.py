"""GOST R 34.10-2012 signature verification and GOST R 34.11-2012 (Streebog) digests, as X.509
certificates, CRLs, OCSP responses and CMS signatures of Russian-profile PKIs carry them.

The curve arithmetic and the hash are ``gostcrypto``'s; this module only reads the encodings and
puts the numbers in the order the standard's arithmetic wants. The encodings followed:

- RFC 9215 section 4 (and RFC 4491 section 2.3.2 before it): the subjectPublicKeyInfo
  algorithm is id-tc26-gost3410-12-256 (1.2.643.7.1.1.1.1) or -512 (1.2.643.7.1.1.1.2) with
  parameters ``SEQUENCE { publicKeyParamSet OID, digestParamSet OID OPTIONAL }``; the
  subjectPublicKey BIT STRING holds a DER OCTET STRING of 64 or 128 bytes: X then Y, each
  little-endian.
- RFC 9215 section 3 / RFC 4491 section 2.2.2: a certificate's or CRL's signature value is 64
  or 128 bytes, the big-endian s followed by the big-endian r; the algorithm is
  id-tc26-signwithdigest-gost3410-12-256 (1.2.643.7.1.1.3.2, with Streebog-256) or -512
  (1.2.643.7.1.1.3.3, with Streebog-512), with absent parameters.
- RFC 4490 section 3 (CMS with GOST; RFC 9337 for the 2012 algorithms): SignerInfo's
  signatureAlgorithm is the key's OID (or the signwithdigest OID), its digestAlgorithm
  id-tc26-gost3411-12-256 (1.2.643.7.1.1.2.2) or -512 (1.2.643.7.1.1.2.3), and the signature
  value is laid out as above.
- GOST R 34.10-2012 section 6.2 (RFC 7091 section 6.2), step 2: the digest is read as the
  number alpha whose binary form is the hash vector; Streebog's output bytes as every
  implementation writes them (RFC 6986 test vectors read right to left) are that number in
  little-endian order.

Parameter sets (RFC 7836 appendix A.2, R 1323565.1.024-2019): the CryptoPro sets A, B, C and
XchA, XchB are the same curves as tc26 256-bit sets B, C, D, B, D.

The Kazakh national PKI (NCA RK) signs with GOST 34.310-2004 and the Kazakh GOST R 34.10-2015
under OIDs 1.2.398.3.10.1.1.…; their curves and encodings are not those of the tc26 profile,
and they are recognised and refused (``kazakh``)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import core
from gostcrypto import gosthash
from gostcrypto.gostsignature import gost_34_10_2012 as g3410

KEY_256, KEY_512 = "1.2.643.7.1.1.1.1", "1.2.643.7.1.1.1.2"
SIG_256, SIG_512 = "1.2.643.7.1.1.3.2", "1.2.643.7.1.1.3.3"
DIGEST_256, DIGEST_512 = "1.2.643.7.1.1.2.2", "1.2.643.7.1.1.2.3"
#: Key, signature and digest OID -> size in bits (of the key and of the Streebog digest).
SIZES = {KEY_256: 256, SIG_256: 256, DIGEST_256: 256,
         KEY_512: 512, SIG_512: 512, DIGEST_512: 512}

#: Parameter-set OID -> gostcrypto's curve name.
PARAM_SETS = {
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro A
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro B
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro C
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro XchA
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro XchB
    "1.2.643.7.1.2.1.2.1": "id-tc26-gost-3410-12-512-paramSetA",
    "1.2.643.7.1.2.1.2.2": "id-tc26-gost-3410-12-512-paramSetB",
    "1.2.643.7.1.2.1.2.3": "id-tc26-gost-3410-2012-512-paramSetC",
}

#: Kazakh (NCA RK) algorithm OIDs, named for the refusal message.
KAZAKH = {
    "1.2.398.3.10.1.1.1.1": "GOST 34.310-2004 key",
    "1.2.398.3.10.1.1.1.2": "GOST 34.311-95 with GOST 34.310-2004",
    "1.2.398.3.10.1.1.2.1": "GOST R 34.10-2015 (Kazakhstan) 256-bit key",
    "1.2.398.3.10.1.1.2.2": "GOST R 34.10-2015 (Kazakhstan) 512-bit key",
    "1.2.398.3.10.1.1.2.3.1": "GOST R 34.10-2015 with GOST R 34.11-2015 (Kazakhstan, 256)",
    "1.2.398.3.10.1.1.2.3.2": "GOST R 34.10-2015 with GOST R 34.11-2015 (Kazakhstan, 512)",
}
_KAZAKH_ARC = "1.2.398.3.10."
#: GOST R 34.10-2001 and 34.11-94 (superseded): recognised, not verified.
_GOST_2001 = ("1.2.643.2.2.3", "1.2.643.2.2.19", "1.2.643.2.2.9")


class GostError(ValueError):
    """A GOST key or signature that cannot be used; ``code`` is "unsupported" or "malformed"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def is_gost(oid: str) -> bool:
    """Whether an algorithm OID belongs to a GOST family (Russian or Kazakh)."""
    return oid.startswith(("1.2.643.", _KAZAKH_ARC))


def kazakh(oid: str) -> str | None:
    """The name of a Kazakh national-PKI algorithm OID, or None."""
    if not oid.startswith(_KAZAKH_ARC):
        return None
    return KAZAKH.get(oid, f"Kazakh national PKI algorithm {oid}")


def check_supported(oid: str) -> int:
    """The size (256 or 512) of a tc26 GOST 2012 key, signature or digest OID; GostError for
    the GOST algorithms that are recognised but not verified."""
    if oid in SIZES:
        return SIZES[oid]
    name = kazakh(oid)
    if name is not None:
        raise GostError("unsupported", f"{name} ({oid}) is not verified: only GOST R 34.10-2012 "
                        "with the tc26 and CryptoPro parameter sets is")
    if oid.startswith(_GOST_2001):
        raise GostError("unsupported", f"GOST R 34.10-2001 / 34.11-94 ({oid}) is not verified")
    raise GostError("unsupported", f"GOST algorithm {oid} is not verified")


class _KeyParameters(core.Sequence):
    _fields = [("public_key_param_set", core.ObjectIdentifier),
               ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
               ("encryption_param_set", core.ObjectIdentifier, {"optional": True})]


class _Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _PublicKeyInfo(core.Sequence):
    """SubjectPublicKeyInfo read without asn1crypto's table of known key algorithms."""
    _fields = [("algorithm", _Algorithm), ("public_key", core.OctetBitString)]


@dataclass(frozen=True)
class PublicKey:
    """A GOST R 34.10-2012 public key: its size, curve and point."""
    bits: int
    param_set: str
    x: int
    y: int

    @property
    def size(self) -> int:
        """Bytes in one coordinate, in r and in s."""
        return self.bits // 8


def parse_public_key(spki_der: bytes) -> PublicKey:
    """A GOST public key from the DER of a SubjectPublicKeyInfo (RFC 9215 section 4)."""
    try:
        spki = _PublicKeyInfo.load(spki_der, strict=True)
        oid = spki["algorithm"]["algorithm"].dotted
        bits = check_supported(oid)
        if oid not in (KEY_256, KEY_512):
            raise GostError("unsupported", f"{oid} is not a GOST R 34.10-2012 key algorithm")
        params = _KeyParameters.load(spki["algorithm"]["parameters"].dump(), strict=True)
        param_set = params["public_key_param_set"].dotted
        point = core.OctetString.load(spki["public_key"].native, strict=True).native
    except GostError:
        raise
    except Exception as e:  # noqa: BLE001 - asn1crypto raises many types on bad input
        raise GostError("malformed", f"unreadable GOST public key: {e}") from None
    name = PARAM_SETS.get(param_set)
    if name is None or (bits == 512) != ("512" in name):
        raise GostError("unsupported", f"GOST parameter set {param_set} is not accepted for "
                        f"a {bits}-bit key")
    n = bits // 8
    if len(point) != 2 * n:
        raise GostError("malformed", f"a {bits}-bit GOST public key has {len(point)} bytes")
    key = PublicKey(bits, param_set, int.from_bytes(point[:n], "little"),
                    int.from_bytes(point[n:], "little"))
    a, b, p = (getattr(curve(bits, name), f) for f in ("_a", "_b", "_p"))
    # gostcrypto takes a zero coordinate for "no point given" and would use the base point
    if not (key.x and key.y) or (key.y * key.y - key.x ** 3 - a * key.x - b) % p:
        raise GostError("malformed", "the GOST public key is not a point of its curve")
    return key


def streebog(data: bytes, bits: int) -> bytes:
    """GOST R 34.11-2012 digest of 256 or 512 bits, bytes as implementations write them."""
    return bytes(gosthash.new(f"streebog{bits}", data=bytearray(data)).digest())


def verify(key: PublicKey, signature: bytes, data: bytes, algorithm: str) -> bool:
    """Whether ``signature`` (big-endian s || r) is ``key``'s over ``data`` with ``algorithm`` (a
    signwithdigest OID, or the key's own OID as CMS uses it); the digest is Streebog of the
    key's size, as RFC 9215 ties them. Results are remembered: the same certificates and CRLs
    come again with every signature a court checks, and the answer for the same key, value and
    bytes does not change."""
    if check_supported(algorithm) != key.bits or algorithm.startswith("1.2.643.7.1.1.2."):
        raise GostError("unsupported", f"signature algorithm {algorithm} does not fit a "
                        f"{key.bits}-bit GOST key")
    mark = (key, bytes(signature), hashlib.sha256(data).digest())
    ok = _results.get(mark)
    if ok is None:
        ok = verify_digest(key, signature, streebog(data, key.bits))
        with _results_lock:  # verifications run in executor threads
            while len(_results) >= _REMEMBER:
                del _results[next(iter(_results))]
            _results[mark] = ok
    return ok


_REMEMBER = 1024
_results_lock = threading.Lock()
_results: dict[tuple[PublicKey, bytes, bytes], bool] = {}


def verify_digest(key: PublicKey, signature: bytes, digest: bytes) -> bool:
    """Whether ``signature`` (big-endian s || r) is ``key``'s over a Streebog ``digest``."""
    n = key.size
    if len(signature) != 2 * n or len(digest) != n:
        return False
    s, r = signature[:n], signature[n:]
    point = bytearray(key.x.to_bytes(n, "big") + key.y.to_bytes(n, "big"))
    # gostcrypto reads the digest as a big-endian number and the value as r || s
    try:
        return bool(curve(key.bits, PARAM_SETS[key.param_set]).verify(
            point, bytearray(digest[::-1]), bytearray(r + s)))
    except (g3410.GOSTSignatureError, ValueError):
        return False


class _Curve(g3410.GOST34102012):
    """gostcrypto's curve, its signing and verification steps unchanged, with faster point
    arithmetic: modular inverses by ``pow`` instead of a recursive Euclid in Python, integer
    comparisons instead of byte arrays, and scalar multiplication in Jacobian coordinates
    (one inverse per product instead of one per addition). A point at infinity or an inverse
    that does not exist (only from crafted input) raises ValueError."""

    def _mul_point(self, mul_value: int, x_op: int = -1, y_op: int = -1) -> tuple[int, int]:
        base = (x_op, y_op, 1) if x_op > 0 and y_op > 0 else (self._x, self._y, 1)
        acc = None
        for bit in bin(mul_value)[2:]:
            acc = self._jdouble(acc)
            if bit == "1":
                acc = self._jadd(acc, base)
        if acc is None:
            raise ValueError("point at infinity")
        x, y, z = acc
        zi = pow(z, -1, self._p)
        zi2 = zi * zi % self._p
        return x * zi2 % self._p, y * zi2 * zi % self._p

    def _jdouble(self, pt: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if pt is None or pt[1] == 0:
            return None
        p = self._p
        x, y, z = pt
        yy = y * y % p
        zz = z * z % p
        s = 4 * x * yy % p
        m = (3 * x * x + self._a * zz * zz) % p
        x3 = (m * m - 2 * s) % p
        return x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p

    def _jadd(self, pt: tuple[int, int, int] | None, q: tuple[int, int, int]
              ) -> tuple[int, int, int] | None:
        if pt is None:
            return q
        p = self._p
        x1, y1, z1 = pt
        x2, y2, z2 = q
        z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
        u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
        s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
        if u1 == u2:
            return self._jdouble(pt) if s1 == s2 else None
        h, r = (u2 - u1) % p, (s2 - s1) % p
        hh = h * h % p
        hhh = h * hh % p
        v = u1 * hh % p
        x3 = (r * r - hhh - 2 * v) % p
        return x3, (r * (v - x3) - s1 * hhh) % p, h * z1 * z2 % p

    @staticmethod
    def _invert(value: int, n_mod: int) -> int:
        return pow(value, -1, n_mod)

    def _add(self, x_1: int, x_2: int, y_1: int, y_2: int) -> tuple[int, int]:
        p = self._p
        if x_1 == x_2 and y_1 == y_2:
            grad = (3 * x_1 * x_1 + self._a) * pow(2 * y_1, -1, p) % p
        else:
            grad = (y_2 - y_1) * pow(x_2 - x_1, -1, p) % p
        x_3 = (grad * grad - x_1 - x_2) % p
        return x_3, (grad * (x_1 - x_3) - y_1) % p


@lru_cache(maxsize=None)
def curve(bits: int, name: str) -> g3410.GOST34102012:
    """gostcrypto's signature object for a curve by its gostcrypto name (see PARAM_SETS)."""
    return _Curve(g3410.MODE_256 if bits == 256 else g3410.MODE_512,
                  g3410.CURVES_R_1323565_1_024_2019[name])
