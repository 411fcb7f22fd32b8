"""A live connection to a hearing (the WebSocket): who may hold one, the snapshot it starts
with, joining the media room, and what its closing records."""

from __future__ import annotations

from sqlalchemy import select

from hearing.access import load_hearing, load_participant
from hearing.errors import conflict, forbidden
from hearing.models import Hearing, Participant
from hearing.roles import Caller
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import hearing_json, participant_json, public_participant_json


def _identity(tx: Tx, hearing_id: int) -> str | None:
    c = tx.me
    load_hearing(tx.s, hearing_id, c)  # may the caller see this hearing at all?
    if c.kind == "participant":
        return f"p{c.participant_id}"
    row = tx.s.execute(select(Participant.id).where(Participant.hearing_id == hearing_id,
                                                    Participant.user_id == c.user_id)).first()
    return f"p{row[0]}" if row else None


async def identity(state: AppState, caller: Caller, hearing_id: int) -> str | None:
    """The caller's media id in this hearing ("p<participant id>"), None for staff without a
    seat; refused if the caller may not see the hearing."""
    return await state.transaction(caller, _identity, hearing_id)


def _snapshot(tx: Tx, hearing_id: int) -> dict:
    c = tx.me
    h = load_hearing(tx.s, hearing_id, c)
    show = participant_json if c.kind == "staff" else public_participant_json
    return {"type": "hello", "hearing": hearing_json(h),
            "participants": [show(p) for p in h.participants],
            "clock_ms": tx.state.clock_ms(h),
            "you": {"kind": c.kind, "role": c.role, "name": c.name,
                    "participant_id": c.participant_id, "user_id": c.user_id}}


async def snapshot(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The first message of a connection: the hearing, its participants, its clock and who
    the caller is."""
    return await state.transaction(caller, _snapshot, hearing_id)


def _may_join_media(tx: Tx, hearing_id: int, media_id: str) -> None:
    c = tx.me
    h = load_hearing(tx.s, hearing_id, c)
    if h.state not in ("open", "recess"):
        raise conflict(f"the hearing is {h.state}; media starts when it opens",
                       code="not_admitted")
    p = load_participant(tx.s, h, int(media_id[1:]))
    if p.presence == "ejected":
        raise conflict("you were removed from this hearing", code="not_admitted")
    if c.kind == "participant" and p.presence != "admitted":
        raise conflict("wait in the lobby until the judge admits you", code="not_admitted")


async def signal(state: AppState, caller: Caller, hearing_id: int, media_id: str | None,
                 message: dict) -> None:
    """WebRTC signalling for the caller's own seat (the server offers, the client answers).
    Joining media needs an open hearing and, for participants, admission by the judge; the
    room checks every SDP itself."""
    if media_id is None:
        raise forbidden("you have no seat in this hearing")
    if message["type"] == "join":
        await state.transaction(caller, _may_join_media, hearing_id, media_id)
    elif state.live.get(hearing_id) is None:
        raise conflict('send {"type": "join"} first', code="no_media")
    await state.live.signal(hearing_id, media_id, message)


def _leave(tx: Tx, hearing_id: int) -> None:
    h = tx.s.get(Hearing, hearing_id)
    if h is not None:
        tx.audit(h, "leave", {"participant_id": tx.me.participant_id})
    tx.publish(hearing_id, {"type": "left", "participant_id": tx.me.participant_id})


async def disconnected(state: AppState, caller: Caller, hearing_id: int,
                       media_id: str | None) -> None:
    """A connection closed (its client is already off the hub): the seat is kept for the
    reconnect window unless another connection holds it, and a participant's leaving is
    recorded."""
    if media_id and not any(other.media_id == media_id
                            for other in state.hub.clients(hearing_id)):
        await state.live.dropped(hearing_id, media_id)
    if caller.kind == "participant":
        await state.transaction(caller, _leave, hearing_id)
