"""Named queries for dependency-aware recomputation: dirty windows, and their kept label-free rows.

See migration 0010: a window whose labels alone changed is computed again only where labels are
read; its other metric rows (before alerting) are kept here from its last full computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from duckwatch.store.warehouse import Warehouse

__all__ = [
    "MEMO_COLUMNS",
    "DirtyWindow",
    "dirty_windows",
    "forget",
    "has_windows",
    "keep_rows",
    "kept_rows",
    "mark_clean",
    "reference_stamp",
]

# Stored per row; the window key (model, version, experiment, window_start) is added on the way in.
MEMO_COLUMNS = [
    "segment", "family", "metric", "col", "value", "lower", "upper", "exact", "method", "threshold",
    "status", "n", "provisional", "details",
]  # fmt: skip
_KEYS = (
    "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
    "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) AS w"
)
_MATCH = "{t}.model = ? AND {t}.version = w.v AND {t}.experiment = w.e AND {t}.window_start = w.ws"

DirtyWindow = tuple[str, str, datetime, datetime, bool, str | None]  # v, e, start, end, full, digest


def _lists(windows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows]]


def has_windows(wh: Warehouse, model: str) -> bool:
    """True once any window of ``model`` was marked (dirty or computed)."""
    return bool(wh.rows("SELECT 1 FROM window_state WHERE model = ? LIMIT 1", [model]))


def dirty_windows(wh: Warehouse, model: str, now: datetime) -> list[DirtyWindow]:
    """Closed windows to compute, oldest first: (version, experiment, start, end, full, kept digest).

    ``full``: predictions or inputs changed (everything is computed); else only labels changed.
    """
    return [
        (str(v), str(e), ws, we, bool(full), digest)
        for v, e, ws, we, full, digest in wh.rows(
            "SELECT version, experiment, window_start, window_end, dirty, memo_digest FROM window_state "
            "WHERE model = ? AND (dirty OR coalesce(labels_dirty, false)) AND window_end <= ? "
            "ORDER BY window_start",
            [model, now],
        )
    ]


def kept_rows(wh: Warehouse, model: str, windows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The kept label-free rows of ``windows`` (version, experiment, start, ...), with their window key."""
    if not windows:
        return pd.DataFrame(columns=["version", "experiment", "window_start", *MEMO_COLUMNS])
    cols = ", ".join(f"m.{c}" for c in MEMO_COLUMNS)
    table = wh.arrow(
        f"SELECT m.version, m.experiment, m.window_start, {cols} FROM window_memo m, {_KEYS} "
        f"WHERE {_MATCH.format(t='m')}",
        [*_lists(windows), model],
    )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def keep_rows(
    wh: Warehouse, model: str, windows: Sequence[Sequence[Any]], digests: Sequence[str], frame: pd.DataFrame
) -> None:
    """Replace the kept rows of ``windows`` with ``frame`` (their label-free rows) and record the digests.

    Runs inside the caller's transaction, with the results it belongs to.
    """
    if not windows:
        return
    wh.execute(
        f"DELETE FROM window_memo USING {_KEYS} WHERE {_MATCH.format(t='window_memo')}",
        [*_lists(windows), model],
    )
    wh.execute(
        "UPDATE window_state SET memo_digest = w.d FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS v, "
        "unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws, "
        "unnest(CAST(? AS VARCHAR[])) AS d) AS w WHERE " + _MATCH.format(t="window_state"),
        [*_lists(windows), list(digests), model],
    )
    if frame.empty:
        return
    out = frame[["version", "experiment", "window_start", *MEMO_COLUMNS]].copy()
    out.insert(0, "model", model)
    wh.con.register("memo_rows", pa.Table.from_pandas(out, preserve_index=False))
    try:
        wh.execute("INSERT INTO window_memo BY NAME SELECT * FROM memo_rows")
    finally:
        wh.con.unregister("memo_rows")


def mark_clean(wh: Warehouse, model: str, windows: Sequence[Sequence[Any]], now: datetime) -> None:
    """The windows were computed at ``now``: neither dirty nor labels-dirty any more."""
    wh.execute(
        f"UPDATE window_state SET dirty = false, labels_dirty = false, dirty_since = NULL, computed_at = ? "
        f"FROM {_KEYS} WHERE " + _MATCH.format(t="window_state"),
        [now, *_lists(windows), model],
    )


def reference_stamp(wh: Warehouse, model: str) -> list[Any]:
    """Changes whenever the model's reference profiles are rebuilt."""
    return [
        str(v)
        for v in wh.rows(
            "SELECT count(*), max(created_at), min(source), max(source) FROM reference_profiles WHERE model = ?",
            [model],
        )[0]
    ]


def recompute_all(wh: Warehouse, model: str) -> None:
    """Every window of the model computed again, in full, at the next compute (its profiles stay)."""
    forget(wh, model)
    wh.execute("UPDATE window_state SET dirty = true WHERE model = ?", [model])


def forget(wh: Warehouse, model: str) -> None:
    """Drop the model's kept rows (their windows are computed in full next time)."""
    wh.execute("DELETE FROM window_memo WHERE model = ?", [model])
    wh.execute("UPDATE window_state SET memo_digest = NULL WHERE model = ?", [model])
