"""Named queries that mark time windows dirty in ``window_state`` (new rows, new labels, matured labels).

A window set is a SELECT of (_version, _experiment, ws) rows with its parameters: the windows of
given rows (``windows_of``, ``windows_of_ends``) or of predictions whose outcomes arrived
(``relabelled_windows``); ``mark_dirty`` makes the UNION of such sets known and dirty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

__all__ = [
    "carries_values",
    "mark_dirty",
    "mark_matured",
    "relabelled_windows",
    "window_ends",
    "windows_of",
    "windows_of_ends",
    "windows_of_rows",
]


def carries_values(wh: Warehouse, source: str, params: list[Any], col_ids: list[str]) -> tuple[Any, ...]:
    """Per column of ``col_ids``: True when some row of the source holds a value there."""
    counts = ", ".join(f"count({c}) > 0" for c in col_ids)
    return wh.rows(f"SELECT {counts} FROM {source}", params)[0]


def window_ends(wh: Warehouse, source: str, params: list[Any], unit: str) -> list[tuple[Any, ...]]:
    """Per (version, experiment) of the source's rows: the windows of its first and last time."""
    return wh.rows(
        f"SELECT _version, _experiment, {window_expr(unit, 'min(_ts)')}, {window_expr(unit, 'max(_ts)')} "
        f"FROM {source} GROUP BY ALL",
        params,
    )


def windows_of_ends(ends: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """The window set of ``window_ends`` rows whose first and last window agree."""
    return (
        "SELECT unnest(CAST(? AS VARCHAR[])) AS _version, unnest(CAST(? AS VARCHAR[])) AS _experiment, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws",
        [[r[0] for r in ends], [r[1] for r in ends], [r[2] for r in ends]],
    )


def windows_of(source: str, params: list[Any], unit: str, *, has_where: bool) -> tuple[str, list[Any]]:
    """The window set of the source's timed rows (``has_where``: the source has a WHERE clause)."""
    return (
        f"SELECT DISTINCT _version, _experiment, {window_expr(unit)} AS ws FROM {source} "
        f"{'AND' if has_where else 'WHERE'} _ts IS NOT NULL",
        params,
    )


def windows_of_rows(source: str, params: list[Any], unit: str) -> tuple[str, list[Any]]:
    """The window set of every row of the source."""
    return f"SELECT DISTINCT _version, _experiment, {window_expr(unit, '_ts')} AS ws FROM {source}", params


def relabelled_windows(model_key: int, unit: str, since: int, seq: int) -> tuple[str, list[Any]]:
    """The window set of predictions whose outcomes arrived in ticks ``(since, seq]``."""
    pred, out = raw_table(model_key, "predictions"), raw_table(model_key, "outcomes")
    return (
        f"SELECT DISTINCT p._version, p._experiment, {window_expr(unit, 'p._ts')} AS ws FROM {pred} p "
        f"SEMI JOIN (SELECT _id FROM {out} WHERE _seq > ? AND _seq <= ?) o ON p._id = o._id",
        [since, seq],
    )


def mark_dirty(
    wh: Warehouse, model: str, unit: str, sources: list[str], params: list[Any], *, labels_only: bool = False
) -> None:
    """Make the windows of the UNION of the window sets ``sources`` known and dirty (``labels_only``:
    labels-dirty; a window not known yet is dirty all the same)."""
    flag = "labels_dirty" if labels_only else "dirty"
    wh.execute(
        f"""INSERT INTO window_state BY NAME
        SELECT ? AS model, _version AS version, _experiment AS experiment, ws AS window_start,
               ws + INTERVAL 1 {unit} AS window_end, true AS dirty, now() AS dirty_since, NULL AS computed_at
        FROM ({" UNION ".join(sources)})
        ON CONFLICT (model, version, experiment, window_start) DO UPDATE SET {flag} = true,
            dirty_since = coalesce(window_state.dirty_since, excluded.dirty_since)""",
        [model, *params],
    )


def mark_matured(wh: Warehouse, model: str, horizon_s: float, now: datetime) -> None:
    """Computed windows whose label horizon passed since they were computed become labels-dirty."""
    wh.execute(
        "UPDATE window_state SET labels_dirty = true, dirty_since = coalesce(dirty_since, CAST(? AS TIMESTAMPTZ)) "
        "WHERE model = ? AND NOT dirty AND NOT coalesce(labels_dirty, false) AND computed_at IS NOT NULL "
        "AND window_end + to_seconds(CAST(? AS DOUBLE)) <= CAST(? AS TIMESTAMPTZ) "
        "AND computed_at < window_end + to_seconds(CAST(? AS DOUBLE))",
        [now, model, horizon_s, now, horizon_s],
    )
