"""Closed hearings and closed parts: the presiding judge sets a hearing's access level, opens a
closed part ("закрытая часть") at the hearing clock and ends it; the judge or the secretary
marks a past time range as closed after the fact; the judge sets an evidence item's level.
Each change commits with its audit row; then the staff consoles get a ``closure`` event,
everyone a neutral ``closed_part`` notice, and the hearing's media owner cuts off (or lets
back) the receivers who may not see the part running now."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from hearing.access import (is_assigned, load_evidence, load_hearing, load_managed,
                            require_presiding)
from hearing.closures import (View, allowed_levels, open_level, public_copy,
                              require_record_level, span_json, spans_of, view)
from hearing.errors import bad_request, conflict, forbidden
from hearing.hub import Selector
from hearing.models import ClosedSpan, Hearing
from hearing.roles import Caller
from hearing.services import live_events
from hearing.services.notes import clock_end
from hearing.state import AppState
from hearing.transaction import Tx
from stenogram import StenogramVersion
from stenogram.export import Protocol, protocol_from_version
from stenogram.export.protocol import Entry

#: The longest reason, in characters.
MAX_REASON = 500


def _reason(body: dict) -> str:
    reason = str(body.get("reason") or "").strip()
    if len(reason) > MAX_REASON:
        raise bad_request(f"reason: at most {MAX_REASON} characters", field="reason")
    return reason


def _state(tx: Tx, h: Hearing) -> dict:
    spans = spans_of(tx.s, h.id)
    running = next((sp for sp in spans if sp.end_ms is None), None)
    return {"hearing_id": h.id, "access_level": h.access_level or "public",
            "spans": [span_json(sp) for sp in spans],
            "open": span_json(running) if running is not None else None}


# -- the hearing's level ---------------------------------------------------------------------

def _set_level(tx: Tx, hearing_id: int, level: str) -> tuple[dict, list[int]]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_presiding(tx.me, h)
    before = h.access_level or "public"
    h.access_level = level
    tx.audit(h, "access.hearing", {"from": before, "level": level})
    observers = [] if level == "public" else [
        p.id for p in h.participants if p.role == "observer" and p.presence != "ejected"]
    return _state(tx, h), observers


async def set_hearing_level(state: AppState, caller: Caller, hearing_id: int,
                            level: str) -> dict:
    """The presiding judge closes a hearing (restricted: court and parties; sealed: its
    record for the judge and secretary only) or opens it again. Observers connected to a
    hearing being closed are disconnected."""
    result, observers = await state.transaction(caller, _set_level, hearing_id, level)
    state.hub.publish(hearing_id, {"type": "closure", "closure": result}, staff_only=True)
    for pid in observers:
        await live_events.end_connections(
            state, Selector(hearing_id=hearing_id, participant_id=pid), "hearing_closed",
            live_events.CLOSE_EJECTED, by=caller.actor)
    return result


# -- closed parts ----------------------------------------------------------------------------

def _open(tx: Tx, hearing_id: int, body: dict) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_presiding(tx.me, h)
    if h.state not in ("open", "recess"):
        raise conflict(f"the hearing is {h.state}: a closed part starts in a running hearing",
                       code="not_running")
    if open_level(spans_of(tx.s, h.id)) is not None:
        raise conflict("a closed part is already running; end it first", code="already_closed")
    sp = ClosedSpan(hearing_id=h.id, start_ms=clock_end(tx, h), end_ms=None,
                    level=body["level"], reason=_reason(body), created_by=tx.me.user_id,
                    created_at=datetime.now(timezone.utc))
    tx.s.add(sp)
    tx.s.flush()
    tx.audit(h, "closure.open", {"span_id": sp.id, "start_ms": sp.start_ms,
                                 "level": sp.level, "reason": sp.reason})
    tx.publish(h.id, {"type": "closed_part", "state": "started", "at_ms": sp.start_ms})
    return _state(tx, h)


def _end(tx: Tx, hearing_id: int) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_presiding(tx.me, h)
    running = [sp for sp in spans_of(tx.s, h.id) if sp.end_ms is None]
    if not running:
        raise conflict("no closed part is running", code="not_closed")
    end = max(clock_end(tx, h), *(sp.start_ms for sp in running))
    for sp in running:
        sp.end_ms = end
        tx.audit(h, "closure.end", {"span_id": sp.id, "start_ms": sp.start_ms,
                                    "end_ms": end, "level": sp.level})
    tx.publish(h.id, {"type": "closed_part", "state": "ended", "at_ms": end})
    return _state(tx, h)


def _mark(tx: Tx, hearing_id: int, body: dict) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    if not is_assigned(tx.me, h):
        raise forbidden("only the judge or the secretary of this hearing may mark a closed "
                        "part")
    start, end = body["start_ms"], body["end_ms"]
    if end <= start:
        raise bad_request("end_ms: must be after start_ms", field="end_ms")
    if end > clock_end(tx, h):
        raise bad_request("end_ms: a marked part cannot reach past the hearing clock now",
                          field="end_ms")
    sp = ClosedSpan(hearing_id=h.id, start_ms=start, end_ms=end, level=body["level"],
                    reason=_reason(body), created_by=tx.me.user_id,
                    created_at=datetime.now(timezone.utc))
    tx.s.add(sp)
    tx.s.flush()
    tx.audit(h, "closure.mark", {"span_id": sp.id, "start_ms": start, "end_ms": end,
                                 "level": sp.level, "reason": sp.reason})
    return _state(tx, h)


async def _changed(state: AppState, hearing_id: int, result: dict) -> dict:
    state.hub.publish(hearing_id, {"type": "closure", "closure": result}, staff_only=True)
    try:
        await state.live.closure_changed(hearing_id)
    except RuntimeError:  # nothing live (the hearing is not running here or anywhere)
        pass
    return result


async def open_span(state: AppState, caller: Caller, hearing_id: int, body: dict) -> dict:
    """The presiding judge starts a closed part now: remote viewers without its level are
    cut off from media and captions until it ends; its speech carries its level."""
    return await _changed(state, hearing_id,
                          await state.transaction(caller, _open, hearing_id, body))


async def end_span(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The presiding judge ends the running closed part: everyone receives again."""
    return await _changed(state, hearing_id,
                          await state.transaction(caller, _end, hearing_id))


async def mark_span(state: AppState, caller: Caller, hearing_id: int, body: dict) -> dict:
    """The judge or the secretary marks a past time range as closed (e.g. read out by
    mistake): what was said in it is withheld from then on like any closed part's."""
    return await _changed(state, hearing_id,
                          await state.transaction(caller, _mark, hearing_id, body))


def _list(tx: Tx, hearing_id: int) -> dict:
    return _state(tx, load_managed(tx.s, hearing_id, tx.me))


async def closures(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """The hearing's level and its closed parts (the hearing's staff and the administrator)."""
    return await state.transaction(caller, _list, hearing_id)


# -- evidence --------------------------------------------------------------------------------

def _evidence_level(tx: Tx, hearing_id: int, evidence_id: int, level: str) -> dict:
    item = load_evidence(tx.s, hearing_id, evidence_id, tx.me)
    h = tx.s.get(Hearing, item.hearing_id)
    require_presiding(tx.me, h)
    before = item.access_level or "public"
    item.access_level = level
    tx.audit(h, "evidence.access", {"evidence_id": item.id, "from": before, "level": level})
    return {"evidence_id": item.id, "hearing_id": item.hearing_id, "access_level": level}


async def set_evidence_level(state: AppState, caller: Caller, hearing_id: int,
                             evidence_id: int, level: str) -> dict:
    """The presiding judge of the item's hearing sets who may see an evidence item."""
    result = await state.transaction(caller, _evidence_level, hearing_id, evidence_id, level)
    state.hub.publish(hearing_id, {"type": "closure", "evidence": result}, staff_only=True)
    return result


# -- live ------------------------------------------------------------------------------------

def _levels(tx: Tx, hearing_id: int) -> tuple[frozenset[str], bool]:
    h = load_hearing(tx.s, hearing_id, tx.me)
    running = tx.s.execute(select(ClosedSpan.id).where(
        ClosedSpan.hearing_id == hearing_id, ClosedSpan.end_ms.is_(None)).limit(1)).first()
    return allowed_levels(tx.me, h), running is not None


async def live_access(state: AppState, caller: Caller, hearing_id: int
                      ) -> tuple[frozenset[str], bool]:
    """For a live connection: the levels the caller holds in the hearing (its captions are
    cut by them), and whether a closed part is running now (the phone shows the notice)."""
    return await state.transaction(caller, _levels, hearing_id)



# -- what a reader of the record is served -----------------------------------------------------

def record_view(tx: Tx, hearing_id: int) -> View:
    """The caller's view of the record, refused when the hearing's own level is above the
    caller's (run inside a service's transaction, or on its own)."""
    h = load_hearing(tx.s, hearing_id, tx.me)
    require_record_level(tx.me, h)
    return view(tx.s, tx.me, h)


def served_protocol(version: StenogramVersion, signatures: list[dict], seen: View,
                    fmt: str) -> Protocol:
    """The protocol of a version as this caller is served it: the closed parts it may not see
    left out, one line printed in the place of each (in the captions, as a cue)."""
    document, left_out = public_copy(seen, version.document)
    p = protocol_from_version(StenogramVersion(document=document, sha256=version.sha256),
                              signatures)
    lang = "kk" if (document.get("hearing") or {}).get("language") == "kk" else "ru"
    kind = "speech" if fmt in ("srt", "vtt") else "gap"
    p.entries = sorted(p.entries + [Entry(x.start_ms, x.end_ms, None, "", "", x.text, lang, "",
                                          lang, kind=kind) for x in left_out],
                       key=lambda e: e.start_ms)
    return p
