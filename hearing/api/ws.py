"""One WebSocket per client for live events of one hearing.

Staff authenticate with their session cookie at the handshake; participants send
{"type": "auth", "token": ...} as their first message (a token in the URL would end up in
logs). Every message is size-capped, rate-limited and validated; a bad message gets an
error reply and the connection stays open."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable

from aiohttp import WSMsgType, web
from jsonschema import Draft202012Validator

from hearing import auth
from hearing.api.hearing_routes import load_hearing, path_int
from hearing.api.errors import status_of
from hearing.errors import DomainError
from hearing.api.registry import endpoint
from hearing.views import participant_json, public_participant_json, hearing_json
from hearing.hub import Client, encode
from hearing.services import presence
from hearing.api.context import STATE
from hearing.roles import Caller

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0

MessageHandler = Callable[["Connection", dict], Awaitable[None]]
#: type -> (JSON schema, handler). Other subsystems (WebRTC signalling) register theirs here.
HANDLERS: dict[str, tuple[Draft202012Validator, MessageHandler]] = {}


def message_type(name: str, properties: dict | None = None, required: list[str] | None = None):
    schema = {"type": "object", "additionalProperties": False,
              "required": ["type", *(required or [])],
              "properties": {"type": {"const": name}, "id": {"type": ["string", "integer"]},
                             **(properties or {})}}

    def deco(fn: MessageHandler) -> MessageHandler:
        HANDLERS[name] = (Draft202012Validator(schema), fn)
        return fn
    return deco


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Connection:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse, hearing_id: int) -> None:
        self.request, self.ws, self.hearing_id = request, ws, hearing_id
        self.app = request.app
        self.state = request.app[STATE]
        self.caller: Caller | None = None
        self.client: Client | None = None

    def send(self, message: dict) -> None:
        if self.client is not None:
            self.client.offer(message)

    def error(self, code: str, message: str, ref: object = None) -> None:
        reply = {"type": "error", "error": code, "message": message}
        if ref is not None:
            reply["ref"] = ref
        if self.client is not None:
            self.client.offer(reply)


@message_type("ping")
async def _ping(conn: Connection, msg: dict) -> None:
    conn.send({"type": "pong", "id": msg.get("id")})


@message_type("hand", {"raised": {"type": "boolean"}}, ["raised"])
async def _hand(conn: Connection, msg: dict) -> None:
    c = conn.caller
    if c.kind != "participant":
        conn.error("forbidden", "only participants raise hands", msg.get("id"))
        return
    await presence.set_hand(conn.state, c, conn.hearing_id, msg["raised"])


SDP = {"type": "string", "maxLength": 64 * 1024}


async def _relay_media(conn: Connection, msg: dict) -> None:
    """WebRTC signalling for the caller's own seat (the server offers, the client answers).
    Joining media needs an open hearing and, for participants, admission by the judge; the
    room checks every SDP itself."""
    c, state = conn.caller, conn.state
    media_id = conn.client.media_id if conn.client else None
    if media_id is None:
        conn.error("forbidden", "you have no seat in this hearing", msg.get("id"))
        return
    if msg["type"] == "join":
        def check(s):
            from hearing.api.hearing_routes import load_participant
            h = load_hearing(s, conn.hearing_id, c)
            if h.state not in ("open", "recess"):
                return f"the hearing is {h.state}; media starts when it opens"
            p = load_participant(s, h, int(media_id[1:]))
            if p.presence == "ejected":
                return "you were removed from this hearing"
            if c.kind == "participant" and p.presence != "admitted":
                return "wait in the lobby until the judge admits you"
            return None
        refusal = await state.db.run(check)
        if refusal:
            conn.error("not_admitted", refusal, msg.get("id"))
            return
    elif state.live.get(conn.hearing_id) is None:
        conn.error("no_media", 'send {"type": "join"} first', msg.get("id"))
        return
    await state.live.signal(conn.hearing_id, media_id, msg)


message_type("join")(_relay_media)
message_type("answer", {"sdp": SDP}, ["sdp"])(_relay_media)
message_type("candidate", {"candidate": {"type": ["string", "null"], "maxLength": 4096},
                           "sdpMid": {"type": ["string", "null"], "maxLength": 64},
                           "sdpMLineIndex": {"type": ["integer", "null"], "minimum": 0,
                                             "maximum": 1024}}, ["candidate"])(_relay_media)


async def _authenticate(conn: Connection) -> Caller | None:
    """Cookie (staff) or a first {"type":"auth"} message (participant invite token)."""
    request, state = conn.request, conn.state
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        caller = await state.resolve_session(cookie)
        if caller:
            return caller
    try:
        msg = await conn.ws.receive(timeout=AUTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return None
    if msg.type != WSMsgType.TEXT or len(msg.data) > 4096:
        return None
    try:
        data = json.loads(msg.data)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "auth" or not isinstance(
            data.get("token"), str):
        return None
    try:
        return await state.resolve_invite(data["token"])
    except DomainError:
        return None


@endpoint("GET", "/api/hearings/{hearing_id}/ws", summary="Live events (WebSocket)", auth="none",
          responses={101: "switching protocols"})
async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    hid = path_int(request, "hearing_id")
    cap = state.config.ws_max_message
    # aiohttp closes the socket above max_msg_size; accept up to 4x the cap so that a merely
    # oversized message gets a polite error and the connection survives.
    ws = web.WebSocketResponse(max_msg_size=cap * 4, heartbeat=20, compress=False)
    await ws.prepare(request)
    conn = Connection(request, ws, hid)
    caller = await _authenticate(conn)
    if caller is None:
        await ws.send_json({"type": "error", "error": "unauthorized",
                            "message": "sign in, or send {\"type\":\"auth\",\"token\":...} first"})
        await ws.close(code=4401, message=b"unauthorized")
        return ws
    conn.caller = caller

    def snapshot(s):
        h = load_hearing(s, hid, caller)
        show = participant_json if caller.kind == "staff" else public_participant_json
        return {"type": "hello", "hearing": hearing_json(h),
                "participants": [show(p) for p in h.participants], "clock_ms": state.clock_ms(h),
                "you": {"kind": caller.kind, "role": caller.role, "name": caller.name,
                        "participant_id": caller.participant_id, "user_id": caller.user_id}}

    def media_identity(s):
        from hearing.models import Participant
        from sqlalchemy import select
        if caller.kind == "participant":
            return f"p{caller.participant_id}"
        row = s.execute(select(Participant.id).where(Participant.hearing_id == hid,
                                                     Participant.user_id == caller.user_id)
                        ).first()
        return f"p{row[0]}" if row else None

    def identity(s):
        load_hearing(s, hid, caller)  # may the caller see this hearing at all?
        return media_identity(s)

    try:
        media_id = await state.db.run(identity)
    except DomainError as exc:
        await ws.send_json({"type": "error", "error": exc.code, "message": exc.message})
        await ws.close(code=4403 if status_of(exc) == 403 else 4404, message=exc.code.encode())
        return ws
    conn.client = Client(hid, caller, state.config.ws_send_queue, staff=caller.kind == "staff",
                         media_id=media_id)
    # Subscribe first, snapshot second: an event that lands in between is either in the
    # snapshot or queued after it, never lost. The snapshot goes out first.
    state.hub.add(conn.client)
    try:
        conn.client.offer_first(await state.db.run(snapshot))
    except DomainError as exc:
        state.hub.remove(conn.client)
        await ws.send_json({"type": "error", "error": exc.code, "message": exc.message})
        await ws.close(code=4404, message=exc.code.encode())
        return ws
    sender = asyncio.create_task(_send_loop(conn))
    bucket = TokenBucket(state.config.ws_rate_per_s, state.config.ws_rate_per_s * 2)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    conn.error("bad_message", "send JSON text messages")
                continue
            await _dispatch(conn, msg.data, cap, bucket)
    finally:
        sender.cancel()
        state.hub.remove(conn.client)
        # The handler may be cancelled as the peer goes away; the "leave" must still be
        # recorded, so it runs as its own task.
        await asyncio.shield(asyncio.ensure_future(state.on_ws_closed(conn)))
    return ws


async def _dispatch(conn: Connection, raw: str, cap: int, bucket: TokenBucket) -> None:
    if len(raw.encode()) > cap:
        conn.error("too_large", f"message over {cap} bytes was ignored")
        return
    if not bucket.take():
        conn.error("rate_limited", "too many messages; this one was ignored")
        return
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        conn.error("bad_json", f"not valid JSON: {exc}")
        return
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        conn.error("bad_message", 'a message is a JSON object with a "type"')
        return
    entry = HANDLERS.get(msg["type"])
    ref = msg.get("id") if isinstance(msg.get("id"), (str, int)) else None
    if entry is None:
        conn.error("unknown_type", f"unknown message type {msg['type'][:50]!r}", ref)
        return
    validator, handler = entry
    errors = list(validator.iter_errors(msg))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "message"
        conn.error("bad_message", f"{where}: {errors[0].message}"[:300], ref)
        return
    try:
        await handler(conn, msg)
    except DomainError as exc:
        conn.error(exc.code, exc.message, ref)
    except Exception:
        log.exception("WebSocket handler %s failed", msg["type"])
        conn.error("internal", "the server could not handle this message", ref)


async def _send_loop(conn: Connection) -> None:
    client = conn.client
    try:
        while True:
            batch = await client.next_batch()
            for message in batch:
                await conn.ws.send_str(encode(message))
            if client.overflowed:
                await conn.ws.close(code=4000 if not any(
                    m.get("type") == "ejected" for m in batch) else 4403,
                    message=b"fell behind; reconnect for a fresh snapshot")
                return
    except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
        return
