"""Named queries for row-count windows (model window ``rows:N``): cut points in ``row_windows``.

The job's windows_rows module decides where windows are cut; the SQL it needs lives here. A row's key
is (_seq, _ts, _batch, _row) (see loading/windows_rows.py); a row's window is found by an ASOF join on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from duckwatch.store.catalog import ModelInfo, row_window_size
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = [
    "KEY",
    "closed_row_windows",
    "count_window_rows",
    "extend_row_window",
    "insert_row_windows",
    "is_row_window",
    "last_row_windows",
    "mark_row_windows_dirty",
    "new_rows_by_group",
    "profile_source",
    "relabelled_row_windows",
    "row_window_count",
    "shrink_row_window",
    "window_where",
]

KEY = ("_seq", "_ts", "_batch", "_row")
_FIRST = "(w.first_seq, w.first_ts, w.first_batch, w.first_row)"
_LAST_COLS = ("w.last_seq", "w.last_ts", "w.last_batch", "w.last_row")


def is_row_window(window: str | None) -> bool:
    """True for a row-count window (``rows:N``)."""
    return bool(window) and row_window_size(str(window)) is not None


def _key(alias: str = "") -> str:
    return "(" + ", ".join(f"{alias}{c}" for c in KEY) + ")"


def _lex(left: Sequence[str], right: Sequence[str], op: str) -> str:
    """``left op right`` for keys compared in order (op ``<=`` or ``>=``), spelled out column by column:
    DuckDB folds a pair of row-value comparisons into a BETWEEN that it cannot evaluate on rows."""
    strict = op[0]
    out = f"{left[-1]} {op} {right[-1]}"
    for a, b in zip(reversed(left[:-1]), reversed(right[:-1]), strict=True):
        out = f"({a} {strict} {b} OR ({a} = {b} AND {out}))"
    return out


def _cols(alias: str = "") -> list[str]:
    return [f"{alias}{c}" for c in KEY]


def _assigned(info: ModelInfo, rows_sql: str) -> str:
    """``rows_sql`` (raw prediction rows, with every key column) plus ``_ws``: its row window's start."""
    return (
        f"SELECT p.*, CASE WHEN {_lex(_cols('p.'), _LAST_COLS, '<=')} THEN w.window_start END AS _ws "
        f"FROM ({rows_sql}) p ASOF LEFT JOIN (SELECT * FROM row_windows WHERE model = ?) w "
        f"ON p._version = w.version AND p._experiment = w.experiment AND {_key('p.')} >= {_FIRST}"
    )


def profile_source(info: ModelInfo, source: str, params: list[Any]) -> tuple[str, list[Any]]:
    """A ``scan_profiles`` source over ``SELECT ... FROM {source}`` whose rows carry ``_ws``."""
    return f"({_assigned(info, f'SELECT * FROM {source}')}) AS assigned", [*params, info.model]


def window_where(
    wh: Warehouse, info: ModelInfo, version: str, experiment: str, ws: Any, we: Any, alias: str = ""
) -> tuple[str, list[Any]]:
    """WHERE clause (and parameters) selecting one window's raw prediction rows, time or row count."""
    a = alias
    base = f"{a}_version = ? AND {a}_experiment = ?"
    if is_row_window(info.window):
        found = wh.rows(
            "SELECT first_seq, first_ts, first_batch, first_row, last_seq, last_ts, last_batch, last_row "
            "FROM row_windows WHERE model = ? AND version = ? AND experiment = ? AND window_start = ?",
            [info.model, version, experiment, ws],
        )
        if found:  # else a window cut by time before the model switched to row counts
            cut = list(found[0])
            marks = ["?"] * len(KEY)
            low, high = _lex(_cols(a), marks, ">="), _lex(_cols(a), marks, "<=")
            params = [p for i, x in enumerate(cut[:4]) for p in ([x] if i == len(KEY) - 1 else [x, x])]
            params += [p for i, x in enumerate(cut[4:]) for p in ([x] if i == len(KEY) - 1 else [x, x])]
            return f"{base} AND {a}_seq BETWEEN ? AND ? AND {low} AND {high}", [
                version,
                experiment,
                cut[0],
                cut[4],
                *params,
            ]
    return f"{base} AND {a}_ts >= ? AND {a}_ts < ?", [version, experiment, ws, we]


def last_row_windows(wh: Warehouse, model: str) -> list[tuple[Any, ...]]:
    """Each (version, experiment)'s latest row window: (version, experiment, start, end, size, n,
    last_seq, last_ts, last_batch, last_row)."""
    return wh.rows(
        "SELECT version, experiment, window_start, window_end, size, n, last_seq, last_ts, last_batch, "
        "last_row FROM row_windows WHERE model = ? "
        "QUALIFY row_number() OVER (PARTITION BY version, experiment ORDER BY window_start DESC) = 1",
        [model],
    )


def shrink_row_window(wh: Warehouse, model: str, version: str, experiment: str, ws: Any) -> None:
    """Close an open window as it is (N became smaller than the rows it holds)."""
    wh.execute(
        "UPDATE row_windows SET size = n WHERE model = ? AND version = ? AND experiment = ? "
        "AND window_start = ?",
        [model, version, experiment, ws],
    )


def new_rows_by_group(
    wh: Warehouse,
    model_key: int,
    last: dict[tuple[str, str], tuple[Any, ...]],
    fill: dict[tuple[str, str], int],
    since: int,
    seq: int,
    size: int,
) -> list[tuple[Any, ...]]:
    """Rows of ticks ``(since, seq]`` after each open window's last key, in groups of ``size`` (group -1:
    the ``fill`` rows that complete the open window): (version, experiment, group, rows, first time,
    last time, first key, last key), ordered."""
    pred = raw_table(model_key, "predictions")
    keys = list(last)
    return wh.rows(
        f"""WITH l AS (SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e,
                unnest(CAST(? AS BIGINT[])) AS s, unnest(CAST(? AS TIMESTAMPTZ[])) AS t,
                unnest(CAST(? AS VARCHAR[])) AS b, unnest(CAST(? AS BIGINT[])) AS r,
                unnest(CAST(? AS BIGINT[])) AS fill),
        new AS (SELECT p._version, p._experiment, p._seq, p._ts, p._batch, p._row, coalesce(l.fill, 0) AS fill,
                row_number() OVER (PARTITION BY p._version, p._experiment ORDER BY {_key("p.")}) - 1 AS i
            FROM {pred} p LEFT JOIN l ON p._version = l.v AND p._experiment = l.e
            WHERE p._seq > ? AND p._seq <= ? AND (l.v IS NULL OR {_key("p.")} > (l.s, l.t, l.b, l.r)))
        SELECT _version, _experiment, CASE WHEN i < fill THEN -1 ELSE (i - fill) // ? END AS g, count(*),
            min(_ts), max(_ts), arg_min({_key()}, {_key()}), arg_max({_key()}, {_key()})
        FROM new WHERE _version IS NOT NULL AND _experiment IS NOT NULL GROUP BY ALL ORDER BY 1, 2, 3""",
        [
            [k[0] for k in keys],
            [k[1] for k in keys],
            *([last[k][j] for k in keys] for j in (4, 5, 6, 7)),
            [fill.get(k, 0) for k in keys],
            since,
            seq,
            size,
        ],
    )


def extend_row_window(
    wh: Warehouse,
    model: str,
    version: str,
    experiment: str,
    ws: Any,
    size: int,
    n: int,
    we: Any,
    last_key: Sequence[Any],
) -> None:
    """The open window took more rows: its size, rows, end and last key."""
    wh.execute(
        "UPDATE row_windows SET size = ?, n = ?, window_end = ?, last_seq = ?, last_ts = ?, "
        "last_batch = ?, last_row = ? WHERE model = ? AND version = ? AND experiment = ? AND window_start = ?",
        [size, n, we, *last_key, model, version, experiment, ws],
    )


def insert_row_windows(wh: Warehouse, new: Sequence[Sequence[Any]]) -> None:
    """Insert new windows (model, version, experiment, start, end, size, n, first key, last key)."""
    key_types = ("BIGINT", "TIMESTAMPTZ", "VARCHAR", "BIGINT")
    names = (
        "VARCHAR",
        "VARCHAR",
        "VARCHAR",
        "TIMESTAMPTZ",
        "TIMESTAMPTZ",
        "BIGINT",
        "BIGINT",
        *key_types * 2,
    )
    wh.execute(
        "INSERT INTO row_windows SELECT " + ", ".join(f"unnest(CAST(? AS {t}[]))" for t in names),
        [[row[j] for row in new] for j in range(len(names))],
    )


def mark_row_windows_dirty(
    wh: Warehouse, model: str, windows: Sequence[tuple[Any, ...]], *, labels_only: bool = False
) -> None:
    """Mark closed windows (version, experiment, start, end) dirty (``labels_only``: labels-dirty)."""
    flag = "labels_dirty" if labels_only else "dirty"
    wh.execute(
        f"""INSERT INTO window_state BY NAME
        SELECT ? AS model, unnest(CAST(? AS VARCHAR[])) AS version, unnest(CAST(? AS VARCHAR[])) AS experiment,
               unnest(CAST(? AS TIMESTAMPTZ[])) AS window_start, unnest(CAST(? AS TIMESTAMPTZ[])) AS window_end,
               true AS dirty, now() AS dirty_since, NULL AS computed_at
        ON CONFLICT (model, version, experiment, window_start) DO UPDATE SET {flag} = true,
            window_end = excluded.window_end, dirty_since = coalesce(window_state.dirty_since, excluded.dirty_since)""",
        [model, *([w[j] for w in windows] for j in range(4))],
    )


def relabelled_row_windows(wh: Warehouse, info: ModelInfo, since: int, seq: int) -> list[tuple[Any, ...]]:
    """Closed windows (version, experiment, start, end) holding predictions whose outcomes arrived in
    ticks ``(since, seq]``."""
    pred, out = raw_table(info.model_key, "predictions"), raw_table(info.model_key, "outcomes")
    hit = (
        f"SELECT _version, _experiment, {', '.join(KEY)} FROM {pred} p "
        f"SEMI JOIN (SELECT _id FROM {out} WHERE _seq > ? AND _seq <= ?) o ON p._id = o._id"
    )
    return wh.rows(
        f"""SELECT DISTINCT w.version, w.experiment, w.window_start, w.window_end
        FROM ({hit}) p ASOF JOIN (SELECT * FROM row_windows WHERE model = ?) w
            ON p._version = w.version AND p._experiment = w.experiment AND {_key("p.")} >= {_FIRST}
        WHERE {_lex(_cols("p."), _LAST_COLS, "<=")} AND w.n >= w.size""",
        [since, seq, info.model],
    )


def row_window_count(
    wh: Warehouse, model: str, version: str, experiment: str, ws: Any
) -> list[tuple[Any, ...]]:
    """[(rows held,)] of one row window; empty for a window cut by time before the switch."""
    return wh.rows(
        "SELECT n FROM row_windows WHERE model = ? AND version = ? AND experiment = ? AND window_start = ?",
        [model, version, experiment, ws],
    )


def count_window_rows(wh: Warehouse, model_key: int, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """[(rows,)] of the raw predictions a ``window_where`` clause selects."""
    return wh.rows(f"SELECT count(*) FROM {raw_table(model_key, 'predictions')} WHERE {where}", params)


def closed_row_windows(wh: Warehouse, model: str, now: datetime, most: int) -> list[tuple[Any, ...]]:
    """The earliest ``most`` closed row windows ended by ``now``: (version, experiment, start, end, n)."""
    return wh.rows(
        "SELECT version, experiment, window_start, window_end, n FROM row_windows "
        "WHERE model = ? AND n >= size AND window_end <= ? ORDER BY window_start LIMIT ?",
        [model, now, most],
    )


def or_where(parts: Sequence[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """The OR of ``window_where`` clauses, with their parameters in order."""
    return (
        "(" + " OR ".join(f"({sql})" for sql, _p in parts) + ")",
        [p for _sql, params in parts for p in params],
    )
