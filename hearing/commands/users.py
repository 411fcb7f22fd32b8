"""`courtroom user add|list`: accounts of the court's staff (court administrator, judge,
secretary) and of the parties' professionals (prosecutor, lawyer, representative)."""

from __future__ import annotations

import getpass
import os

from hearing.accounts import generate_password
from hearing.commands.common import config_from, fail, open_db
from hearing.errors import DomainError
from hearing.models import ACCOUNT_ROLES
from hearing.services import accounts
from hearing.text import clean_text


def register(sub) -> None:  # noqa: ANN001
    p = sub.add_parser("user", help="accounts (court staff, prosecutors, lawyers, "
                                    "representatives)")
    s = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ACCOUNT_ROLES)
    add.add_argument("--name", help="display name (default: the user name)")
    add.add_argument("--contact", default="",
                     help="where notices go: an e-mail address or a phone number")
    add.add_argument("--password-env", metavar="VAR",
                     help="read the password from this environment variable; otherwise ask, "
                          "or generate one with --generate")
    add.add_argument("--generate", action="store_true",
                     help="generate a random password and print it once")
    add.set_defaults(func=run_add)
    ls = s.add_parser("list", help="list the accounts")
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
    contact = clean_text(args.contact)
    if len(contact) > 300:
        return fail("--contact: at most 300 characters")
    db = open_db(config_from(args))
    try:
        uid = db.run_sync(lambda s: accounts.create_user(
            s, accounts.OPERATOR, username, password, args.role, name, contact=contact).id)
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
        users = db.run_sync(accounts.account_list)
    finally:
        db.close()
    if not users:
        print("no accounts")
    for u in users:
        print(f"{u['id']:>4}  {u['username']:<20} {u['role']:<14} {u['display_name']}"
              f"{'  <' + u['contact'] + '>' if u['contact'] else ''}"
              f"{'' if u['active'] else '  (disabled)'}")
    return 0
