"""Signers and signature verification.

Callers only see the ``Signer`` protocol (algorithm, key_id, public_key_info(), sign()) and
``verify_signature(public_key_info, data, signature)``. Ed25519 is built in; so are detached CMS
signatures made outside the server by a certificate the signer holds (algorithm "cms",
``stenogram/cms.py``: the key record carries the certificate chain and CRLs).

Private keys at rest (one key per signing user): a JSON file holding the raw Ed25519 private key
encrypted with AES-256-GCM under a key derived from the user's signing passphrase with scrypt
(N=2^15, r=8, p=1 by default). Why: the server's disk, its backups and a database dump are then
not enough to sign on a user's behalf — signing needs the user to type the passphrase, which the
server never stores; scrypt is memory-hard, so a stolen key file resists GPU guessing; GCM
authenticates the file, and the algorithm, key id and public key are bound in as associated
data so a swapped public key or edited header fails to open. Files are written 0600, atomically."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import cms
from .canonical import sha256_hex
from .files import create_private, write_private

ED25519 = "ed25519"
KEY_FILE_FORMAT = "courtroom-signing-key/1"


class SigningError(Exception):
    """A key that cannot be created, opened or used (wrong passphrase, damaged file)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def fingerprint(public_key: bytes) -> str:
    """Key id: SHA-256 (hex) of the raw public key. Shown on documents grouped for reading."""
    return sha256_hex(public_key)


def display_fingerprint(fp: str, groups: int = 8) -> str:
    return " ".join(fp[i:i + 4].upper() for i in range(0, 4 * groups, 4))


@runtime_checkable
class Signer(Protocol):
    algorithm: str
    key_id: str

    def public_key_info(self) -> dict[str, Any]:
        """Everything a verifier needs offline: algorithm, key_id, public key (and, for a PKI
        signer, the certificate chain). Goes into the bundle's keys/ folder."""

    def sign(self, data: bytes) -> bytes: ...


# -- verification registry: algorithm -> fn(public_key_info, data, signature) -> bool
Verifier = Callable[[dict[str, Any], bytes, bytes], bool]
_VERIFIERS: dict[str, Verifier] = {}


def register_verifier(algorithm: str, fn: Verifier) -> None:
    _VERIFIERS[algorithm] = fn


def verify_signature(public_key_info: dict[str, Any], data: bytes, signature: bytes) -> bool:
    fn = _VERIFIERS.get(public_key_info.get("algorithm", ""))
    if fn is None:
        raise SigningError(f"no verifier for algorithm {public_key_info.get('algorithm')!r}")
    return fn(public_key_info, data, signature)


def key_info_problems(info: dict[str, Any]) -> list[str]:
    """Whether a public-key record is self-consistent (its key_id is its fingerprint)."""
    if info.get("algorithm") == ED25519:
        try:
            raw = unb64(info["public_key"])
        except (KeyError, ValueError) as e:
            return [f"unreadable public key: {e}"]
        if len(raw) != 32:
            return ["Ed25519 public key is not 32 bytes"]
        if fingerprint(raw) != info.get("key_id"):
            return ["key_id is not the fingerprint of the public key"]
        return []
    if info.get("algorithm") == cms.CMS:
        return cms.key_info_problems(info)
    if info.get("algorithm") in _VERIFIERS:
        return []
    return [f"unknown algorithm {info.get('algorithm')!r}"]


def _verify_ed25519(info: dict[str, Any], data: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(unb64(info["public_key"])).verify(signature, data)
        return True
    except (InvalidSignature, ValueError, KeyError):
        return False


register_verifier(ED25519, _verify_ed25519)
register_verifier(cms.CMS, cms.verify_key_info)


class Ed25519Signer:
    algorithm = ED25519

    def __init__(self, private_key: Ed25519PrivateKey, *, owner: str = "") -> None:
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = fingerprint(self.public_key)
        self.owner = owner

    @classmethod
    def generate(cls, *, owner: str = "") -> "Ed25519Signer":
        return cls(Ed25519PrivateKey.generate(), owner=owner)

    @classmethod
    def from_seed(cls, seed: bytes, *, owner: str = "") -> "Ed25519Signer":
        return cls(Ed25519PrivateKey.from_private_bytes(seed), owner=owner)

    def public_key_info(self) -> dict[str, Any]:
        return {"algorithm": ED25519, "key_id": self.key_id, "public_key": b64(self.public_key),
                "owner": self.owner}

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def private_seed(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@dataclass(frozen=True)
class KeyProtection:
    """scrypt cost. Defaults: N=2^15, r=8 (32 MiB, ~0.1 s a try here); raise N for more."""
    n: int = 2 ** 15
    r: int = 8
    p: int = 1


def _kek(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def encrypt_key(signer: Ed25519Signer, passphrase: str,
                protection: KeyProtection = KeyProtection()) -> dict[str, Any]:
    """The at-rest form of a user's key (a JSON-able dict). See the module docstring for why."""
    if not passphrase:
        raise SigningError("a signing key needs a passphrase")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = {"format": KEY_FILE_FORMAT, "algorithm": ED25519, "key_id": signer.key_id,
              "public_key": b64(signer.public_key), "owner": signer.owner,
              "kdf": {"name": "scrypt", "salt": b64(salt), "n": protection.n, "r": protection.r,
                      "p": protection.p},
              "cipher": "AES-256-GCM"}
    key = _kek(passphrase, salt, protection.n, protection.r, protection.p)
    ct = AESGCM(key).encrypt(nonce, signer.private_seed(), _aad(header))
    return {**header, "nonce": b64(nonce), "ciphertext": b64(ct)}


def decrypt_key(record: dict[str, Any], passphrase: str) -> Ed25519Signer:
    if record.get("format") != KEY_FILE_FORMAT or record.get("algorithm") != ED25519:
        raise SigningError("not a courtroom Ed25519 key file")
    header = {k: record[k] for k in ("format", "algorithm", "key_id", "public_key", "owner",
                                      "kdf", "cipher")}
    kdf = record["kdf"]
    key = _kek(passphrase, unb64(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    try:
        seed = AESGCM(key).decrypt(unb64(record["nonce"]), unb64(record["ciphertext"]),
                                   _aad(header))
    except InvalidTag:
        raise SigningError("wrong passphrase or damaged key file") from None
    signer = Ed25519Signer.from_seed(seed, owner=record.get("owner", ""))
    if signer.key_id != record["key_id"]:
        raise SigningError("key file's public key does not match its private key")
    return signer


def create_user_key(path: Path, passphrase: str, *, owner: str = "",
                    protection: KeyProtection = KeyProtection()) -> Ed25519Signer:
    """Generate a user's signing key and write it encrypted to ``path`` (0600, atomic).
    Refuses to overwrite: replacing a signing key is a deliberate act (delete, then create)."""
    path = Path(path)
    if path.exists():
        raise SigningError(f"{path} already exists")
    signer = Ed25519Signer.generate(owner=owner)
    data = json.dumps(encrypt_key(signer, passphrase, protection), indent=1).encode()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, data)
    return signer


def load_user_key(path: Path, passphrase: str) -> Ed25519Signer:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SigningError(f"cannot read key file {path}: {e}") from e
    return decrypt_key(record, passphrase)


def load_or_create_server_key(path: Path, passphrase: str | None = None,
                              owner: str = "courtroom server (audit log)") -> Ed25519Signer:
    """The server's own key, which signs audit-log tree heads unattended. With a passphrase
    (e.g. from the service's secret store) it is kept like a user's key; without one it is a
    PKCS#8 PEM readable by the service account only (0600). This key attests the state of the
    log, never a stenogram: it cannot stand in for a judge's or secretary's signature."""
    from cryptography.hazmat.primitives.serialization import (NoEncryption, PrivateFormat,
                                                              load_pem_private_key)
    path = Path(path)
    if passphrase:
        return load_user_key(path, passphrase) if path.exists() else create_user_key(
            path, passphrase, owner=owner)
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningError(f"{path} is not an Ed25519 key")
        return Ed25519Signer(key, owner=owner)
    signer = Ed25519Signer.generate(owner=owner)
    pem = signer._key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not create_private(path, pem):  # another node on the shared data directory made it
        return load_or_create_server_key(path, owner=owner)
    return signer


def public_key_info_of(path: Path) -> dict[str, Any]:
    """A user's public key record from their key file, without the passphrase."""
    r = json.loads(Path(path).read_text())
    return {"algorithm": r["algorithm"], "key_id": r["key_id"], "public_key": r["public_key"],
            "owner": r.get("owner", "")}
