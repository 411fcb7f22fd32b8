"""Joining by invite, the lobby, raised hands, and the judge's moderation (admit, mute, eject)."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import update

from hearing.api.errors import conflict
from hearing.api.hearing_routes import load_hearing, load_participant, path_int
from hearing.api.registry import endpoint, json_body, schema
from hearing.api.serialize import hearing_json, public_participant_json
from hearing.models import Invite
from hearing.state import STATE
from hearing.roles import CALLER, Caller, require_presiding

HAND = schema("Hand", {"type": "object", "additionalProperties": False, "required": ["raised"],
                       "properties": {"raised": {"type": "boolean"}}})
MUTE = schema("Mute", {"type": "object", "additionalProperties": False, "required": ["muted"],
                       "properties": {"muted": {"type": "boolean"}}})


def first_presence(role: str) -> str:
    """The court's own staff do not wait in their own lobby."""
    return "admitted" if role in ("judge", "secretary") else "lobby"


@endpoint("POST", "/api/join", summary="Join the hearing an invite is for (enters the lobby)",
          auth="participant", responses={409: "hearing closed"})
async def join(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    state = request.app[STATE]

    def work(s):
        h = load_hearing(s, c.hearing_id, c)
        if h.state == "closed":
            raise conflict("the hearing is closed")
        p = load_participant(s, h, c.participant_id)
        if p.presence is None:
            p.presence = first_presence(p.role)
        state.audit(s, h, c.actor, "join", {"participant_id": p.id, "presence": p.presence,
                                             "address": request.remote})
        return {"hearing": hearing_json(h), "participant": public_participant_json(p)}

    result = await state.db.run(work)
    state.hub.publish(c.hearing_id, {"type": "joined", "participant": result["participant"]})
    return web.json_response(result)


async def _moderate(request: web.Request, action: str, apply) -> web.Response:  # noqa: ANN001
    c: Caller = request[CALLER]
    hid, pid = path_int(request, "hearing_id"), path_int(request, "participant_id")
    data = await json_body(request) if request.can_read_body else {}
    state = request.app[STATE]

    def work(s):
        h = load_hearing(s, hid, c)
        require_presiding(c, h)
        if h.state == "closed":
            raise conflict("the hearing is closed")
        p = load_participant(s, h, pid)
        if p.presence == "ejected":
            raise conflict("this participant was removed from the hearing")
        details = apply(s, p, data)
        state.audit(s, h, c.actor, action, {"participant_id": p.id, **details})
        return public_participant_json(p)

    result = await state.db.run(work)
    state.hub.publish(hid, {"type": "participant", "action": action, "participant": result})
    media_id = f"p{pid}"
    if action == "mute":
        await state.live.set_muted(hid, media_id, result["muted"], by=c.actor)
    elif action == "eject":
        await state.live.remove(hid, media_id, by=c.actor)
    return web.json_response(result)


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/admit",
          summary="Admit a participant from the lobby (presiding judge)")
async def admit(request: web.Request) -> web.Response:
    def apply(s, p, data):
        if p.presence != "lobby":
            raise conflict(f"participant is not in the lobby (presence: {p.presence})")
        p.presence = "admitted"
        return {}
    return await _moderate(request, "admit", apply)


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/mute",
          summary="Mute or unmute a participant (presiding judge)", body=MUTE)
async def mute(request: web.Request) -> web.Response:
    def apply(s, p, data):
        p.muted = data["muted"]
        return {"muted": p.muted}
    return await _moderate(request, "mute", apply)


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/eject",
          summary="Remove a participant and revoke their invites (presiding judge)")
async def eject(request: web.Request) -> web.Response:
    def apply(s, p, data):
        p.presence = "ejected"
        revoked = s.execute(update(Invite).where(Invite.participant_id == p.id,
                                                 Invite.revoked_at.is_(None))
                            .values(revoked_at=datetime.now(timezone.utc))).rowcount
        return {"invites_revoked": revoked}
    response = await _moderate(request, "eject", apply)
    hub = request.app[STATE].hub
    pid = path_int(request, "participant_id")
    for client in hub.clients(path_int(request, "hearing_id")):
        if getattr(client.caller, "participant_id", None) == pid and client.caller.kind == "participant":
            client.offer({"type": "ejected"})
            client.overflowed = True  # closes their socket after the notice
    return response


async def set_hand(state, c: Caller, hid: int, raised: bool) -> dict:  # noqa: ANN001
    """Raise or lower the calling participant's hand (REST and WebSocket alike)."""
    def work(s):
        h = load_hearing(s, hid, c)
        p = load_participant(s, h, c.participant_id)
        p.hand_raised = raised
        state.audit(s, h, c.actor, "hand", {"participant_id": p.id, "raised": p.hand_raised})
        return public_participant_json(p)

    result = await state.db.run(work)
    state.hub.publish(hid, {"type": "hand", "participant": result})
    return result


@endpoint("POST", "/api/hearings/{hearing_id}/hand", summary="Raise or lower your hand",
          auth="participant", body=HAND)
async def hand(request: web.Request) -> web.Response:
    c: Caller = request[CALLER]
    hid = path_int(request, "hearing_id")
    data = await json_body(request)
    result = await set_hand(request.app[STATE], c, hid, data["raised"])
    return web.json_response(result)
