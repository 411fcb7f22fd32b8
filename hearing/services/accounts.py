"""Sign-in and sign-out, and the accounts: the court's staff (administrator, judge, secretary)
and the parties' professionals (prosecutor, lawyer, representative), who sign in the same way
but act only in the cases they are linked to.

Accounts live on the server's own audit chain, which has no hearing clock, so the account
workflows need only a session and the actor's name: the command line runs the same ones, also
before any server exists (the first court administrator)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing import audit, auth
from hearing.access import require_staff_role
from hearing.accounts import add_user, generate_password, has_users
from hearing.errors import RateLimited, unauthorized
from hearing.models import STAFF_ROLES, AccountRole, User
from hearing.paging import PageRequest, page
from hearing.hub import Selector
from hearing.roles import Caller
from hearing.services import live_events
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import user_json

#: How the operator at the server's shell (the `courtroom` command) appears in the audit log.
OPERATOR = "cli"


@dataclass(frozen=True)
class SignedIn:
    token: str  # the session cookie's value: given to the browser, stored only as a hash
    csrf: str
    user: dict


def create_user(s: Session, actor: str, username: str, password: str, role: AccountRole,
                display_name: str, password_hash: str | None = None,
                contact: str = "") -> User:
    """An account and its audit row (the caller's transaction commits both)."""
    user = add_user(s, username, password, role, display_name, password_hash, contact)
    audit.append(s, audit.SERVER_CHAIN, actor, "user.create",
                 {"user_id": user.id, "username": user.username, "role": user.role})
    return user


def account_list(s: Session) -> list[dict]:
    """Every account (the command line)."""
    return [user_json(u) for u in s.execute(select(User).order_by(User.id)).scalars()]


def first_admin(s: Session) -> str | None:
    """On a database with no accounts: the court administrator "admin" with a random password,
    returned this once. None if there are accounts already."""
    if has_users(s):
        return None
    password = generate_password()
    create_user(s, "server", "admin", password, "admin", "Court administrator")
    return password


def _password_hash(s: Session, username: str) -> str | None:
    return s.execute(select(User.password_hash).where(
        User.username == username, User.active.is_(True))).scalar_one_or_none()


def _login_failed(tx: Tx, address: str, username: str) -> None:
    tx.audit(None, "login.failed", {"username": username}, actor=f"address:{address}")


def _login(tx: Tx, address: str, username: str, checked_hash: str) -> SignedIn | None:
    user = tx.s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active or user.password_hash != checked_hash:
        _login_failed(tx, address, username)  # changed while the password was checked
        return None
    new = auth.create_session(tx.s, user, tx.state.config.session_ttl_s)
    who = Caller("staff" if user.role in STAFF_ROLES else "party", user.role,
                 user.display_name, user_id=user.id)
    tx.audit(None, "login", {"address": address}, actor=who.actor)
    return SignedIn(new.token, new.csrf, user_json(user))


async def login(state: AppState, address: str, username: str, password: str) -> SignedIn:
    """Check the password and open a session. The attempt is counted first (per address and
    name, with backoff), and the slow hash runs on the password threads between two short
    database calls, so a storm of logins never holds the database; an unknown name costs
    the same hash as a wrong password."""
    wait, at = state.limiter.begin(address, username)
    if wait > 0:
        raise RateLimited("too many failed sign-in attempts; try later",
                          retry_after_s=math.ceil(wait))
    stored = await state.db.run(lambda s: _password_hash(s, username))
    signed = None
    if await auth.verify_password(stored, password):
        signed = await state.transaction(None, _login, address, username, stored)
    else:
        await state.transaction(None, _login_failed, address, username)
    if signed is None:
        raise unauthorized("wrong user name or password")
    state.limiter.succeeded(address, username, at)
    return signed


def _logout(tx: Tx, token: str) -> None:
    row = auth.find_session(tx.s, token)
    if row is not None:
        tx.audit(None, "logout")
        tx.s.delete(row)


async def logout(state: AppState, caller: Caller, token: str) -> None:
    """End the session this token opened, and its live connections with it (a "signed_out"
    notice, then close code 4401); the user's other sessions stay."""
    await state.transaction(caller, _logout, token)
    credential = auth.token_hash(token)
    await live_events.end_connections(state, Selector(credential=credential),
                                      "signed_out", live_events.CLOSE_UNAUTHORIZED,
                                      by=caller.actor)


def _list(tx: Tx, req: PageRequest, role: AccountRole | None) -> tuple[list[dict], str | None]:
    require_staff_role(tx.me, "admin", "judge", "secretary")
    q = select(User)
    if role is not None:
        q = q.where(User.role == role)
    return page(tx.s, q, User.id, req, user_json)


async def list_accounts(state: AppState, caller: Caller, req: PageRequest,
                        role: AccountRole | None = None) -> tuple[list[dict], str | None]:
    """One page of the accounts (the court's staff only: judges pick secretaries and the
    lawyers of a case from it), optionally of one role; and the next page's cursor."""
    return await state.transaction(caller, _list, req, role)


def _create(tx: Tx, username: str, hashed: str, role: AccountRole, display_name: str,
            contact: str) -> dict:
    require_staff_role(tx.me, "admin")
    return user_json(create_user(tx.s, tx.me.actor, username, "", role, display_name, hashed,
                                 contact))


async def create_account(state: AppState, caller: Caller, username: str, password: str,
                         role: AccountRole, display_name: str, contact: str = "") -> dict:
    """An account of the court's staff or of a prosecutor, lawyer or representative (the
    court administrator only); the password is hashed on the password threads, before the
    short transaction."""
    require_staff_role(caller, "admin")
    hashed = await auth.hash_password_off_db(password)
    return await state.transaction(caller, _create, username, hashed, role, display_name,
                                   contact)
