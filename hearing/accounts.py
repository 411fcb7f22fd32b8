"""Account records: the court's staff and the parties' professionals (the workflows around
them are in hearing.services.accounts)."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hearing.auth import hash_password
from hearing.errors import bad_request, conflict
from hearing.models import ACCOUNT_ROLES, AccountRole, User


def add_user(session: Session, username: str, password: str, role: AccountRole,
             display_name: str, password_hash: str | None = None, contact: str = "") -> User:
    """password_hash: the password already hashed by the caller (the server hashes off its
    database threads), else it is hashed here. contact: where notices go (e-mail or phone)."""
    if role not in ACCOUNT_ROLES:
        raise bad_request(f"role must be one of {', '.join(ACCOUNT_ROLES)}", field="role")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise conflict(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name, role=role, contact=contact,
                password_hash=password_hash or hash_password(password),
                created_at=datetime.now(timezone.utc))
    session.add(user)
    session.flush()
    return user


def has_users(session: Session) -> bool:
    return bool(session.execute(select(func.count(User.id))).scalar())


def generate_password() -> str:
    return secrets.token_urlsafe(12)
