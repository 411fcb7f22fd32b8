"""Joining by invite, the lobby, raised hands, and the judge's moderation (admit, mute, eject)."""

from __future__ import annotations

from hearing.api.context import Call
from hearing.api.registry import endpoint, schema
from hearing.api.schemas import HEARING, PARTICIPANT
from hearing.services import presence

HAND = schema("Hand", {"type": "object", "additionalProperties": False, "required": ["raised"],
                       "properties": {"raised": {"type": "boolean"}}})
MUTE = schema("Mute", {"type": "object", "additionalProperties": False, "required": ["muted"],
                       "properties": {"muted": {"type": "boolean"}}})
JOINED = schema("Joined", {"type": "object", "required": ["hearing", "participant"],
                           "properties": {"hearing": HEARING, "participant": PARTICIPANT}})


@endpoint("POST", "/api/join", summary="Join the hearing an invite is for (enters the lobby)",
          auth="participant", response=JOINED, responses={409: "hearing closed"})
async def join(call: Call) -> dict:
    return await presence.join(call.state, call.me, call.address)


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/admit",
          summary="Admit a participant from the lobby (presiding judge)", response=PARTICIPANT,
          responses={409: "not in the lobby, removed, or hearing closed"})
async def admit(call: Call, hearing_id: int, participant_id: int) -> dict:
    return await presence.admit(call.state, call.me, hearing_id, participant_id)


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/mute",
          summary="Mute or unmute a participant (presiding judge)", body=MUTE,
          response=PARTICIPANT, responses={409: "removed, or hearing closed"})
async def mute(call: Call, hearing_id: int, participant_id: int, body: dict) -> dict:
    return await presence.mute(call.state, call.me, hearing_id, participant_id, body["muted"])


@endpoint("POST", "/api/hearings/{hearing_id}/participants/{participant_id}/eject",
          summary="Remove a participant and revoke their invites (presiding judge)",
          response=PARTICIPANT, responses={409: "already removed, or hearing closed"})
async def eject(call: Call, hearing_id: int, participant_id: int) -> dict:
    return await presence.eject(call.state, call.me, hearing_id, participant_id)


@endpoint("POST", "/api/hearings/{hearing_id}/hand", summary="Raise or lower your hand",
          auth="participant", body=HAND, response=PARTICIPANT,
          responses={429: "more than 3 at once or 1 a second"})
async def hand(call: Call, hearing_id: int, body: dict) -> dict:
    return await presence.set_hand(call.state, call.me, hearing_id, body["raised"])
