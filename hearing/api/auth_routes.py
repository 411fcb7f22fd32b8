"""Sign-in for staff, user administration, and the caller's own identity."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hearing import auth
from hearing.accounts import UserExists, add_user
from hearing.errors import RateLimited, conflict, unauthorized
from hearing.api.registry import endpoint, json_body, schema
from hearing.views import user_json
from hearing.models import STAFF_ROLES, User
from hearing.api.context import STATE
from hearing.api.context import CALLER
from hearing.access import require_staff_role
from hearing.roles import Caller

LOGIN = schema("Login", {
    "type": "object", "additionalProperties": False, "required": ["username", "password"],
    "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 100},
                   "password": {"type": "string", "minLength": 1, "maxLength": 1000}}})

USER_CREATE = schema("UserCreate", {
    "type": "object", "additionalProperties": False,
    "required": ["username", "password", "role", "display_name"],
    "properties": {"username": {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{1,100}$"},
                   "password": {"type": "string", "minLength": auth.MIN_PASSWORD,
                                "maxLength": 1000},
                   "role": {"enum": list(STAFF_ROLES)},
                   "display_name": {"type": "string", "minLength": 1, "maxLength": 300}}})


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


@endpoint("POST", "/api/login", summary="Staff sign-in; sets the session cookie",
          auth="none", body=LOGIN, tag="auth",
          responses={401: "wrong name or password", 429: "too many failed attempts"})
async def login(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await json_body(request)
    addr, name = client_address(request), data["username"]
    wait = state.limiter.retry_after(addr, name)
    if wait > 0:
        raise RateLimited("too many failed sign-in attempts; try later",
                       retry_after_s=int(wait) + 1)

    def work(s):
        user = s.execute(select(User).where(User.username == name)).scalar_one_or_none()
        if not auth.check_password(user, data["password"]):
            state.audit(s, None, f"address:{addr}", "login.failed", {"username": name})
            return None
        new = auth.create_session(s, user, state.config.session_ttl_s)
        state.audit(s, None, f"user:{user.id}:{user.role}", "login", {"address": addr})
        return new, user_json(user)

    result = await state.db.run(work)
    if result is None:
        state.limiter.failed(addr, name)
        raise unauthorized("wrong user name or password")
    state.limiter.succeeded(addr, name)
    new, user = result
    resp = web.json_response({"user": user, "csrf_token": new.csrf})
    resp.set_cookie(auth.SESSION_COOKIE, new.token, httponly=True, samesite="Strict",
                    secure=bool(state.config.tls_cert), max_age=state.config.session_ttl_s,
                    path="/")
    return resp


@endpoint("POST", "/api/logout", summary="End the staff session", auth="staff", tag="auth")
async def logout(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = request.cookies.get(auth.SESSION_COOKIE, "")

    def work(s):
        row = auth.find_session(s, token)
        if row:
            state.audit(s, None, request[CALLER].actor, "logout")
            s.delete(row)

    await state.db.run(work)
    resp = web.json_response({"ok": True})
    resp.del_cookie(auth.SESSION_COOKIE, path="/")
    return resp


@endpoint("GET", "/api/me", summary="Who am I (staff user or invited participant)", auth="any",
          tag="auth")
async def me(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    out = {"kind": c.kind, "role": c.role, "name": c.name, "user_id": c.user_id,
           "participant_id": c.participant_id, "hearing_id": c.hearing_id}
    if c.csrf:
        out["csrf_token"] = c.csrf
    return web.json_response(out)


@endpoint("GET", "/api/users", summary="List staff accounts (court administrator, judges, "
          "secretaries)", tag="auth")
async def list_users(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    require_staff_role(c, "admin", "judge", "secretary")
    users = await request.app[STATE].db.run(
        lambda s: [user_json(u) for u in s.execute(select(User).order_by(User.id)).scalars()])
    return web.json_response({"users": users})


@endpoint("POST", "/api/users", summary="Create a staff account (court administrator only)",
          body=USER_CREATE, tag="auth", responses={201: "created", 409: "name taken"})
async def create_user(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    require_staff_role(c, "admin")
    data = await json_body(request)
    state = request.app[STATE]
    def work(s):
        user = add_user(s, data["username"], data["password"], data["role"],
                        data["display_name"])
        state.audit(s, None, c.actor, "user.create",
                    {"user_id": user.id, "username": user.username, "role": user.role})
        return user_json(user)

    try:
        return web.json_response(await state.db.run(work), status=201)
    except UserExists as exc:
        raise conflict(str(exc)) from None
