"""Staff passwords and login sessions, participant invite tokens, login rate limiting.

Secrets (session tokens, invite tokens) are random, shown to their owner once, and stored only
as SHA-256 hashes, so a copied database lets nobody in. Passwords use argon2id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
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


def check_password(user: User | None, password: str) -> bool:
    try:
        ok = _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and user is not None and user.active


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
    """Sliding window of failed logins per (address, username) and per address: brute force from
    one place is slowed down without letting anyone lock a judge out from elsewhere."""

    def __init__(self, attempts: int, window_s: float, max_keys: int = 100_000) -> None:
        self.attempts, self.window, self.max_keys = attempts, window_s, max_keys
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            if len(self._fails) >= self.max_keys:  # bounded: forget the oldest keys first
                for k in list(self._fails)[: self.max_keys // 10]:
                    del self._fails[k]
            q = self._fails[key] = deque()
        cutoff = time.monotonic() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def retry_after(self, address: str, username: str) -> float:
        """Seconds until another attempt is allowed (0 when allowed now)."""
        worst = 0.0
        for key, limit in (((address, username.lower()), self.attempts),
                           ((address, ""), self.attempts * 4)):
            q = self._recent(key)
            if len(q) >= limit:
                worst = max(worst, q[0] + self.window - time.monotonic())
        return max(0.0, worst)

    def failed(self, address: str, username: str) -> None:
        now = time.monotonic()
        self._recent((address, username.lower())).append(now)
        self._recent((address, "")).append(now)

    def succeeded(self, address: str, username: str) -> None:
        self._fails.pop((address, username.lower()), None)
