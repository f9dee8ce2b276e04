"""The append-only audit log's writer and the settings store's timestamp format."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

__all__ = ["audit", "utcnow"]


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
    """Append one audit entry inside the caller's write transaction."""
    con.execute(
        "INSERT INTO audit (at, actor, action, target, before, after, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            utcnow(),
            actor,
            action,
            target,
            None if before is None else json.dumps(before, sort_keys=True, default=str),
            None if after is None else json.dumps(after, sort_keys=True, default=str),
            reason,
        ),
    )
