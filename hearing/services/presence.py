"""Joining by invite, the lobby, raised hands, and the judge's moderation (admit, mute, eject)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Callable, Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from hearing.access import load_hearing, load_participant, load_presided, still_changeable
from hearing.closures import require_live_admission
from hearing.errors import RateLimited, conflict
from hearing.models import Invite, Participant
from hearing.hub import Selector
from hearing.roles import Caller
from hearing.services import live_events
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import hearing_json, public_participant_json

Moderation = Literal["admit", "mute", "eject"]


def first_presence(role: str) -> str:
    """The court's own staff do not wait in their own lobby."""
    return "admitted" if role in ("judge", "secretary") else "lobby"


def _join(tx: Tx, address: str) -> dict:
    c = tx.me
    h = load_hearing(tx.s, c.hearing_id, c)
    still_changeable(h)
    require_live_admission(c, h)
    p = load_participant(tx.s, h, c.participant_id)
    if p.presence is None:
        p.presence = first_presence(p.role)
    tx.audit(h, "join", {"participant_id": p.id, "presence": p.presence, "address": address})
    result = {"hearing": hearing_json(h), "participant": public_participant_json(p)}
    tx.publish(h.id, {"type": "joined", "participant": result["participant"]})
    return result


async def join(state: AppState, caller: Caller, address: str) -> dict:
    """The invited participant enters the hearing (the lobby, unless they are its staff)."""
    return await state.transaction(caller, _join, address)


def _admit(s: Session, p: Participant) -> dict:
    if p.presence != "lobby":
        raise conflict(f"participant is not in the lobby (presence: {p.presence})")
    p.presence = "admitted"
    return {}


def _eject(s: Session, p: Participant) -> dict:
    p.presence = "ejected"
    revoked = s.execute(update(Invite).where(Invite.participant_id == p.id,
                                             Invite.revoked_at.is_(None))
                        .values(revoked_at=datetime.now(timezone.utc))).rowcount
    return {"invites_revoked": revoked}


def _moderate(tx: Tx, hearing_id: int, participant_id: int, action: Moderation,
              apply: Callable[[Session, Participant], dict]) -> dict:
    h = load_presided(tx.s, hearing_id, tx.me)
    still_changeable(h)
    p = load_participant(tx.s, h, participant_id)
    if p.presence == "ejected":
        raise conflict("this participant was removed from the hearing")
    details = apply(tx.s, p)
    tx.audit(h, action, {"participant_id": p.id, **details})
    result = public_participant_json(p)
    tx.publish(h.id, {"type": "participant", "action": action, "participant": result})
    return result


async def admit(state: AppState, caller: Caller, hearing_id: int, participant_id: int) -> dict:
    return await state.transaction(caller, _moderate, hearing_id, participant_id, "admit",
                                   _admit)


async def mute(state: AppState, caller: Caller, hearing_id: int, participant_id: int,
               muted: bool) -> dict:
    def apply(s: Session, p: Participant) -> dict:
        p.muted = muted
        return {"muted": p.muted}
    result = await state.transaction(caller, _moderate, hearing_id, participant_id, "mute",
                                     apply)
    await state.live.set_muted(hearing_id, f"p{participant_id}", result["muted"],
                               by=caller.actor)
    return result


async def eject(state: AppState, caller: Caller, hearing_id: int, participant_id: int) -> dict:
    """Remove from the hearing: invites revoked, media dropped, live connections closed."""
    result = await state.transaction(caller, _moderate, hearing_id, participant_id, "eject",
                                     _eject)
    await state.live.remove(hearing_id, f"p{participant_id}", by=caller.actor)
    await live_events.end_connections(
        state, Selector(hearing_id=hearing_id, participant_id=participant_id), "ejected",
        live_events.CLOSE_EJECTED, by=caller.actor)
    return result


def _set_hand(tx: Tx, hearing_id: int, raised: bool) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    p = load_participant(tx.s, h, tx.me.participant_id)
    result = public_participant_json(p)
    if p.hand_raised == raised:  # nothing changed: nothing to record or announce
        return result
    p.hand_raised = raised
    tx.audit(h, "hand", {"participant_id": p.id, "raised": p.hand_raised})
    result = public_participant_json(p)
    tx.publish(h.id, {"type": "hand", "participant": result})
    return result


async def set_hand(state: AppState, caller: Caller, hearing_id: int, raised: bool) -> dict:
    """Raise or lower the calling participant's hand (REST and WebSocket alike). Rate-limited
    per participant before any database work, so a flood costs neither the audit log nor the
    court's database queue."""
    wait = state.hands.take((hearing_id, caller.participant_id))
    if wait:
        raise RateLimited("too many hand raises; wait a moment",
                          retry_after_s=max(1, math.ceil(wait)))
    return await state.transaction(caller, _set_hand, hearing_id, raised)
