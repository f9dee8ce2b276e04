"""The append-only audit log's writer and the settings store's timestamp format."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sqlite3
from datetime import UTC, datetime
from typing import Any

__all__ = ["audit", "os_user", "utcnow"]


@functools.cache
def os_user() -> str:
    """The operating-system user running this process (kept next to the actor it names)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid {os.getuid()}"


def utcnow() -> str:
    """The current UTC time as an ISO-8601 string (the settings store's timestamp format)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def audit(
    con: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> None:
    """Append one audit entry inside the caller's write transaction, with the OS user of the process:
    an actor is only a name the caller chose (``--actor``), the OS user is who ran the command."""
    values = [
        utcnow(),
        actor,
        action,
        target,
        None if before is None else json.dumps(before, sort_keys=True, default=str),
        None if after is None else json.dumps(after, sort_keys=True, default=str),
        reason,
    ]
    cols = "at, actor, action, target, before, after, reason"
    # A migration step older than the os_user column (0005) may audit before that column exists.
    if any(row[1] == "os_user" for row in con.execute("PRAGMA table_info(audit)")):
        cols += ", os_user"
        values.append(os_user())
    con.execute(f"INSERT INTO audit ({cols}) VALUES ({', '.join('?' for _ in values)})", values)
