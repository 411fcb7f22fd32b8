"""One WebSocket per client for live events of one hearing.

Staff authenticate with their session cookie at the handshake; participants send
{"type": "auth", "token": ...} as their first message (a token in the URL would end up in
logs). Every message is size-capped, rate-limited and validated; a bad message gets an
error reply and the connection stays open. A connection ends when its credential does: the
services that revoke an invite, sign out or eject close it through the hub, and the messages
that act (joining media, raising a hand) first check that the credential still holds.
Media runs on the node that holds the hearing's lease: a "join" sent to any other node is
answered {"type": "moved", "url": <owner>} and the client reopens its socket there; events
reach a connection on any node."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web
from jsonschema import Draft202012Validator

from hearing import auth
from hearing.api.context import STATE, Call
from hearing.api.errors import status_of
from hearing.api.registry import endpoint
from hearing.errors import DomainError, forbidden
from hearing.hub import Client, encode
from hearing.roles import Caller
from hearing.services import closures, live_events, presence
from hearing.text import clean_json
from media.tasks import Tasks

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0
#: What runs when a socket closes (its "leave"): owned by the application, not by the handler,
#: which may be cancelled as the peer goes away; awaited before the server shuts down.
CLOSINGS = web.AppKey("ws_closings", Tasks)
#: The open sockets of the application (see close_all).
SOCKETS = web.AppKey("ws_sockets", set)

MessageHandler = Callable[["Connection", dict], Awaitable[None]]
#: type -> (JSON schema, handler). Other subsystems (WebRTC signalling) register theirs here.
HANDLERS: dict[str, tuple[Draft202012Validator, MessageHandler]] = {}
#: Message types that act for the caller: handled only while the credential is still valid.
RECHECKED: set[str] = set()


def message_type(name: str, properties: dict | None = None, required: list[str] | None = None,
                 *, recheck: bool = False):
    schema = {"type": "object", "additionalProperties": False,
              "required": ["type", *(required or [])],
              "properties": {"type": {"const": name}, "id": {"type": ["string", "integer"]},
                             **(properties or {})}}

    def deco(fn: MessageHandler) -> MessageHandler:
        HANDLERS[name] = (Draft202012Validator(schema), fn)
        if recheck:
            RECHECKED.add(name)
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
        self.state = request.app[STATE]
        self.caller: Caller | None = None
        self.token = ""  # the session or invite token it signed in with (kept in memory only)
        self.client: Client | None = None
        self.moved = False  # told to take its media to the hearing's owner node

    @property
    def me(self) -> Caller:
        """The authenticated caller (messages are handled only after authentication)."""
        assert self.caller is not None
        return self.caller

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


@message_type("hand", {"raised": {"type": "boolean"}}, ["raised"], recheck=True)
async def _hand(conn: Connection, msg: dict) -> None:
    if conn.me.kind != "participant":
        raise forbidden("only participants raise hands")
    await presence.set_hand(conn.state, conn.me, conn.hearing_id, msg["raised"])


SDP = {"type": "string", "maxLength": 64 * 1024}


async def _relay_media(conn: Connection, msg: dict) -> None:
    media_id = conn.client.media_id if conn.client else None
    moved = await live_events.signal(conn.state, conn.me, conn.hearing_id, media_id, msg)
    if moved is not None:  # another node holds the media: the client reconnects there
        conn.moved = True
        conn.send(moved)


message_type("join", recheck=True)(_relay_media)
message_type("answer", {"sdp": SDP}, ["sdp"])(_relay_media)
message_type("candidate", {"candidate": {"type": ["string", "null"], "maxLength": 4096},
                           "sdpMid": {"type": ["string", "null"], "maxLength": 64},
                           "sdpMLineIndex": {"type": ["integer", "null"], "minimum": 0,
                                             "maximum": 1024}}, ["candidate"])(_relay_media)
#: {"type": "receive", "video": false}: audio only for this receiver (a poor link); true resumes.
message_type("receive", {"video": {"type": "boolean"}}, ["video"])(_relay_media)
#: {"type": "listen", "channel": "floor" | "interpretation", "language": "kk"}: what this
#: receiver hears (media.rtc.Room.set_listen checks the values).
message_type("listen", {"channel": {"type": "string", "maxLength": 20},
                        "language": {"type": ["string", "null"], "maxLength": 8}},
             ["channel"])(_relay_media)


async def _authenticate(conn: Connection) -> Caller | None:
    """Cookie (staff) or a first {"type":"auth"} message (participant invite token)."""
    request, state = conn.request, conn.state
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        caller = await state.resolve_session(cookie)
        if caller:
            conn.token = cookie
            return caller
    try:
        msg = await conn.ws.receive(timeout=AUTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return None
    if msg.type != WSMsgType.TEXT or len(msg.data) > 4096:
        return None
    try:
        data = clean_json(json.loads(msg.data))
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("type") != "auth" or not isinstance(
            data.get("token"), str):
        return None
    try:
        caller = await state.resolve_invite(data["token"])
    except DomainError:
        return None
    conn.token = data["token"]
    return caller


@endpoint("GET", "/api/hearings/{hearing_id}/ws", summary="Live events (WebSocket)", auth="none",
          response=None, status=101, responses={101: "switching protocols"})
async def websocket(call: Call, hearing_id: int) -> web.StreamResponse:
    request = call.request
    cap = call.state.config.ws_max_message
    # aiohttp closes the socket above max_msg_size; accept up to 4x the cap so that a merely
    # oversized message gets a polite error and the connection survives.
    ws = web.WebSocketResponse(max_msg_size=cap * 4, heartbeat=20, compress=False)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets.add(ws)
    try:
        await _serve(Connection(request, ws, hearing_id))
    finally:
        sockets.discard(ws)
    return ws


async def _serve(conn: Connection) -> None:
    """Authenticate, subscribe, send the snapshot, then handle messages until the socket
    closes."""
    ws, state, hearing_id = conn.ws, conn.state, conn.hearing_id
    caller = await _authenticate(conn)
    if caller is None:
        await ws.send_json({"type": "error", "error": "unauthorized",
                            "message": "sign in, or send {\"type\":\"auth\",\"token\":...} first"})
        await ws.close(code=4401, message=b"unauthorized")
        return
    conn.caller = caller
    try:
        media_id = await live_events.identity(state, caller, hearing_id)
    except DomainError as exc:
        await ws.send_json({"type": "error", "error": exc.code, "message": exc.message})
        await ws.close(code=4403 if status_of(exc) == 403 else 4404, message=exc.code.encode())
        return
    client = conn.client = Client(hearing_id, caller, state.config.ws_send_queue,
                                  staff=caller.kind == "staff", media_id=media_id,
                                  credential=auth.token_hash(conn.token))
    client.levels, closed_now = await closures.live_access(state, caller, hearing_id)
    # Subscribe first, snapshot second: an event that lands in between is either in the
    # snapshot or queued after it, never lost. The snapshot goes out first.
    state.hub.add(client)
    try:
        hello = await live_events.snapshot(state, caller, hearing_id)
        if client.presence is None:  # else an event since the snapshot's read is newer
            client.presence = next((p["presence"] for p in hello["participants"]
                                    if p["id"] == caller.participant_id), None)
        hello["closed_part"] = closed_now  # the phone shows the notice, not silence
        client.offer_first(hello)
        live_events.connected(state, caller, hearing_id)
    except DomainError as exc:
        state.hub.remove(client)
        await ws.send_json({"type": "error", "error": exc.code, "message": exc.message})
        await ws.close(code=4404, message=exc.code.encode())
        return
    # The sender lives exactly as long as this connection: cancelled and awaited below.
    sender = asyncio.create_task(_send_loop(conn), name=f"websocket {hearing_id}: sender")
    # Its first look, made after subscribing, also ends a connection whose credential was
    # revoked between the sign-in and the subscription (the revocation missed it on the hub).
    expiry = asyncio.create_task(_end_when_lapsed(conn), name=f"websocket {hearing_id}: expiry")
    cap = state.config.ws_max_message
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
        expiry.cancel()
        state.hub.remove(client)
        # Started before anything here awaits: the handler may be cancelled as the peer goes
        # away, and the "leave" must still be recorded.
        closing = conn.request.app[CLOSINGS].start(
            live_events.disconnected(state, caller, hearing_id, media_id, conn.moved),
            name=f"hearing {hearing_id}")
        await asyncio.shield(asyncio.gather(sender, expiry, closing, return_exceptions=True))


async def close_all(app: web.Application) -> None:
    """Server shutdown: every open socket is told the server is going away (clients reconnect
    to the next server), so no handler waits out the shutdown timeout."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def _dispatch(conn: Connection, raw: str, cap: int, bucket: TokenBucket) -> None:
    if conn.client is not None and conn.client.closing is not None:
        return  # the server is ending this connection
    if len(raw.encode()) > cap:
        conn.error("too_large", f"message over {cap} bytes was ignored")
        return
    if not bucket.take():
        conn.error("rate_limited", "too many messages; this one was ignored")
        return
    try:
        msg = clean_json(json.loads(raw))
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        conn.error("bad_json", f"not valid JSON: {exc}"[:300])
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
    if msg["type"] in RECHECKED and await live_events.credential_expiry(
            conn.state, conn.me, conn.token) is None:
        await _end_lapsed(conn)
        return
    try:
        await handler(conn, msg)
    except DomainError as exc:
        conn.error(exc.code, exc.message, ref)
    except Exception:
        log.exception("WebSocket handler %s failed", msg["type"])
        conn.error("internal", "the server could not handle this message", ref)


async def _end_lapsed(conn: Connection) -> None:
    """The connection's credential no longer holds: it ends as a revoked one does."""
    client = conn.client
    await live_events.end_connections(
        conn.state, lambda c: c is client, "signed_out" if conn.me.has_account else "revoked",
        live_events.CLOSE_UNAUTHORIZED, by=conn.me.actor)


async def _end_when_lapsed(conn: Connection) -> None:
    await live_events.lapsed(conn.state, conn.me, conn.token)
    await _end_lapsed(conn)


async def _send_loop(conn: Connection) -> None:
    client = conn.client
    try:
        while True:
            batch = await client.next_batch()
            if not batch:  # only when the server ends the connection, after its last message
                code, reason = client.closing
                await conn.ws.close(code=code, message=reason.encode())
                return
            for message in batch:
                await conn.ws.send_str(encode(message))
    except (ConnectionResetError, RuntimeError):
        return
