"""`courtroom hearing create|list` and `courtroom invite`: scheduling from the command line."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from hearing import auth
from hearing.commands.common import config_from, fail, open_db
from hearing.invites import invite_link, qr_png, qr_svg
from hearing.models import HEARING_KINDS, LANGUAGES, PARTICIPANT_ROLES, Hearing, User


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("hearing", help="hearings")
    s = p.add_subparsers(dest="hearing_command", metavar="ACTION", required=True)
    c = s.add_parser("create", help="schedule a hearing")
    c.add_argument("--case", required=True, help="case number")
    c.add_argument("--title", required=True)
    c.add_argument("--kind", choices=HEARING_KINDS, default="civil")
    c.add_argument("--lang", choices=LANGUAGES, default="kk+ru")
    c.add_argument("--judge", required=True, help="user name of the presiding judge")
    c.add_argument("--secretary", help="user name of the secretary")
    c.add_argument("--at", help="scheduled time, ISO 8601 with zone")
    c.add_argument("--vocab", action="append", default=[],
                   help="a term for the transcriber (repeatable)")
    c.set_defaults(func=run_create)
    ls = s.add_parser("list", help="list hearings")
    ls.set_defaults(func=run_list)

    i = sub.add_parser("invite", help="add a participant to a hearing and print an invite link "
                                      "(and write its QR code)")
    i.add_argument("hearing", type=int)
    i.add_argument("--role", required=True, choices=PARTICIPANT_ROLES)
    i.add_argument("--name", required=True, help="participant's display name")
    i.add_argument("--contact", default="")
    i.add_argument("--ttl-hours", type=float, default=None)
    i.add_argument("--qr", metavar="BASENAME",
                   help="write BASENAME.png and BASENAME.svg with the QR code")
    i.set_defaults(func=run_invite)


def _user(s, name: str, role: str) -> User:  # noqa: ANN001
    u = s.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if u is None or u.role != role:
        raise ValueError(f"no {role} with user name {name!r}")
    return u


def run_create(args) -> int:  # noqa: ANN001
    cfg = config_from(args)
    db = open_db(cfg)
    at = None
    if args.at:
        at = datetime.fromisoformat(args.at)
        if at.tzinfo is None:
            db.close()
            return fail("--at needs a time zone, e.g. 2026-12-01T10:00+05:00")

    from hearing.api.hearing_routes import add_participant

    def work(s):
        judge = _user(s, args.judge, "judge")
        sec = _user(s, args.secretary, "secretary") if args.secretary else None
        h = Hearing(case_number=args.case, title=args.title, kind=args.kind,
                    language=args.lang, scheduled_at=at, judge_id=judge.id,
                    secretary_id=sec.id if sec else None, vocabulary=args.vocab,
                    state="scheduled", created_at=datetime.now(timezone.utc),
                    created_by=judge.id)
        s.add(h)
        s.flush()
        add_participant(s, h, "judge", judge.display_name, user_id=judge.id)
        if sec:
            add_participant(s, h, "secretary", sec.display_name, user_id=sec.id)
        from hearing import audit
        audit.append(s, h.id, "cli", "hearing.create",
                     {"case_number": h.case_number, "title": h.title, "kind": h.kind,
                      "language": h.language, "judge_id": h.judge_id,
                      "secretary_id": h.secretary_id})
        return h.id

    try:
        hid = db.run_sync(work)
    except ValueError as exc:
        return fail(str(exc))
    finally:
        db.close()
    print(f"hearing {hid} scheduled")
    return 0


def run_list(args) -> int:  # noqa: ANN001
    db = open_db(config_from(args))
    rows = db.run_sync(lambda s: [(h.id, h.case_number, h.state, h.language, h.title)
                                  for h in s.execute(select(Hearing).order_by(Hearing.id))
                                  .scalars()])
    db.close()
    if not rows:
        print("no hearings")
    for hid, case, state, lang, title in rows:
        print(f"{hid:>4}  {case:<16} {state:<10} {lang:<6} {title}")
    return 0


def run_invite(args) -> int:  # noqa: ANN001
    cfg = config_from(args)
    db = open_db(cfg)
    ttl = int(args.ttl_hours * 3600) if args.ttl_hours else cfg.invite_ttl_s
    from hearing.api.hearing_routes import add_participant

    def work(s):
        h = s.get(Hearing, args.hearing)
        if h is None:
            raise ValueError(f"no hearing {args.hearing}")
        if h.state == "closed":
            raise ValueError("the hearing is closed")
        p = add_participant(s, h, args.role, args.name, args.contact)
        new = auth.create_invite(s, h.id, p.id, p.role, h.judge_id, ttl)
        from hearing import audit
        audit.append(s, h.id, "cli", "participant.add",
                     {"participant_id": p.id, "role": p.role, "display_name": p.display_name})
        audit.append(s, h.id, "cli", "invite.create",
                     {"invite_id": new.row.id, "participant_id": p.id, "role": p.role,
                      "expires_at": audit.iso_utc(new.row.expires_at)})
        return new.token, new.row.expires_at

    try:
        token, expires = db.run_sync(work)
    except ValueError as exc:
        return fail(str(exc))
    finally:
        db.close()
    link = invite_link(cfg.base_url, token)
    print(link)
    print(f"expires {expires.isoformat()}")
    if args.qr:
        base = Path(args.qr)
        base.with_suffix(".png").write_bytes(qr_png(link))
        base.with_suffix(".svg").write_text(qr_svg(link))
        print(f"QR code: {base.with_suffix('.png')} {base.with_suffix('.svg')}")
    return 0
