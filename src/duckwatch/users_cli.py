"""`duckwatch users`: add, list, set-role, remove, reset-password and access settings (all audited)."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from collections.abc import Callable
from typing import Any

from duckwatch.config import resolve_data_dir
from duckwatch.errors import BadInputError
from duckwatch.store.settings import Settings

__all__ = ["HANDLERS", "add_parsers", "parse_lifetime"]

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {}
ROLE_CHOICES = ("viewer", "editor", "admin")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parsers(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `users` and its actions to the CLI tree."""
    p = sub.add_parser("users", help="local accounts, roles and sign-in settings")
    users = p.add_subparsers(dest="users_cmd", required=True, metavar="ACTION")
    add = users.add_parser("add", help="create a user (prompts for the password unless --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLE_CHOICES, default="viewer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    lst = users.add_parser("list", help="list users and roles")
    role = users.add_parser(
        "set-role", help="change a user's role (a downgrade reaches live sessions at once)"
    )
    role.add_argument("name")
    role.add_argument("role", choices=ROLE_CHOICES)
    rm = users.add_parser("remove", help="delete a user and end their sessions")
    rm.add_argument("name")
    reset = users.add_parser("reset-password", help="set a new password and end the user's sessions")
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    acc = users.add_parser(
        "access",
        help="show or change anonymous read access and the sign-in lifetime",
        epilog="example: duckwatch users access --anonymous-read off --session-lifetime 8h",
    )
    acc.add_argument(
        "--anonymous-read",
        choices=("auto", "on", "off"),
        default=None,
        help="auto (default): read without signing in only while no user exists",
    )
    acc.add_argument("--session-lifetime", default=None, help="how long a sign-in lasts: 90s, 30m, 12h, 7d")
    for parser in (role, rm, reset):
        parser.add_argument("--reason", default="", help="why (kept in the audit log)")
    for parser in (add, lst, role, rm, reset, acc):
        data_dir_arg(parser)
    HANDLERS["users"] = _users


def parse_lifetime(text: str) -> int:
    """Seconds in '90s', '30m', '12h' or '7d' (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if match is None:
        raise BadInputError(f"session lifetime {text!r} is not like 90s, 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInputError("no password on stdin: pipe one line, e.g. `printf '%s\\n' \"$PW\" | ...`")
        return password
    if not sys.stdin.isatty():
        raise BadInputError("no terminal to prompt for the password: pass it on stdin with --password-stdin")
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("repeat: ") != password:
        raise BadInputError("the passwords differ; run the command again")
    return password


def _users(args: argparse.Namespace) -> int:
    from duckwatch.store import sessions, users

    settings = Settings(resolve_data_dir(args.data_dir).ensure().settings)
    actor = getpass.getuser()
    cmd = args.users_cmd
    if cmd == "list":
        for u in users.list_users(settings):
            print(f"{u.name}\t{u.role}\t{u.created_at}")
        return 0
    if cmd == "add":
        user = users.add_user(settings, args.name, _password(args), args.role, actor=actor)
        print(f"user {user.name} added with role {user.role}")
        return 0
    if cmd == "set-role":
        reason = args.reason or "changed with duckwatch users set-role"
        user = users.set_role(settings, args.name, args.role, actor=actor, actor_role="admin", reason=reason)
        print(f"user {user.name} now has role {user.role} (live sessions see it on their next page run)")
        return 0
    if cmd == "remove":
        reason = args.reason or "removed with duckwatch users remove"
        ended = users.remove_user(settings, args.name, actor=actor, actor_role="admin", reason=reason)
        print(f"user {args.name} removed; {ended} live session(s) ended")
        return 0
    if cmd == "reset-password":
        password = _password(args)
        reason = args.reason or "reset with duckwatch users reset-password"
        ended = users.reset_password(
            settings, args.name, password, actor=actor, actor_role="admin", reason=reason
        )
        print(f"password of {args.name} reset; {ended} live session(s) ended")
        return 0
    if args.anonymous_read is not None or args.session_lifetime is not None:
        lifetime = None if args.session_lifetime is None else parse_lifetime(args.session_lifetime)
        sessions.set_access(
            settings, actor=actor, actor_role="admin", anonymous=args.anonymous_read, session_seconds=lifetime
        )
    now = sessions.access(settings)
    state = "on" if now.anonymous_read else "off"
    print(f"anonymous read: {now.anonymous} (now {state})\tsession lifetime: {now.session_seconds} s")
    return 0
