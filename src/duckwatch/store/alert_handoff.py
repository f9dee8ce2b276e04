"""The hand-off between a compute stage's results (warehouse) and its alerts (settings store).

The two live in different files, so no transaction spans both. The compute stage commits its metric
rows together with a pending mark (a token and the windows it judged); the alert stage then commits
its alerts, incidents and outbox rows together with the same token in ``job_marks``; the pending mark
is cleared last. A job killed in between finds the pending mark on its next run: when the settings
store holds the token the alerts were applied and the mark is only cleared, otherwise the stored rows
of those windows are judged and applied again. Each side is one transaction; a rerun never applies
twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from duckwatch.store.settings import Settings, utcnow
from duckwatch.store.warehouse import Warehouse

__all__ = ["applied", "clear_pending", "pending", "record_applied", "set_pending", "window_results"]

Window = tuple[str, str, datetime, datetime]  # version, experiment, window start, window end


def _key(model: str) -> str:
    return f"alerts_pending:{model}"


def set_pending(wh: Warehouse, model: str, token: str, windows: Sequence[Window]) -> None:
    """Record, inside the caller's warehouse transaction, that the alerts of ``windows`` are owed."""
    value = json.dumps(
        {
            "token": token,
            "windows": [[str(v), str(e), pd.Timestamp(ws).isoformat()] for v, e, ws, _we in windows],
        }
    )
    wh.execute("INSERT OR REPLACE INTO job_state VALUES (?, ?)", [_key(model), value])


def pending(wh: Warehouse, model: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    """The token and windows (version, experiment, ISO start) whose alerts may not be applied yet."""
    rows = wh.rows("SELECT value FROM job_state WHERE key = ?", [_key(model)])
    if not rows:
        return None
    value = json.loads(rows[0][0])
    return str(value["token"]), [(str(v), str(e), str(ws)) for v, e, ws in value["windows"]]


def clear_pending(wh: Warehouse, model: str) -> None:
    """The alerts owed are applied: forget the pending mark."""
    wh.execute("DELETE FROM job_state WHERE key = ?", [_key(model)])


def window_results(wh: Warehouse, model: str, windows: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """The stored metric rows of ``windows`` (version, experiment, ISO start)."""
    table = wh.arrow(
        "SELECT r.* FROM metric_results r JOIN (SELECT unnest(CAST(? AS VARCHAR[])) AS v, "
        "unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) w "
        "ON r.version = w.v AND r.experiment = w.e AND r.window_start = w.ws WHERE r.model = ?",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], model],
    )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def applied(settings: Settings, model: str) -> str | None:
    """The token of the last alert stage of ``model`` whose writes committed."""
    rows = settings.query("SELECT value FROM job_marks WHERE key = ?", (_key(model),))
    return str(rows[0]["value"]) if rows else None


def record_applied(settings: Settings, model: str, token: str) -> None:
    """Record ``token`` as applied, inside the alert stage's own transaction."""
    with settings.write() as con:
        con.execute(
            "INSERT INTO job_marks (key, value, at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at",
            (_key(model), token, utcnow()),
        )
