"""The workplace of prosecutors, lawyers and representatives: the cases they act in, their
hearings in a period, their notices, and joining a hearing of their case without an invite
from the court (the account is the credential; the join link it gets is short-lived)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select

from hearing import audit, auth
from hearing.access import (cases_visible_to, hearings_visible_to, load_hearing,
                            notices_of_party, party_in_case, still_changeable)
from hearing.auth import now_utc
from hearing.errors import bad_request, conflict
from hearing.invites import invite_link
from hearing.models import (Case, Hearing, Notice, Participant, StenogramSignature,
                            StenogramVersionRow)
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.services.hearings import add_participant, parse_time
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import case_json, case_party_json, hearing_json, party_notice_json
from stenogram.version import SIGNING_ORDER

#: How long the join link of a party account holds: one court day; the account gets a new
#: one whenever it joins again.
JOIN_TTL_S = 12 * 3600
#: The calendar's default period (from now back a day, forward 90 days), its longest
#: period, and the most hearings it answers with.
CALENDAR_BACK = timedelta(days=1)
CALENDAR_AHEAD = timedelta(days=90)
CALENDAR_MAX_PERIOD = timedelta(days=366)
CALENDAR_MAX_ITEMS = 500


# -- cases -------------------------------------------------------------------------------------

def _case_view(tx: Tx, case: Case) -> dict:
    mine = [p for p in case.parties if p.user_id == tx.me.user_id and p.active]
    return {**case_json(case), "acting_as": [case_party_json(p) for p in mine]}


def _cases(tx: Tx, req: PageRequest) -> tuple[list[dict], str | None]:
    return page(tx.s, select(Case).where(cases_visible_to(tx.me)), Case.id, req,
                lambda c: _case_view(tx, c))


async def my_cases(state: AppState, caller: Caller,
                   req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the cases the account acts in, with its place in each."""
    return await state.transaction(caller, _cases, req)


# -- the calendar ------------------------------------------------------------------------------

def _period(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    begin = parse_time(start, "from") or now_utc() - CALENDAR_BACK
    until = parse_time(end, "to") or begin + CALENDAR_AHEAD
    if until <= begin:
        raise bad_request("to: must be after from", field="to")
    if until - begin > CALENDAR_MAX_PERIOD:
        raise bad_request(f"to: at most {CALENDAR_MAX_PERIOD.days} days after from", field="to")
    return begin, until


def _signed_versions(tx: Tx, hearing_ids: list[int]) -> dict[int, int]:
    """Each hearing's latest stenogram version that carries every required signature."""
    roles: dict[tuple[int, int], set[str]] = {}
    for hid, number, role in tx.s.execute(
            select(StenogramVersionRow.hearing_id, StenogramVersionRow.number,
                   StenogramSignature.role)
            .join(StenogramSignature, StenogramSignature.version_id == StenogramVersionRow.id)
            .where(StenogramVersionRow.hearing_id.in_(hearing_ids))):
        roles.setdefault((hid, number), set()).add(role)
    signed: dict[int, int] = {}
    for (hid, number), have in roles.items():
        if set(SIGNING_ORDER) <= have and number > signed.get(hid, 0):
            signed[hid] = number
    return signed


def _calendar(tx: Tx, begin: datetime, until: datetime) -> list[dict]:
    rows = list(tx.s.execute(
        select(Hearing).where(hearings_visible_to(tx.me), Hearing.scheduled_at >= begin,
                              Hearing.scheduled_at < until)
        .order_by(Hearing.scheduled_at, Hearing.id).limit(CALENDAR_MAX_ITEMS)).scalars())
    signed = _signed_versions(tx, [h.id for h in rows])
    return [{**hearing_json(h), "case_title": h.case.title,
             "joinable": h.state not in ("closed", "cancelled"),
             "signed_version": signed.get(h.id)} for h in rows]


async def my_calendar(state: AppState, caller: Caller, start: str | None,
                      end: str | None) -> list[dict]:
    """The hearings of the account's cases scheduled in [from, to), in time order, each
    with whether it can be joined and the number of its signed stenogram version."""
    begin, until = _period(start, end)
    return await state.transaction(caller, _calendar, begin, until)


# -- notices -----------------------------------------------------------------------------------

def _notices(tx: Tx, req: PageRequest) -> tuple[list[dict], str | None]:
    return page(tx.s, select(Notice).where(notices_of_party(tx.me)), Notice.id, req,
                party_notice_json)


async def my_notices(state: AppState, caller: Caller,
                     req: PageRequest) -> tuple[list[dict], str | None]:
    """One page of the notices sent to the account, newest first, with their status."""
    return await state.transaction(caller, _notices, replace(req, descending=True))


# -- joining -----------------------------------------------------------------------------------

def _seat(tx: Tx, h: Hearing) -> Participant:
    """The account's participant in the hearing: the one of its case party, or one it already
    has there; else a new one, in the role the case gives it."""
    party = party_in_case(tx.me, h.case)
    for p in sorted(h.participants, key=lambda p: p.id):
        if p.case_party_id == party.id:
            return p
    for p in sorted(h.participants, key=lambda p: p.id):
        if p.user_id == tx.me.user_id:
            return p
    p = add_participant(tx.s, h, party.role, party.display_name, party.contact, tx.me.user_id)
    p.case_party_id = party.id
    tx.audit(h, "participant.add", {"participant_id": p.id, "role": p.role,
                                    "display_name": p.display_name,
                                    "case_party_id": party.id, "self": True})
    return p


def _join(tx: Tx, hearing_id: int) -> dict:
    h = load_hearing(tx.s, hearing_id, tx.me)
    still_changeable(h)
    p = _seat(tx, h)
    if p.presence == "ejected":
        raise conflict("you were removed from this hearing")
    assert tx.me.user_id is not None
    new = auth.create_invite(tx.s, h.id, p.id, p.role, tx.me.user_id, JOIN_TTL_S)
    tx.audit(h, "invite.create", {"invite_id": new.row.id, "participant_id": p.id,
                                  "role": p.role, "self": True,
                                  "expires_at": audit.iso_utc(new.row.expires_at)})
    return {"hearing_id": h.id, "participant_id": p.id, "role": p.role, "token": new.token,
            "link": invite_link(tx.state.config.base_url, new.token),
            "expires_at": audit.iso_utc(new.row.expires_at)}


async def join(state: AppState, caller: Caller, hearing_id: int) -> dict:
    """A party account joins a hearing of its case: its participant there is found or made
    from its place in the case, and a short-lived join link is issued for it (audited as
    the account's own invite). The join page then works as for any invite: the lobby, the
    judge's admission. The token and its link exist only in this answer."""
    return await state.transaction(caller, _join, hearing_id)
