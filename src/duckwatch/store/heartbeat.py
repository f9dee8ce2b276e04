"""The job's heartbeat in the settings store: each tick's start and end, so a dead job is visible."""

from __future__ import annotations

import os
from collections.abc import Sequence

from duckwatch.store.settings import Settings, utcnow

__all__ = ["finish", "last_heartbeat", "start"]


def start(settings: Settings) -> int:
    """Record that a tick started (this process); return its heartbeat id."""
    with settings.write() as con:
        cur = con.execute("INSERT INTO heartbeat (started_at, pid) VALUES (?, ?)", (utcnow(), os.getpid()))
        return int(cur.lastrowid or 0)


def finish(
    settings: Settings,
    hb: int,
    duration_s: float,
    rows_ingested: int,
    windows_computed: int,
    errors: Sequence[str],
) -> None:
    """Record how the tick ``hb`` ended; keep the last 10,000 ticks."""
    with settings.write() as con:
        con.execute(
            "UPDATE heartbeat SET finished_at = ?, duration_s = ?, rows_ingested = ?, windows_computed = ?, "
            "errors = ? WHERE id = ?",
            (utcnow(), duration_s, rows_ingested, windows_computed, "\n".join(errors), hb),
        )
        # Keep the heartbeat table small: the last 10,000 ticks are plenty for uptime charts.
        con.execute("DELETE FROM heartbeat WHERE id < ? - 10000", (hb,))


def last_heartbeat(settings: Settings) -> dict[str, object] | None:
    """The most recent finished tick, for `duckwatch status` and the app."""
    rows = settings.query("SELECT * FROM heartbeat WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None
