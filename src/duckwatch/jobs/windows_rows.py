"""Row-count windows (model window ``rows:N``): each (version, experiment)'s predictions cut into
consecutive windows of N rows in arrival order.

Order: the key (_seq, _ts, _batch, _row): the ingestion tick, then event time, then landing batch and
row within it. Within a (version, experiment) it is unique, so the order is total and never changes.
Rows are assigned once, in the tick that ingests them; the cut points live in the warehouse table
``row_windows`` (first and last key, rows held, rows that close it), so a tick reads only new rows and
a closed window never changes. A row's window is found by an ASOF join on the key.

Keys: ``window_start`` is the earliest event time among the rows that opened the window, bumped to
the previous window's start + 1 microsecond when it would not be later (rows logged without a time
column all share one time), so starts are unique and increasing per (version, experiment);
``window_end`` is the latest event time of its rows + 1 microsecond (at least start + 1 microsecond).
A window is closed once it holds N rows. The last, incomplete window is open: its rows are profiled
as they arrive, but it gets no ``window_state`` row, so it is never evaluated.

Changing the window applies to rows ingested from then on, as for time windows: history keeps its
windows. A smaller N closes the open window at once when it already holds N rows or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from duckwatch.store.catalog import ModelInfo, row_window_size
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = [
    "first_closed_windows",
    "is_row_window",
    "mark_dirty_rows",
    "profile_source",
    "row_window_volumes",
    "window_where",
]

KEY = ("_seq", "_ts", "_batch", "_row")
TICK = timedelta(microseconds=1)
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


def mark_dirty_rows(wh: Warehouse, info: ModelInfo, since: int, seq: int) -> int:
    """Assign rows of ticks ``(since, seq]`` to row windows; windows that closed, and closed windows
    whose predictions got outcomes, become dirty. Returns how many windows closed."""
    size = row_window_size(info.window)
    if not size or not wh.has_table(info.model_key, "predictions"):
        return 0
    wh.execute("BEGIN")  # cut points and dirty marks move together (a killed tick redoes both)
    try:
        closed = _assign(wh, info, size, since, seq)
        _dirty(wh, info.model, closed)
        _dirty_outcomes(wh, info, since, seq)
        wh.execute("COMMIT")
    except BaseException:
        wh.execute("ROLLBACK")
        raise
    return len(closed)


def _assign(wh: Warehouse, info: ModelInfo, size: int, since: int, seq: int) -> list[tuple[Any, ...]]:
    """Fill each (version, experiment)'s open window, then open new ones; returns the closed windows."""
    pred = raw_table(info.model_key, "predictions")
    last = {
        (r[0], r[1]): r[2:]
        for r in wh.rows(
            "SELECT version, experiment, window_start, window_end, size, n, last_seq, last_ts, last_batch, "
            "last_row FROM row_windows WHERE model = ? "
            "QUALIFY row_number() OVER (PARTITION BY version, experiment ORDER BY window_start DESC) = 1",
            [info.model],
        )
    }
    closed: list[tuple[Any, ...]] = []
    fill: dict[tuple[str, str], int] = {}
    for (v, e), (ws, we, cap, n, *_k) in last.items():
        if n >= cap:
            continue
        if n >= size:  # N became smaller: the open window closes as it is
            wh.execute(
                "UPDATE row_windows SET size = n WHERE model = ? AND version = ? AND experiment = ? "
                "AND window_start = ?",
                [info.model, v, e, ws],
            )
            closed.append((v, e, ws, we))
        else:
            fill[(v, e)] = size - n
    keys = list(last)
    groups = wh.rows(
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
    new: list[list[Any]] = []
    for v, e, g, count, t_min, t_max, first, last_key in groups:
        first, last_key = _tuple(first), _tuple(last_key)
        prev = last.get((v, e))
        if g < 0 and prev is not None:  # rows that fill the open window
            ws, we, _cap, n = prev[:4]
            we = max(we, t_max + TICK)
            n += int(count)
            wh.execute(
                "UPDATE row_windows SET size = ?, n = ?, window_end = ?, last_seq = ?, last_ts = ?, "
                "last_batch = ?, last_row = ? WHERE model = ? AND version = ? AND experiment = ? AND window_start = ?",
                [size, n, we, *last_key, info.model, v, e, ws],
            )
        else:
            ws = t_min if prev is None or t_min > prev[0] else prev[0] + TICK
            we = max(t_max, ws) + TICK
            n = int(count)
            new.append([info.model, v, e, ws, we, size, n, *first, *last_key])
        last[(v, e)] = (ws, we, size, n, *last_key)
        if n >= size:
            closed.append((v, e, ws, we))
    if new:
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
    return closed


def _tuple(value: Any) -> tuple[Any, ...]:
    """A key that DuckDB returned as an unnamed struct (a dict or a tuple) as a tuple."""
    return tuple(value.values()) if isinstance(value, dict) else tuple(value)


def _dirty(
    wh: Warehouse, model: str, windows: Sequence[tuple[Any, ...]], *, labels_only: bool = False
) -> None:
    """Mark closed windows (version, experiment, start, end) dirty, as new data does for time windows
    (``labels_only``: only their labels changed; see inputs.mark_windows_dirty)."""
    if not windows:
        return
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


def _dirty_outcomes(wh: Warehouse, info: ModelInfo, since: int, seq: int) -> None:
    """Closed windows holding predictions whose outcomes arrived in ticks ``(since, seq]`` become dirty."""
    if not wh.has_table(info.model_key, "outcomes"):
        return
    pred, out = raw_table(info.model_key, "predictions"), raw_table(info.model_key, "outcomes")
    hit = (
        f"SELECT _version, _experiment, {', '.join(KEY)} FROM {pred} p "
        f"SEMI JOIN (SELECT _id FROM {out} WHERE _seq > ? AND _seq <= ?) o ON p._id = o._id"
    )
    windows = wh.rows(
        f"""SELECT DISTINCT w.version, w.experiment, w.window_start, w.window_end
        FROM ({hit}) p ASOF JOIN (SELECT * FROM row_windows WHERE model = ?) w
            ON p._version = w.version AND p._experiment = w.experiment AND {_key("p.")} >= {_FIRST}
        WHERE {_lex(_cols("p."), _LAST_COLS, "<=")} AND w.n >= w.size""",
        [since, seq, info.model],
    )
    _dirty(wh, info.model, windows, labels_only=True)


def row_window_volumes(
    wh: Warehouse, info: ModelInfo, windows: list[tuple[Any, ...]]
) -> list[tuple[int, list[float], str]]:
    """Rows per window and no "usual volume": every closed row window holds N rows by construction."""
    out: list[tuple[int, list[float], str]] = []
    for version, experiment, ws, we in windows:
        found = wh.rows(
            "SELECT n FROM row_windows WHERE model = ? AND version = ? AND experiment = ? AND window_start = ?",
            [info.model, version, experiment, ws],
        )
        if not found:  # a window cut by time before the switch: count its rows
            where, params = window_where(wh, info, version, experiment, ws, we)
            found = wh.rows(
                f"SELECT count(*) FROM {raw_table(info.model_key, 'predictions')} WHERE {where}", params
            )
        out.append((int(found[0][0]), [], ""))
    return out


def first_closed_windows(
    wh: Warehouse, info: ModelInfo, now: datetime, want: int, least: int, most: int
) -> tuple[datetime, str, list[Any]] | None:
    """The earliest closed row windows holding ``want`` rows (or ``least`` within ``most`` windows), as
    (first start, WHERE clause over the raw predictions, parameters); None when there are not enough."""
    rows = wh.rows(
        "SELECT version, experiment, window_start, window_end, n FROM row_windows "
        "WHERE model = ? AND n >= size AND window_end <= ? ORDER BY window_start LIMIT ?",
        [info.model, now, most],
    )
    total = 0
    for i, (_v, _e, _ws, _we, n) in enumerate(rows):
        total += int(n)
        if total >= want or (i == most - 1 and total >= least):
            parts = [window_where(wh, info, v, e, ws, we) for v, e, ws, we, _n in rows[: i + 1]]
            return (
                rows[0][2],
                "(" + " OR ".join(f"({sql})" for sql, _p in parts) + ")",
                [p for _sql, params in parts for p in params],
            )
    return None
