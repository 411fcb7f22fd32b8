"""A notice's body at rest: an invite's body carries the join link, and the link carries a
bearer token, so every body is stored sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a
key of its own, <data_dir>/keys/notices.key (0600, made at first use). A database copy alone
then reveals no link; the body is erased once the notice no longer needs it."""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from stenogram.files import write_private

PREFIX = "fernet:"
_lock = threading.Lock()


def key_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "keys" / "notices.key"


@lru_cache(maxsize=8)
def _fernet(path: str) -> Fernet:
    p = Path(path)
    with _lock:
        if not p.exists():
            p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(p, Fernet.generate_key())
    return Fernet(p.read_bytes().strip())


def sealer(data_dir: Path | str) -> Fernet:
    """The notices' key (created 0600 on first use)."""
    return _fernet(str(key_path(data_dir).resolve()))


def seal(data_dir: Path | str, content: dict) -> str:
    return PREFIX + sealer(data_dir).encrypt(
        json.dumps(content, ensure_ascii=False).encode()).decode()


def unseal(data_dir: Path | str, stored: str) -> dict | None:
    """The sealed content, or None when it was erased (or sealed under another key)."""
    if not stored.startswith(PREFIX):
        return None
    try:
        return json.loads(sealer(data_dir).decrypt(stored[len(PREFIX):].encode()))
    except InvalidToken:
        return None
