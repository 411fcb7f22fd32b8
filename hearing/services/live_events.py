"""A live connection to a hearing (the WebSocket): who may hold one, the snapshot it starts
with, joining the media room, and what its closing records."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearing import auth, leases
from hearing.access import load_hearing, load_participant
from hearing.closures import require_live_admission
from hearing.errors import conflict, forbidden
from hearing.hub import Client, Selector
from hearing.models import Hearing, Participant
from hearing.roles import Caller
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import hearing_json, participant_json, public_participant_json


def _identity(tx: Tx, hearing_id: int) -> str | None:
    c = tx.me
    h = load_hearing(tx.s, hearing_id, c)  # may the caller see this hearing at all?
    require_live_admission(c, h)
    if c.kind == "participant":
        return f"p{c.participant_id}"
    if c.kind == "party":
        return None  # a party account takes its seat through its join link, via the lobby
    row = tx.s.execute(select(Participant.id).where(Participant.hearing_id == hearing_id,
                                                    Participant.user_id == c.user_id)).first()
    return f"p{row[0]}" if row else None


async def identity(state: AppState, caller: Caller, hearing_id: int) -> str | None:
    """The caller's media id in this hearing ("p<participant id>"), None for staff without a
    seat; refused if the caller may not see the hearing."""
    return await state.transaction(caller, _identity, hearing_id)


def _snapshot(tx: Tx, hearing_id: int, media_here: bool, online: frozenset[int]) -> dict:
    c = tx.me
    h = load_hearing(tx.s, hearing_id, c)
    show = participant_json if c.kind == "staff" else public_participant_json
    owner = None if media_here else leases.current(tx.s, hearing_id)
    return {"type": "hello", "hearing": hearing_json(h),
            # "connected": a live connection to this node now, so a reloaded console does not
            # show someone who dropped as still in the hearing
            "participants": [{**show(p), "connected": p.id in online} for p in h.participants],
            "clock_ms": tx.state.clock_ms(h),
            # the node that holds the hearing's media when it is another one, so a client goes
            # straight there (None: here, or nowhere yet and a join here takes it)
            "media_url": owner.node_url if owner is not None else None,
            # where to reconnect when this node stops answering (config node_urls)
            "nodes": [u.strip() for u in tx.state.config.node_urls.split(",") if u.strip()],
            "you": {"kind": c.kind, "role": c.role, "name": c.name,
                    "participant_id": c.participant_id, "user_id": c.user_id}}


async def snapshot(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The first message of a connection: the hearing, its participants, its clock, the node
    its media runs on if not this one, and who the caller is."""
    alone = not state.config.nats_url  # one node holds every hearing it serves
    online = frozenset(int(c.media_id[1:]) for c in state.hub.clients(hearing_id)
                       if c.media_id and c.media_id[1:].isdigit())
    return await state.transaction(caller, _snapshot, hearing_id,
                                   alone or state.live.get(hearing_id) is not None, online)


def _may_join_media(tx: Tx, hearing_id: int, media_id: str) -> None:
    c = tx.me
    h = load_hearing(tx.s, hearing_id, c)
    if h.state not in ("open", "recess"):
        raise conflict(f"the hearing is {h.state}; media starts when it opens",
                       code="not_admitted")
    p = load_participant(tx.s, h, int(media_id[1:]))
    if p.presence == "ejected":
        raise conflict("you were removed from this hearing", code="not_admitted")
    if c.kind != "staff" and p.presence != "admitted":
        raise conflict("wait in the lobby until the judge admits you", code="not_admitted")


async def signal(state: AppState, caller: Caller, hearing_id: int, media_id: str | None,
                 message: dict) -> dict | None:
    """WebRTC signalling for the caller's own seat (the server offers, the client answers).
    Joining media needs an open hearing and, for participants, admission by the judge; the
    room checks every SDP itself. Media runs only on the node that holds the hearing's lease:
    a join here takes the lease if nobody holds it; while another node holds it the answer
    is the ``moved`` message for the client (else None)."""
    if media_id is None:
        raise forbidden("you have no seat in this hearing")
    try:
        if message["type"] == "join":
            await state.transaction(caller, _may_join_media, hearing_id, media_id)
            if state.live.get(hearing_id) is None:
                await state.live.ensure(hearing_id)
        elif state.live.get(hearing_id) is None:
            raise conflict('send {"type": "join"} first', code="no_media")
        await state.live.signal(hearing_id, media_id, message)
    except leases.HeldElsewhere as exc:
        return moved(hearing_id, exc.lease)
    return None


def moved(hearing_id: int, lease: leases.Lease) -> dict:
    """Reopen the WebSocket (and media) at the hearing's owner node. The client is sent, not
    relayed: the owner forwards every seat's media to every other, so a relay would double
    the traffic and add a hop to every packet."""
    return {"type": "moved", "url": lease.node_url, "hearing_id": hearing_id}


#: WebSocket close code for a connection whose credential is no longer valid.
CLOSE_UNAUTHORIZED = 4401
#: ... and for a participant the judge removed from the hearing.
CLOSE_EJECTED = 4403


async def end_connections(state: AppState, match: Selector | Callable[[Client], bool],
                          notice: str, code: int, by: str) -> None:
    """Close the live connections that ``match`` selects (a revoked invite, an ended session,
    an ejected participant): each gets {"type": notice} as its last message, and a media seat
    that no remaining connection holds is closed too. A Selector reaches the connections on
    every node; a function only this node's (one connection ending itself). Runs after the
    commit that revoked."""
    message = {"type": notice}
    ended = (state.hub.end_everywhere(match, message, code) if isinstance(match, Selector)
             else state.hub.end(match, message, code))
    for client in ended:
        media_id = client.media_id
        if media_id and not any(other.media_id == media_id
                                for other in state.hub.clients(client.hearing_id)):
            await state.live.remove(client.hearing_id, media_id, by=by)


async def credential_expiry(state: AppState, caller: Caller, token: str) -> datetime | None:
    """Until when the credential a connection signed in with holds; None once it no longer
    does (revoked, expired, signed out, its user deactivated). One lookup."""
    def work(s: Session) -> datetime | None:
        if caller.has_account:
            row = auth.find_session(s, token)
            return None if row is None else auth.aware(row.expires_at)
        try:
            return auth.aware(auth.resolve_invite(s, token).expires_at)
        except auth.InviteError:
            return None
    return await state.db.run(work)


async def lapsed(state: AppState, caller: Caller, token: str) -> None:
    """Returns once the credential no longer holds by its own time (an invite's or a
    session's time is up), for connections that outlive it without acting."""
    while (until := await credential_expiry(state, caller, token)) is not None:
        await asyncio.sleep((until - auth.now_utc()).total_seconds() + 0.05)


def connected(state: AppState, caller: Caller, hearing_id: int) -> None:
    """A participant's connection is up (first or again, after a "left"): consoles show them
    as on the line."""
    if caller.kind == "participant":
        state.hub.publish(hearing_id, {"type": "online", "participant_id": caller.participant_id},
                          staff_only=True)


def _leave(tx: Tx, hearing_id: int, unrecorded: int) -> None:
    h = tx.s.get(Hearing, hearing_id)
    if h is not None:
        data = {"participant_id": tx.me.participant_id}
        if unrecorded:
            data["closes_not_recorded"] = unrecorded
        tx.audit(h, "leave", data)
    tx.publish(hearing_id, {"type": "left", "participant_id": tx.me.participant_id})


async def disconnected(state: AppState, caller: Caller, hearing_id: int,
                       media_id: str | None, moved_away: bool = False) -> None:
    """A connection closed (its client is already off the hub): the seat is kept for the
    reconnect window unless another connection holds it, and a participant's leaving is
    recorded. Reconnect flaps are coalesced: no row while another of the participant's
    connections is still open, and beyond a few rows the closes are counted into the next one
    (``closes_not_recorded``), so a flapping or hostile client cannot flood the audit log.
    A connection that was sent to the hearing's owner node (``moved_away``) is not a leave:
    the client goes on there. Only the node that holds the media drops a seat: a connection
    to any other node never carried it."""
    if media_id and state.live.get(hearing_id) is not None and not any(
            other.media_id == media_id for other in state.hub.clients(hearing_id)):
        await state.live.dropped(hearing_id, media_id)
    if caller.kind != "participant" or moved_away:
        return
    pid = caller.participant_id
    if any(c.caller.kind == "participant" and c.caller.participant_id == pid
           for c in state.hub.clients(hearing_id)):
        return  # still connected (a reconnect that overtook this close)
    key = (hearing_id, pid)
    if state.leaves.take(key):
        state.unrecorded_leaves[key] = state.unrecorded_leaves.get(key, 0) + 1
        state.hub.publish(hearing_id, {"type": "left", "participant_id": pid})
        return
    await state.transaction(caller, _leave, hearing_id, state.unrecorded_leaves.pop(key, 0))
