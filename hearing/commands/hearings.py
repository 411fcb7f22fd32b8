"""`courtroom hearing create|list` and `courtroom invite`: scheduling from the command line."""

from __future__ import annotations

from pathlib import Path

from hearing.commands.common import config_from, fail, run_service
from hearing.errors import DomainError
from hearing.invites import qr_png, qr_svg
from hearing.models import HEARING_KINDS, LANGUAGES, PARTICIPANT_ROLES, STAFF_ROLES
from hearing.services import hearings
from hearing.services.hearings import NewHearing
from hearing.text import clean_text


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
                                      "(and write its QR code)",
                       description="The link starts with the configuration's public_url (or "
                       "COURTROOM_PUBLIC_URL); without one, with its host and port. This "
                       "command is not the server: a port given only to `serve --port` is "
                       "unknown here, so set public_url to the address phones reach.")
    i.add_argument("hearing", type=int)
    i.add_argument("--role", required=True,
                   choices=[r for r in PARTICIPANT_ROLES if r not in STAFF_ROLES])
    i.add_argument("--name", required=True, help="participant's display name")
    i.add_argument("--contact", default="")
    i.add_argument("--ttl-hours", type=float, default=None)
    i.add_argument("--qr", metavar="BASENAME",
                   help="write BASENAME.png and BASENAME.svg with the QR code")
    i.set_defaults(func=run_invite)


def run_create(args) -> int:  # noqa: ANN001
    new: NewHearing = {"case_number": clean_text(args.case), "title": clean_text(args.title),
                       "kind": args.kind, "language": args.lang,
                       "vocabulary": [clean_text(v) for v in args.vocab]}
    if args.at:
        new["scheduled_at"] = args.at
    try:
        hid = run_service(config_from(args), lambda state: hearings.schedule_by_operator(
            state, new, clean_text(args.judge), args.secretary and clean_text(args.secretary)))
    except DomainError as exc:
        return fail(exc.message)
    print(f"hearing {hid} scheduled")
    return 0


def run_list(args) -> int:  # noqa: ANN001
    rows = run_service(config_from(args), lambda state: hearings.list_hearings(state, None))
    if not rows:
        print("no hearings")
    for h in rows:
        print(f"{h['id']:>4}  {h['case_number']:<16} {h['state']:<10} {h['language']:<6} "
              f"{h['title']}")
    return 0


def run_invite(args) -> int:  # noqa: ANN001
    ttl = int(args.ttl_hours * 3600) if args.ttl_hours else None
    try:
        issued = run_service(config_from(args), lambda state: hearings.invite_by_operator(
            state, args.hearing, {"role": args.role, "display_name": clean_text(args.name),
                                  "contact": clean_text(args.contact)}, ttl))
    except DomainError as exc:
        return fail(exc.message)
    print(issued.link)
    print(f"expires {issued.row.expires_at.isoformat()}")
    if args.qr:
        base = Path(args.qr)
        base.with_suffix(".png").write_bytes(qr_png(issued.link))
        base.with_suffix(".svg").write_text(qr_svg(issued.link))
        print(f"QR code: {base.with_suffix('.png')} {base.with_suffix('.svg')}")
    return 0
