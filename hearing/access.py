"""Access rules, in one place: who may see, manage, preside over or change a hearing, and the
loaders that fetch a record only for a caller allowed to touch it. Every service asks here;
the browser is never trusted to hide a button it should not show."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, select, true
from sqlalchemy.orm import Session, aliased

from hearing.errors import conflict, forbidden, not_found
from hearing.models import Case, CaseParty, EvidenceItem, Hearing, Notice, Participant
from hearing.roles import Caller


def is_assigned(caller: Caller, hearing: Hearing) -> bool:
    """The hearing's own judge or secretary."""
    return caller.kind == "staff" and caller.user_id in (hearing.judge_id, hearing.secretary_id)


def can_view(caller: Caller, hearing: Hearing) -> bool:
    if caller.kind == "participant":
        return caller.hearing_id == hearing.id
    if caller.kind == "party":
        return acts_in_case(caller, hearing.case)
    return caller.role == "admin" or is_assigned(caller, hearing)


def acts_in_case(caller: Caller, case: Case) -> bool:
    """A party account linked (and still active) to the case."""
    return caller.kind == "party" and any(
        p.user_id == caller.user_id and p.active for p in case.parties)


def case_ids_of_party(user_id: int):  # noqa: ANN201 - a scalar subquery
    return select(CaseParty.case_id).where(CaseParty.user_id == user_id,
                                           CaseParty.active.is_(True))


def hearings_visible_to(caller: Caller) -> ColumnElement[bool]:
    """The hearings a caller may list, as a condition on Hearing: all for the administrator,
    their own for judges and secretaries, their cases' for party accounts, the invited one for
    a participant."""
    if caller.kind == "participant":
        return Hearing.id == caller.hearing_id
    if caller.kind == "party":
        return Hearing.case_id.in_(case_ids_of_party(caller.user_id))
    if caller.role == "admin":
        return true()
    return (Hearing.judge_id == caller.user_id) | (Hearing.secretary_id == caller.user_id)


def bookings_visible_to(caller: Caller) -> ColumnElement[bool]:
    """The hearings a staff member sees in the courtroom calendar: their own, and every
    booking of a courtroom where they hold a hearing (the court's schedule is public; who
    may open a hearing stays with can_view). All for the administrator."""
    if caller.kind != "staff":
        return hearings_visible_to(caller)
    if caller.role == "admin":
        return true()
    own = aliased(Hearing)
    return hearings_visible_to(caller) | Hearing.courtroom_id.in_(
        select(own.courtroom_id).where(
            (own.judge_id == caller.user_id) | (own.secretary_id == caller.user_id),
            own.courtroom_id.is_not(None)))


def cases_visible_to(caller: Caller) -> ColumnElement[bool]:
    """The cases a caller may list: all for the administrator; for judges and secretaries the
    cases they preside over or hold a hearing of; for party accounts the cases they act in."""
    if caller.kind == "participant":
        return Case.id == select(Hearing.case_id).where(
            Hearing.id == caller.hearing_id).scalar_subquery()
    if caller.kind == "party":
        return Case.id.in_(case_ids_of_party(caller.user_id))
    if caller.role == "admin":
        return true()
    return (Case.judge_id == caller.user_id) | exists().where(
        Hearing.case_id == Case.id,
        (Hearing.judge_id == caller.user_id) | (Hearing.secretary_id == caller.user_id))


def load_case(s: Session, case_id: int, caller: Caller) -> Case:
    """A case the caller may see (participants holding an invite never see a whole case)."""
    case = s.get(Case, case_id)
    if case is None:
        raise not_found("no such case")
    if caller.kind == "participant" or s.execute(
            select(Case.id).where(Case.id == case_id, cases_visible_to(caller))).first() is None:
        raise forbidden("you are not part of this case")
    return case


def load_managed_case(s: Session, case_id: int, caller: Caller) -> Case:
    """A case whose file and parties the caller keeps: the administrator, the case's judge,
    and the judge or secretary of any of its hearings."""
    case = load_case(s, case_id, caller)
    if caller.kind != "staff":
        raise forbidden("only the court administrator and the case's judges and secretaries "
                        "may do this")
    return case


def require_case_judge(caller: Caller, case: Case, *, admin_too: bool = False) -> None:
    """The case's own judge (and, where ``admin_too``, the court administrator)."""
    if caller.kind == "staff" and (caller.user_id == case.judge_id
                                   or (admin_too and caller.role == "admin")):
        return
    raise forbidden("only the judge of this case may do this")


def load_case_evidence(s: Session, case_id: int, evidence_id: int,
                       caller: Caller) -> tuple[Case, EvidenceItem]:
    case = load_case(s, case_id, caller)
    item = s.get(EvidenceItem, evidence_id)
    if item is None or item.case_id != case.id:
        raise not_found("no such evidence in this case")
    if not may_see_evidence(caller, item):
        raise forbidden("only the court, the submitter and, once accepted, the case's "
                        "parties may see this evidence")
    require_evidence_level(s, caller, item)
    return case, item


def may_see_record(caller: Caller, hearing: Hearing) -> bool:
    """The whole record (audit log, transcript, stenogram): the hearing's staff and the
    court administrator."""
    return caller.kind == "staff" and (caller.role == "admin" or is_assigned(caller, hearing))


def level_allowed(caller: Caller, hearing: Hearing, level: str) -> bool:
    """Whether a caller who may view the hearing may also see what is kept at ``level``
    (hearing.models.AccessLevel): public for every viewer; restricted for the court (the
    hearing's judge and secretary, the administrator) and the parties (their accounts and
    every invited participant but an observer); sealed for the hearing's judge and secretary
    only."""
    if level == "public":
        return True
    if level == "sealed":
        return is_assigned(caller, hearing)
    if caller.kind == "staff":
        return caller.role == "admin" or is_assigned(caller, hearing)
    if caller.kind == "party":
        return acts_in_case(caller, hearing.case)
    return caller.hearing_id == hearing.id and caller.role != "observer"


def may_read_signed_record(caller: Caller, hearing: Hearing, *, protocol: bool) -> bool:
    """The signed record beyond the hearing's staff: a party account acting in the case reads
    the signed protocol and stenogram of the case's hearings; a citizen's invite reads the
    signed protocol of its own hearing. Unsigned drafts stay with the court."""
    if caller.kind == "party":
        return acts_in_case(caller, hearing.case)
    return caller.kind == "participant" and protocol and caller.hearing_id == hearing.id


def party_in_case(caller: Caller, case: Case) -> CaseParty:
    """The caller's own (active) place in the case, by which a party account joins its
    hearings; the first one if the account acts for several parties."""
    for p in case.parties:
        if caller.kind == "party" and p.user_id == caller.user_id and p.active:
            return p
    raise forbidden("you are not part of this case")


def notices_of_party(caller: Caller) -> ColumnElement[bool]:
    """The notices addressed to a party account: to the account itself, or to any place it
    holds in a case."""
    if caller.kind != "party":
        return false()
    return (Notice.user_id == caller.user_id) | Notice.case_party_id.in_(
        select(CaseParty.id).where(CaseParty.user_id == caller.user_id))


def require_view(caller: Caller, hearing: Hearing) -> None:
    if not can_view(caller, hearing):
        raise forbidden("you are not part of this hearing")


def require_manage(caller: Caller, hearing: Hearing) -> None:
    """Participants and invites: the court administrator and the hearing's judge and secretary."""
    if not may_see_record(caller, hearing):
        raise forbidden("only the court administrator, the judge or the secretary of this "
                        "hearing may do this")


def require_presiding(caller: Caller, hearing: Hearing) -> None:
    """Opening, recess, closing, admitting, muting and ejecting belong to the presiding judge."""
    if not (caller.kind == "staff" and caller.user_id == hearing.judge_id):
        raise forbidden("only the presiding judge may do this")


def require_canceller(caller: Caller, hearing: Hearing) -> None:
    """Cancelling a hearing that has not taken place: the presiding judge or the court
    administrator."""
    if not (caller.kind == "staff"
            and (caller.role == "admin" or caller.user_id == hearing.judge_id)):
        raise forbidden("only the presiding judge or the court administrator may cancel a "
                        "hearing")


def require_editor(caller: Caller, hearing: Hearing) -> None:
    """Corrections are the secretary's (and the presiding judge's), nobody else's."""
    if not is_assigned(caller, hearing):
        raise forbidden("only the secretary or the judge of this hearing may correct the "
                        "transcript")


def require_staff_role(caller: Caller, *roles: str) -> None:
    if caller.kind != "staff" or caller.role not in roles:
        raise forbidden(f"only {' / '.join(roles)} may do this")


def still_changeable(hearing: Hearing) -> None:
    """A closed hearing's record no longer grows; a cancelled one never took place."""
    if hearing.state in ("closed", "cancelled"):
        raise conflict(f"the hearing is {hearing.state}")


def load_hearing(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    h = s.get(Hearing, hearing_id)
    if h is None:
        raise not_found("no such hearing")
    require_view(caller, h)
    return h


def load_managed(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    """A hearing whose record the caller may see whole: its staff and the administrator."""
    h = load_hearing(s, hearing_id, caller)
    require_manage(caller, h)
    return h


def load_presided(s: Session, hearing_id: int, caller: Caller) -> Hearing:
    """A hearing the caller presides over."""
    h = load_hearing(s, hearing_id, caller)
    require_presiding(caller, h)
    return h


def load_participant(s: Session, h: Hearing, pid: int) -> Participant:
    p = s.get(Participant, pid)
    if p is None or p.hearing_id != h.id:
        raise not_found("no such participant in this hearing")
    return p


#: Participant roles that may put evidence before the court (not observers, not interpreters).
EVIDENCE_SUBMITTERS = frozenset({"plaintiff", "defendant", "prosecutor", "defence_lawyer",
                                 "representative", "witness", "expert"})


def require_submitter(s: Session, caller: Caller, h: Hearing) -> None:
    """Evidence comes from the hearing's staff (and the administrator) always, from
    participants by role while in the lobby or admitted, and from nobody once it is closed."""
    if caller.kind == "participant":
        if caller.role not in EVIDENCE_SUBMITTERS:
            raise forbidden(f"a participant in the role {caller.role} cannot submit evidence")
        p = s.get(Participant, caller.participant_id)
        if p is None or p.hearing_id != h.id:
            raise forbidden("you are not part of this hearing")
        if p.presence == "ejected":
            raise forbidden("you were removed from the hearing")
        if p.presence not in ("lobby", "admitted"):
            raise forbidden("join the hearing before submitting evidence")
    if h.state == "closed":
        raise conflict("the hearing is closed; evidence can no longer be submitted")


def require_own_upload(caller: Caller, hearing_id: int, started_for: object,
                       started_by: object) -> None:
    """Only whoever started an upload continues, finishes or cancels it, in its own hearing."""
    if started_for != hearing_id or started_by != caller.actor:
        raise forbidden("this upload was started by someone else")


def may_see_evidence(caller: Caller, item: EvidenceItem) -> bool:
    """Staff of the hearing see all its evidence; a participant sees what they submitted; a
    party's account also what the court accepted in its case."""
    return caller.kind == "staff" or item.submitted_by == caller.actor or (
        caller.kind == "party" and item.status == "accepted")


def carried_into(item: EvidenceItem, h: Hearing) -> bool:
    """Evidence the court accepted in another hearing of the same case is before this one
    too."""
    return item.case_id == h.case_id and item.hearing_id != h.id and item.status == "accepted"


def load_evidence(s: Session, hearing_id: int, evidence_id: int, caller: Caller) -> EvidenceItem:
    h = load_hearing(s, hearing_id, caller)
    item = s.get(EvidenceItem, evidence_id)
    if item is None or not (item.hearing_id == h.id or carried_into(item, h)):
        raise not_found("no such evidence in this hearing")
    if not may_see_evidence(caller, item):
        raise forbidden("only the court and the submitter may see this evidence")
    require_evidence_level(s, caller, item)
    return item


def require_evidence_level(s: Session, caller: Caller, item: EvidenceItem) -> None:
    """An evidence item's own access level, held in the hearing it was submitted in."""
    level = item.access_level or "public"
    if level != "public" and not level_allowed(caller, s.get(Hearing, item.hearing_id), level):
        raise forbidden(f"this evidence is {level}: it is not open to you")
