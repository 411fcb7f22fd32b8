"""Cases: the case file (number, court, category, judge, status), its parties, and its history.

The history is read from the audit rows, never kept twice: the rows of every hearing of the
case (scheduling, transitions, versions, signatures, evidence, invites, notices) and the rows
of the case's own chain (``hearing.audit.case_chain``: the file's changes, its parties, and
evidence decided after its hearing ended), in the order they were written, each with a line
a person reads. A party's contact is stored here and used by the notices; adding one sends
nothing by itself."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Required, TypedDict

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError

from hearing import audit, courtrooms
from hearing.access import (cases_visible_to, load_case, load_managed_case, require_case_judge,
                            require_staff_role)
from hearing.cases import contains_text, find_case
from hearing.errors import bad_request, conflict, not_found
from hearing.models import (PARTY_ACCOUNT_ROLES, AuditEvent, Case, CaseParty, CaseStatus,
                            Hearing, HearingKind, ParticipantRole, User)
from hearing.paging import PageRequest, page
from hearing.roles import Caller
from hearing.search.index import index_case
from hearing.state import AppState
from hearing.transaction import Tx
from hearing.views import case_json, case_party_json, hearing_json, ts


class NewCase(TypedDict, total=False):
    number: Required[str]
    category: Required[HearingKind]
    title: Required[str]
    court_id: int
    judge_id: int


class CaseChanges(TypedDict, total=False):
    title: str
    status: CaseStatus
    judge_id: int


#: Filters of the case list (all optional, combined with AND).
class CaseFilters(TypedDict, total=False):
    number: str
    q: str  # in the title or the number
    status: CaseStatus
    judge_id: int
    court_id: int


class NewParty(TypedDict, total=False):
    role: Required[ParticipantRole]
    display_name: Required[str]
    contact: str
    user_id: int | None
    acts_for: int | None


class PartyChanges(TypedDict, total=False):
    role: ParticipantRole
    display_name: str
    contact: str
    user_id: int | None
    acts_for: int | None
    active: bool


class PartyFilters(TypedDict, total=False):
    role: ParticipantRole
    active: bool


def _case_audit(tx: Tx, case: Case, action: str, data: dict) -> AuditEvent:
    """A change of the case's record (its details or parties): the row on the case's chain,
    and the case's search document (number, title, parties' names) follows in the same
    transaction."""
    tx.s.flush()
    tx.s.expire(case, ["parties"])  # a party added or changed just now is in the document
    index_case(tx.s, case)
    return audit.append(tx.s, audit.case_chain(case.id), tx.me.actor, action, data)


def _judge(tx: Tx, user_id: int) -> User:
    u = tx.s.get(User, user_id)
    if u is None or u.role != "judge" or not u.active:
        raise bad_request(f"judge_id: no active judge with id {user_id}", field="judge_id")
    return u


# -- the case file ------------------------------------------------------------------------------
def case_conditions(f: CaseFilters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for key, column in (("number", Case.number), ("status", Case.status),
                        ("judge_id", Case.judge_id), ("court_id", Case.court_id)):
        if key in f:
            out.append(column == f[key])  # type: ignore[literal-required]
    if f.get("q"):
        out.append(contains_text(Case.title, f["q"]) | contains_text(Case.number, f["q"]))
    return out


def _list(tx: Tx, f: CaseFilters, req: PageRequest) -> dict:
    q = select(Case).where(cases_visible_to(tx.me), *case_conditions(f))
    items, cursor = page(tx.s, q, Case.id, req, case_json)
    return {"cases": items, "next_cursor": cursor}


async def list_cases(state: AppState, caller: Caller, f: CaseFilters, req: PageRequest) -> dict:
    """The cases the caller may see (hearing.access.cases_visible_to), filtered, a page at a
    time."""
    return await state.transaction(caller, _list, f, req)


def _create(tx: Tx, new: NewCase) -> dict:
    me = tx.me
    require_staff_role(me, "admin", "judge")
    judge_id = new.get("judge_id") or (me.user_id if me.role == "judge" else None)
    if me.role == "judge" and judge_id != me.user_id:
        raise bad_request("judge_id: a judge opens their own cases", field="judge_id")
    if judge_id is not None:
        _judge(tx, judge_id)
    court_id = new.get("court_id")
    courtrooms.check_court_and_room(tx.s, court_id, None)
    existing = find_case(tx.s, court_id, new["number"])
    if existing is not None:
        raise conflict(f"case {new['number']} already exists in this court",
                       case_id=existing.id)
    case = Case(court_id=court_id, number=new["number"], category=new["category"],
                title=new["title"], judge_id=judge_id, status="open",
                created_at=datetime.now(timezone.utc), created_by=me.user_id)
    tx.s.add(case)
    try:
        tx.s.flush()
    except IntegrityError:  # opened meanwhile by someone else (the unique court + number)
        raise conflict(f"case {new['number']} already exists in this court") from None
    _case_audit(tx, case, "case.create", {"number": case.number, "court_id": court_id,
                                          "category": case.category, "title": case.title,
                                          "judge_id": judge_id})
    return case_json(case)


async def create_case(state: AppState, caller: Caller, new: NewCase) -> dict:
    """Open a case (the court administrator, or a judge for themselves); 409 when its number
    is taken in that court."""
    return await state.transaction(caller, _create, new)


def _detail(tx: Tx, case_id: int) -> dict:
    case = load_case(tx.s, case_id, tx.me)
    staff = tx.me.kind == "staff"
    return {**case_json(case), "hearings": [hearing_json(h) for h in case.hearings],
            "parties": [case_party_json(p, contact=staff) for p in case.parties]}


async def get_case(state: AppState, caller: Caller, case_id: int) -> dict:
    """The case with its hearings and parties (contacts for the court's staff only)."""
    return await state.transaction(caller, _detail, case_id)


def _update(tx: Tx, case_id: int, changes: CaseChanges) -> dict:
    case = load_case(tx.s, case_id, tx.me)
    require_case_judge(tx.me, case, admin_too=True)
    before = {k: getattr(case, k) for k in changes}
    if "judge_id" in changes:
        case.judge_id = _judge(tx, changes["judge_id"]).id
    if "title" in changes:
        case.title = changes["title"]
    if "status" in changes:
        case.status = changes["status"]
    after = {k: getattr(case, k) for k in changes}
    if after != before:
        _case_audit(tx, case, "case.update", {"fields": sorted(changes), "before": before,
                                              "after": after})
    return case_json(case)


async def update_case(state: AppState, caller: Caller, case_id: int,
                      changes: CaseChanges) -> dict:
    """Title, status, judge: the court administrator or the case's judge."""
    return await state.transaction(caller, _update, case_id, changes)


# -- parties ------------------------------------------------------------------------------------
def _load_party(tx: Tx, case: Case, party_id: int) -> CaseParty:
    p = tx.s.get(CaseParty, party_id)
    if p is None or p.case_id != case.id:
        raise not_found("no such party in this case")
    return p


def _check_links(tx: Tx, case: Case, user_id: int | None, acts_for: int | None,
                 itself: int | None = None) -> None:
    """An account linked to a party is a party's professional; ``acts_for`` is another party
    of the same case."""
    if user_id is not None:
        u = tx.s.get(User, user_id)
        if u is None or u.role not in PARTY_ACCOUNT_ROLES:
            raise bad_request(f"user_id: no {' / '.join(PARTY_ACCOUNT_ROLES)} account with id "
                              f"{user_id}", field="user_id")
    if acts_for is not None:
        other = tx.s.get(CaseParty, acts_for)
        if other is None or other.case_id != case.id or other.id == itself:
            raise bad_request(f"acts_for: no other party {acts_for} in this case",
                              field="acts_for")


def _parties(tx: Tx, case_id: int, f: PartyFilters, req: PageRequest) -> dict:
    case = load_case(tx.s, case_id, tx.me)
    q = select(CaseParty).where(CaseParty.case_id == case.id)
    if "role" in f:
        q = q.where(CaseParty.role == f["role"])
    if "active" in f:
        q = q.where(CaseParty.active.is_(f["active"]))
    staff = tx.me.kind == "staff"
    items, cursor = page(tx.s, q, CaseParty.id, req,
                         lambda p: case_party_json(p, contact=staff))
    return {"parties": items, "next_cursor": cursor}


async def list_parties(state: AppState, caller: Caller, case_id: int, f: PartyFilters,
                       req: PageRequest) -> dict:
    return await state.transaction(caller, _parties, case_id, f, req)


def _add_party(tx: Tx, case_id: int, new: NewParty) -> dict:
    case = load_managed_case(tx.s, case_id, tx.me)
    _check_links(tx, case, new.get("user_id"), new.get("acts_for"))
    p = CaseParty(case_id=case.id, role=new["role"], display_name=new["display_name"],
                  contact=new.get("contact", ""), user_id=new.get("user_id"),
                  acts_for=new.get("acts_for"), active=True,
                  added_at=datetime.now(timezone.utc))
    tx.s.add(p)
    tx.s.flush()
    _case_audit(tx, case, "party.add", {"party_id": p.id, "role": p.role,
                                        "display_name": p.display_name, "user_id": p.user_id,
                                        "acts_for": p.acts_for})
    return case_party_json(p)


async def add_party(state: AppState, caller: Caller, case_id: int, new: NewParty) -> dict:
    """Add a party (the administrator, the case's judge, the judge or secretary of any of its
    hearings); with ``user_id`` the account acts in the case."""
    return await state.transaction(caller, _add_party, case_id, new)


def _update_party(tx: Tx, case_id: int, party_id: int, changes: PartyChanges) -> dict:
    case = load_managed_case(tx.s, case_id, tx.me)
    p = _load_party(tx, case, party_id)
    _check_links(tx, case, changes.get("user_id"), changes.get("acts_for"), itself=p.id)
    changed = sorted(k for k, v in changes.items() if getattr(p, k) != v)
    for k in changed:
        setattr(p, k, changes[k])  # type: ignore[literal-required]
    if changed:
        _case_audit(tx, case, "party.update", {
            "party_id": p.id, "fields": changed, "role": p.role,
            "display_name": p.display_name, "user_id": p.user_id, "acts_for": p.acts_for,
            "active": p.active})
    return case_party_json(p)


async def update_party(state: AppState, caller: Caller, case_id: int, party_id: int,
                       changes: PartyChanges) -> dict:
    return await state.transaction(caller, _update_party, case_id, party_id, changes)


def _remove_party(tx: Tx, case_id: int, party_id: int) -> None:
    case = load_managed_case(tx.s, case_id, tx.me)
    p = _load_party(tx, case, party_id)
    if p.active:
        p.active = False
        _case_audit(tx, case, "party.remove", {"party_id": p.id, "role": p.role,
                                               "display_name": p.display_name})


async def remove_party(state: AppState, caller: Caller, case_id: int, party_id: int) -> None:
    """Deactivate a party: it stays in the file and the history, and its account no longer
    acts in the case."""
    await state.transaction(caller, _remove_party, case_id, party_id)


# -- history ------------------------------------------------------------------------------------
def _d(row: AuditEvent, key: str, default: Any = "?") -> Any:
    value = (row.data or {}).get(key)
    return default if value is None else value


def _hearing(row: AuditEvent) -> str:
    return f"hearing {row.hearing_id}"


#: The audit actions the history shows, each as a line a person reads.
SUMMARIES: dict[str, Callable[[AuditEvent], str]] = {
    "case.create": lambda r: f"case {_d(r, 'number')} opened: {_d(r, 'title')}",
    "case.update": lambda r: "case changed: " + ", ".join(
        f"{k} {_d(r, 'before', {}).get(k)} → {_d(r, 'after', {}).get(k)}"
        for k in _d(r, "fields", [])),
    "party.add": lambda r: f"{_d(r, 'role')} {_d(r, 'display_name')} added to the case",
    "party.update": lambda r: f"{_d(r, 'role')} {_d(r, 'display_name')}: "
                              f"{', '.join(_d(r, 'fields', []))} changed",
    "party.remove": lambda r: f"{_d(r, 'role')} {_d(r, 'display_name')} removed from the case",
    "hearing.create": lambda r: f"{_hearing(r)} scheduled: {_d(r, 'title')}",
    "hearing.update": lambda r: f"{_hearing(r)}: {', '.join(_d(r, 'fields', []))} changed",
    "hearing.transition": lambda r: f"{_hearing(r)}: {_d(r, 'from')} → {_d(r, 'to')}",
    "participant.add": lambda r: f"{_hearing(r)}: {_d(r, 'role')} {_d(r, 'display_name')} "
                                 "added",
    "invite.create": lambda r: f"{_hearing(r)}: invite issued to the {_d(r, 'role')}",
    "invite.revoke": lambda r: f"{_hearing(r)}: invite {_d(r, 'invite_id')} revoked",
    "stenogram.version": lambda r: f"{_hearing(r)}: stenogram version {_d(r, 'number')}",
    "stenogram.sign": lambda r: f"{_hearing(r)}: stenogram version {_d(r, 'number')} signed "
                                f"by the {_d(r, 'role')}",
    "stenogram.pdf_sign": lambda r: f"{_hearing(r)}: protocol PDF of version "
                                    f"{_d(r, 'number')} signed by the {_d(r, 'role')}",
    "evidence.received": lambda r: f"evidence {_d(r, 'evidence_id')} received: "
                                   f"{_d(r, 'filename')}",
    "evidence.decision": lambda r: f"evidence {_d(r, 'evidence_id')} {_d(r, 'decision')}: "
                                   f"{_d(r, 'reason')}",
    "evidence.transcribed": lambda r: f"evidence {_d(r, 'evidence_id')} transcribed "
                                      f"({_d(r, 'segments')} segments)",
}
NOTICE_PREFIX = "notice."


def summary(row: AuditEvent) -> str:
    if row.action in SUMMARIES:
        return SUMMARIES[row.action](row)
    text = "notice " + row.action.removeprefix(NOTICE_PREFIX).replace("_", " ")
    for key, before in (("kind", ": "), ("channel", " by "), ("to", " to ")):
        if _d(row, key, None) is not None:
            text += before + str(_d(row, key))
    return text


def history_json(row: AuditEvent) -> dict:
    on_case = row.hearing_id < 0
    return {"id": row.id, "at": ts(row.at), "chain": "case" if on_case else "hearing",
            "hearing_id": _d(row, "hearing_id", None) if on_case else row.hearing_id,
            "seq": row.seq, "actor": row.actor, "action": row.action, "summary": summary(row),
            "data": row.data or {}, "hash": row.hash}


class HistoryFilters(TypedDict, total=False):
    hearing_id: int


def _history(tx: Tx, case_id: int, f: HistoryFilters, req: PageRequest) -> dict:
    case = load_managed_case(tx.s, case_id, tx.me)
    hearing_ids = select(Hearing.id).where(Hearing.case_id == case.id)
    chains = (AuditEvent.hearing_id.in_(hearing_ids)
              | (AuditEvent.hearing_id == audit.case_chain(case.id)))
    if "hearing_id" in f:
        chains = AuditEvent.hearing_id == f["hearing_id"]
        chains &= AuditEvent.hearing_id.in_(hearing_ids)
    q = select(AuditEvent).where(chains, or_(AuditEvent.action.in_(sorted(SUMMARIES)),
                                             AuditEvent.action.startswith(NOTICE_PREFIX)))
    items, cursor = page(tx.s, q, AuditEvent.id, req, history_json)
    return {"case_id": case.id, "events": items, "next_cursor": cursor}


async def history(state: AppState, caller: Caller, case_id: int, f: HistoryFilters,
                  req: PageRequest) -> dict:
    """The case's timeline, oldest first (rows are numbered as written, across all its chains),
    for the court's staff who keep the case."""
    return await state.transaction(caller, _history, case_id, f, req)
