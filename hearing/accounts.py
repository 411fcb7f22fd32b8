"""Staff accounts, shared by the API and the CLI."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hearing.auth import hash_password
from hearing.models import STAFF_ROLES, User


class UserExists(Exception):
    pass


def add_user(session: Session, username: str, password: str, role: str,
             display_name: str) -> User:
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise UserExists(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name, role=role,
                password_hash=hash_password(password), created_at=datetime.now(timezone.utc))
    session.add(user)
    session.flush()
    return user


def has_users(session: Session) -> bool:
    return bool(session.execute(select(func.count(User.id))).scalar())


def generate_password() -> str:
    return secrets.token_urlsafe(12)
