"""Staff passwords and login sessions, participant invite tokens, login rate limiting.

Secrets (session tokens, invite tokens) are random, shown to their owner once, and stored only
as SHA-256 hashes, so a copied database lets nobody in. Passwords use argon2id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing.errors import bad_request
from hearing.models import Invite, LoginSession, User

_hasher = PasswordHasher()
_dummy: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password, checked when the user does not exist, so a login for an
    unknown name takes as long as one for a known name (no user enumeration by timing)."""
    if not _dummy:
        _dummy.append(_hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[0]

SESSION_COOKIE = "courtroom_session"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD = 10


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise bad_request(f"password must have at least {MIN_PASSWORD} characters",
                          field="password")
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; None (no such user) is checked against a dummy hash and
    fails, in the same time as a wrong password."""
    try:
        ok = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


#: argon2 runs on these threads, never on a database thread (SQLite has only one): a storm of
#: logins waits here while every other request goes on, and takes at most two cores.
_password_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """check_password on the password threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, check_password, password_hash, password)


async def hash_password_off_db(password: str) -> str:
    """hash_password on the password threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, hash_password, password)


@dataclass
class NewSession:
    token: str
    csrf: str
    row: LoginSession


def create_session(session: Session, user: User, ttl_s: int) -> NewSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    row = LoginSession(token_hash=token_hash(token), csrf_token=csrf, user_id=user.id,
                       created_at=now_utc(), expires_at=now_utc() + timedelta(seconds=ttl_s))
    session.add(row)
    session.flush()
    return NewSession(token, csrf, row)


def find_session(session: Session, token: str) -> LoginSession | None:
    row = session.execute(select(LoginSession).where(
        LoginSession.token_hash == token_hash(token))).scalar_one_or_none()
    if row is None or aware(row.expires_at) <= now_utc() or not row.user.active:
        return None
    return row


def csrf_ok(expected: str | None, presented: str | None) -> bool:
    """The session's CSRF token, compared in constant time."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


@dataclass
class NewInvite:
    token: str
    row: Invite


def create_invite(session: Session, hearing_id: int, participant_id: int, role: str,
                  created_by: int, ttl_s: int) -> NewInvite:
    token = secrets.token_urlsafe(32)
    row = Invite(hearing_id=hearing_id, participant_id=participant_id, role=role,
                 token_hash=token_hash(token), created_at=now_utc(),
                 expires_at=now_utc() + timedelta(seconds=ttl_s), created_by=created_by)
    session.add(row)
    session.flush()
    return NewInvite(token, row)


class InviteError(Exception):
    """Why a token was refused; the message is safe to show to the caller."""


def resolve_invite(session: Session, token: str) -> Invite:
    row = session.execute(select(Invite).where(
        Invite.token_hash == token_hash(token))).scalar_one_or_none()
    if row is None:
        raise InviteError("unknown invite token")
    if row.revoked_at is not None:
        raise InviteError("this invite was revoked")
    if aware(row.expires_at) <= now_utc():
        raise InviteError("this invite has expired")
    if row.participant.presence == "ejected":
        raise InviteError("this participant was removed from the hearing")
    return row


class LoginLimiter:
    """Failed logins per (address, name) and per address, with exponential backoff.

    An attempt is counted when it starts, before the slow password check, so parallel guesses
    cannot all be checked: ``attempts`` may run within ``window_s``, then each further one waits
    ``backoff_s`` after the previous, doubling per attempt up to ``backoff_max_s``. The address
    as a whole (a court's proxy) gets the same backoff only after ``address_attempts``, so one
    name's failures do not stop the other people behind it, and nobody elsewhere can slow a
    judge down. A successful login forgets its name's attempts."""

    def __init__(self, attempts: int, window_s: float, backoff_s: float = 1.0,
                 backoff_max_s: float = 60.0, address_attempts: int = 50,
                 max_keys: int = 100_000, clock=time.monotonic) -> None:  # noqa: ANN001
        self.attempts, self.window, self.max_keys = attempts, window_s, max_keys
        self.backoff, self.backoff_max = backoff_s, backoff_max_s
        self.address_attempts, self.clock = address_attempts, clock
        self._tries: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._tries.get(key)
        if q is None:
            if len(self._tries) >= self.max_keys:  # bounded: forget the oldest keys first
                for k in list(self._tries)[: self.max_keys // 10]:
                    del self._tries[k]
            q = self._tries[key] = deque()
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def _wait(self, q: deque[float], free: int, now: float) -> float:
        if len(q) < free:
            return 0.0
        delay = min(self.backoff_max, self.backoff * 2.0 ** min(len(q) - free, 64))
        return max(0.0, q[-1] + delay - now)

    def _keys(self, address: str, username: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return (address, username.lower()), (address, "")

    def begin(self, address: str, username: str) -> tuple[float, float]:
        """Count an attempt now: (0, its time) when it may go on, else (seconds to wait, 0)
        and nothing is counted."""
        now = self.clock()
        name, addr = self._keys(address, username)
        qn, qa = self._recent(name, now), self._recent(addr, now)
        wait = max(self._wait(qn, self.attempts, now),
                   self._wait(qa, self.address_attempts, now))
        if wait > 0:
            return wait, 0.0
        qn.append(now)
        qa.append(now)
        return 0.0, now

    def succeeded(self, address: str, username: str, at: float) -> None:
        """The attempt counted at `at` was right: forget the name's attempts, and this one
        for the address."""
        name, addr = self._keys(address, username)
        self._tries.pop(name, None)
        q = self._tries.get(addr)
        if q is not None and at in q:
            q.remove(at)
