"""Sign-in for staff, user administration, and the caller's own identity."""

from __future__ import annotations

from typing import get_args

from aiohttp import web

from hearing import auth
from hearing.api.context import Call
from hearing.api.registry import array_of, endpoint, schema
from hearing.api.schemas import OPT_INT, STR, USER, record
from hearing.models import STAFF_ROLES
from hearing.roles import CallerKind
from hearing.services import accounts
from hearing.views import caller_json

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

SIGNED_IN = record("SignedIn", {"user": USER, "csrf_token": STR})
SIGNED_OUT = record("SignedOut", {"ok": {"const": True}})
ME = record("Me", {"kind": {"enum": list(get_args(CallerKind))}, "role": STR, "name": STR,
                   "user_id": OPT_INT, "participant_id": OPT_INT, "hearing_id": OPT_INT,
                   "csrf_token": STR}, optional=("csrf_token",))  # staff sessions only


@endpoint("POST", "/api/login", summary="Staff sign-in; sets the session cookie",
          auth="none", body=LOGIN, response=SIGNED_IN, tag="auth",
          responses={401: "wrong name or password", 429: "too many failed attempts"})
async def login(call: Call, body: dict) -> web.Response:
    state = call.state
    signed = await accounts.login(state, call.address, body["username"], body["password"])
    resp = web.json_response({"user": signed.user, "csrf_token": signed.csrf})
    resp.set_cookie(auth.SESSION_COOKIE, signed.token, httponly=True, samesite="Strict",
                    secure=bool(state.config.tls_cert), max_age=state.config.session_ttl_s,
                    path="/")
    return resp


@endpoint("POST", "/api/logout", summary="End the staff session", auth="staff",
          response=SIGNED_OUT, tag="auth")
async def logout(call: Call) -> web.Response:
    await accounts.logout(call.state, call.me,
                          call.request.cookies.get(auth.SESSION_COOKIE, ""))
    resp = web.json_response({"ok": True})
    resp.del_cookie(auth.SESSION_COOKIE, path="/")
    return resp


@endpoint("GET", "/api/me", summary="Who am I (staff user or invited participant)", auth="any",
          response=ME, tag="auth")
async def me(call: Call) -> dict:
    return caller_json(call.me)


@endpoint("GET", "/api/users", summary="List staff accounts (court administrator, judges, "
          "secretaries)", response=array_of(USER, "users"), tag="auth")
async def list_users(call: Call) -> dict:
    return {"users": await accounts.list_staff(call.state, call.me)}


@endpoint("POST", "/api/users", summary="Create a staff account (court administrator only)",
          body=USER_CREATE, response=USER, status=201, tag="auth",
          responses={201: "created", 409: "name taken"})
async def create_user(call: Call, body: dict) -> dict:
    return await accounts.create_staff(call.state, call.me, body["username"], body["password"],
                                       body["role"], body["display_name"])
