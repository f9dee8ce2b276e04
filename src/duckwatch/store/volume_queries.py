"""Named queries of the volume metric (calculators/volume.py): window row counts, kept and earlier counts.

Windows are (version, experiment, start, end); their row counts are kept in ``window_state.row_count``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

__all__ = [
    "bucket_counts",
    "bucket_span_counts",
    "earlier_counts",
    "keep_row_counts",
    "kept_row_counts",
    "window_counts",
]


def keep_row_counts(wh: Warehouse, model: str, windows: Sequence[tuple[Any, ...]], counts: list[int]) -> None:
    """Keep each window's row count in ``window_state``."""
    wh.execute(
        "UPDATE window_state SET row_count = w.n FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS v, "
        "unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws, "
        "unnest(CAST(? AS BIGINT[])) AS n) AS w WHERE window_state.model = ? AND window_state.version = w.v "
        "AND window_state.experiment = w.e AND window_state.window_start = w.ws",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], counts, model],
    )


def earlier_counts(
    wh: Warehouse, model: str, unit: str, windows: Sequence[tuple[Any, ...]], step: str, slots: int
) -> list[tuple[Any, ...]]:
    """Per window (its position): the kept non-zero row counts of the previous 14 windows, and of its
    ``slots`` earlier same slots ``step`` days apart (None when ``slots`` is 0)."""
    # Equality joins on each window's earlier slots and recent windows (a range join of every window
    # with its 14 days of earlier windows, a list built per pair, cost 0.4 s on 720 hourly windows).
    same_slot = (
        f"""SELECT w.i, list(s.row_count) FILTER (WHERE s.row_count > 0) AS counts
        FROM (SELECT i, v, e, unnest(list_transform(range(1, {slots + 1}), lambda k: ws - to_days({step} * k))) AS t
              FROM w) w
        JOIN window_state s ON s.model = ? AND s.version = w.v AND s.experiment = w.e AND s.window_start = w.t
        GROUP BY w.i"""
        if slots
        else "SELECT NULL::BIGINT AS i, NULL::BIGINT[] AS counts WHERE false"
    )
    return wh.rows(
        f"""WITH w AS (SELECT unnest(range(?)) AS i, unnest(CAST(? AS VARCHAR[])) AS v,
                unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws),
        recent AS (SELECT w.i, list(s.row_count) FILTER (WHERE s.row_count > 0) AS counts
            FROM w JOIN window_state s ON s.model = ? AND s.version = w.v AND s.experiment = w.e
                AND s.window_start < w.ws AND s.window_start >= w.ws - INTERVAL 14 {unit}
            GROUP BY w.i),
        same AS ({same_slot})
        SELECT w.i, recent.counts, same.counts FROM w LEFT JOIN recent USING (i) LEFT JOIN same USING (i)""",
        [
            len(windows),
            *([w[j] for w in windows] for j in range(3)),
            model,
            *([model] if slots else []),
        ],
    )


def window_counts(wh: Warehouse, model_key: int, windows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """(version, experiment, start, rows) of each window, each counted by its time range."""
    pred = raw_table(model_key, "predictions")
    return wh.rows(
        " UNION ALL ".join(
            f"SELECT ?, ?, CAST(? AS TIMESTAMPTZ), count(*) FROM {pred} "
            "WHERE _version = ? AND _experiment = ? AND _ts >= ? AND _ts < ?"
            for _ in windows
        ),
        [p for v, e, ws, we in windows for p in (v, e, ws, v, e, ws, we)],
    )


def _span(model_key: int) -> str:
    return f"{raw_table(model_key, 'predictions')} WHERE _ts >= ? AND _ts < ?"


def bucket_span_counts(wh: Warehouse, model_key: int, unit: str, span: list[Any]) -> list[tuple[Any, ...]]:
    """Per (version, experiment) of the predictions in ``span`` [start, end): the windows of its first
    and last time, and its rows."""
    return wh.rows(
        f"SELECT _version, _experiment, {window_expr(unit, 'min(_ts)')}, {window_expr(unit, 'max(_ts)')}, "
        f"count(*) FROM {_span(model_key)} GROUP BY ALL",
        span,
    )


def bucket_counts(wh: Warehouse, model_key: int, unit: str, span: list[Any]) -> list[tuple[Any, ...]]:
    """(version, experiment, window start, rows) of the predictions in ``span`` [start, end)."""
    return wh.rows(
        f"SELECT _version, _experiment, {window_expr(unit)} AS bs, count(*) FROM {_span(model_key)} GROUP BY ALL",
        span,
    )


def kept_row_counts(wh: Warehouse, model: str, windows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """(version, experiment, start, rows) of the windows that have a kept row count."""
    return wh.rows(
        "SELECT s.version, s.experiment, s.window_start, s.row_count FROM window_state s, "
        "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) w WHERE s.model = ? AND s.version = w.v "
        "AND s.experiment = w.e AND s.window_start = w.ws AND s.row_count IS NOT NULL",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], model],
    )
