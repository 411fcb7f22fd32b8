"""`courtroom user add|list`: staff accounts (court administrator, judge, secretary)."""

from __future__ import annotations

import getpass
import os

from hearing.accounts import generate_password
from hearing.commands.common import config_from, fail, open_db
from hearing.errors import DomainError
from hearing.models import STAFF_ROLES
from hearing.services import accounts
from hearing.text import clean_text


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("user", help="staff accounts")
    s = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="create a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--name", help="display name (default: the user name)")
    add.add_argument("--password-env", metavar="VAR",
                     help="read the password from this environment variable; otherwise ask, "
                          "or generate one with --generate")
    add.add_argument("--generate", action="store_true",
                     help="generate a random password and print it once")
    add.set_defaults(func=run_add)
    ls = s.add_parser("list", help="list staff accounts")
    ls.set_defaults(func=run_list)


def run_add(args) -> int:  # noqa: ANN001
    if args.password_env:
        password = os.environ.get(args.password_env, "")
    elif args.generate:
        password = generate_password()
    else:
        password = getpass.getpass("password: ")
    # the same text rules as the HTTP edge, so this password is the one the login form sends
    password, username = clean_text(password), clean_text(args.username)
    name = clean_text(args.name or args.username)
    db = open_db(config_from(args))
    try:
        uid = db.run_sync(lambda s: accounts.create_user(
            s, accounts.OPERATOR, username, password, args.role, name).id)
    except DomainError as exc:
        return fail(exc.message)
    finally:
        db.close()
    print(f"created {args.role} {args.username!r} (id {uid})")
    if args.generate:
        print(f"password: {password}")
    return 0


def run_list(args) -> int:  # noqa: ANN001
    db = open_db(config_from(args))
    try:
        users = db.run_sync(accounts.staff_list)
    finally:
        db.close()
    if not users:
        print("no staff accounts")
    for u in users:
        print(f"{u['id']:>4}  {u['username']:<20} {u['role']:<10} {u['display_name']}"
              f"{'' if u['active'] else '  (disabled)'}")
    return 0
