"""Sign-in for the court's staff and the parties' professionals, account administration, and
the caller's own identity."""

from __future__ import annotations

from typing import get_args

from aiohttp import web

from hearing import auth
from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import OPT_INT, STR, USER, record
from hearing.models import ACCOUNT_ROLES
from hearing.paging import NEXT_CURSOR, PAGE_QUERY, PageRequest
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
                   "role": {"enum": list(ACCOUNT_ROLES)},
                   "display_name": {"type": "string", "minLength": 1, "maxLength": 300},
                   "contact": {"type": "string", "maxLength": 300,
                               "description": "where notices go: an e-mail address or a "
                                              "phone number"}}})
USERS = schema("Users", {"type": "object", "required": ["users", "next_cursor"],
                         "properties": {"users": {"type": "array", "items": USER},
                                        "next_cursor": NEXT_CURSOR}})

SIGNED_IN = record("SignedIn", {"user": USER, "csrf_token": STR})
SIGNED_OUT = record("SignedOut", {"ok": {"const": True}})
ME = record("Me", {"kind": {"enum": list(get_args(CallerKind))}, "role": STR, "name": STR,
                   "user_id": OPT_INT, "participant_id": OPT_INT, "hearing_id": OPT_INT,
                   "csrf_token": STR}, optional=("csrf_token",))  # sessions of accounts only


@endpoint("POST", "/api/login", summary="Sign-in with an account (the court's staff, "
          "prosecutors, lawyers, representatives); sets the session cookie",
          auth="none", body=LOGIN, response=SIGNED_IN, tag="auth",
          responses={401: "wrong name or password", 429: "too many failed attempts"})
async def login(call: Call, body: dict) -> web.Response:
    state = call.state
    signed = await accounts.login(state, call.address, body["username"], body["password"])
    resp = web.json_response({"user": signed.user, "csrf_token": signed.csrf})
    resp.set_cookie(auth.SESSION_COOKIE, signed.token, httponly=True, samesite="Strict",
                    secure=state.config.https, max_age=state.config.session_ttl_s,
                    path="/")
    return resp


@endpoint("POST", "/api/logout", summary="End the session", auth="account",
          response=SIGNED_OUT, tag="auth")
async def logout(call: Call) -> web.Response:
    await accounts.logout(call.state, call.me,
                          call.request.cookies.get(auth.SESSION_COOKIE, ""))
    resp = web.json_response({"ok": True})
    resp.del_cookie(auth.SESSION_COOKIE, path="/")
    return resp


@endpoint("GET", "/api/me", summary="Who am I (an account or an invited participant)",
          auth="any",
          response=ME, tag="auth")
async def me(call: Call) -> dict:
    return caller_json(call.me)


@endpoint("GET", "/api/users", summary="List accounts (the court's staff only), optionally of "
          "one role", response=USERS, tag="auth",
          query={**PAGE_QUERY, "role": {"enum": list(ACCOUNT_ROLES)}})
async def list_users(call: Call, query: dict) -> dict:
    users, next_cursor = await accounts.list_accounts(
        call.state, call.me, PageRequest.from_query(query), query.get("role"))
    return {"users": users, "next_cursor": next_cursor}


@endpoint("POST", "/api/users", summary="Create an account: court administrator, judge, "
          "secretary, prosecutor, lawyer or representative (court administrator only)",
          body=USER_CREATE, response=USER, status=201, tag="auth",
          responses={201: "created", 409: "name taken"})
async def create_user(call: Call, body: dict) -> dict:
    return await accounts.create_account(call.state, call.me, body["username"],
                                         body["password"], body["role"], body["display_name"],
                                         body.get("contact", ""))
