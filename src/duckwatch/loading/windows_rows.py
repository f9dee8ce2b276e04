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

Changing the window (or the time zone, or a column's role or type) recomputes the model's whole
history from its stored rows at the next tick (jobs/settings_change.py): every row is cut again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from duckwatch.store import row_windows as q
from duckwatch.store import volume_queries
from duckwatch.store.catalog import ModelInfo, row_window_size
from duckwatch.store.row_windows import KEY, is_row_window, profile_source, window_where
from duckwatch.store.warehouse import Warehouse

__all__ = [
    "KEY",
    "first_closed_windows",
    "is_row_window",
    "mark_dirty_rows",
    "profile_source",
    "row_window_volumes",
    "window_where",
]

TICK = timedelta(microseconds=1)


def mark_dirty_rows(wh: Warehouse, info: ModelInfo, since: int, seq: int) -> int:
    """Assign rows of ticks ``(since, seq]`` to row windows; windows that closed, and closed windows
    whose predictions got outcomes, become dirty. Returns how many windows closed."""
    size = row_window_size(info.window)
    if not size or not wh.has_table(info.model_key, "predictions"):
        return 0
    with wh.transaction():  # cut points and dirty marks move together (a killed tick redoes both)
        closed = _assign(wh, info, size, since, seq)
        _dirty(wh, info.model, closed)
        _dirty_outcomes(wh, info, since, seq)
    return len(closed)


def _assign(wh: Warehouse, info: ModelInfo, size: int, since: int, seq: int) -> list[tuple[Any, ...]]:
    """Fill each (version, experiment)'s open window, then open new ones; returns the closed windows."""
    last = {(r[0], r[1]): r[2:] for r in q.last_row_windows(wh, info.model)}
    closed: list[tuple[Any, ...]] = []
    fill: dict[tuple[str, str], int] = {}
    for (v, e), (ws, we, cap, n, *_k) in last.items():
        if n >= cap:
            continue
        if n >= size:  # N became smaller: the open window closes as it is
            q.shrink_row_window(wh, info.model, v, e, ws)
            closed.append((v, e, ws, we))
        else:
            fill[(v, e)] = size - n
    groups = q.new_rows_by_group(wh, info.model_key, last, fill, since, seq, size)
    new: list[list[Any]] = []
    for v, e, g, count, t_min, t_max, first, last_key in groups:
        first, last_key = _tuple(first), _tuple(last_key)
        prev = last.get((v, e))
        if g < 0 and prev is not None:  # rows that fill the open window
            ws, we, _cap, n = prev[:4]
            we = max(we, t_max + TICK)
            n += int(count)
            q.extend_row_window(wh, info.model, v, e, ws, size, n, we, last_key)
        else:
            ws = t_min if prev is None or t_min > prev[0] else prev[0] + TICK
            we = max(t_max, ws) + TICK
            n = int(count)
            new.append([info.model, v, e, ws, we, size, n, *first, *last_key])
        last[(v, e)] = (ws, we, size, n, *last_key)
        if n >= size:
            closed.append((v, e, ws, we))
    if new:
        q.insert_row_windows(wh, new)
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
    q.mark_row_windows_dirty(wh, model, windows, labels_only=labels_only)


def _dirty_outcomes(wh: Warehouse, info: ModelInfo, since: int, seq: int) -> None:
    """Closed windows holding predictions whose outcomes arrived in ticks ``(since, seq]`` become dirty."""
    if not wh.has_table(info.model_key, "outcomes"):
        return
    _dirty(wh, info.model, q.relabelled_row_windows(wh, info, since, seq), labels_only=True)


def row_window_volumes(
    wh: Warehouse, info: ModelInfo, windows: list[tuple[Any, ...]]
) -> list[tuple[int, list[float], str]]:
    """Rows per window and no "usual volume": every closed row window holds N rows by construction."""
    out: list[tuple[int, list[float], str]] = []
    for version, experiment, ws, we in windows:
        found = q.row_window_count(wh, info.model, version, experiment, ws)
        if not found:  # a window cut by time before the switch: count its rows
            where, params = window_where(wh, info, version, experiment, ws, we)
            found = q.count_window_rows(wh, info.model_key, where, params)
        out.append((int(found[0][0]), [], ""))
    # Kept in window_state as time windows keep theirs: `duckwatch export windows` reads it there.
    volume_queries.keep_row_counts(wh, info.model, windows, [n for n, _prev, _basis in out])
    return out


def first_closed_windows(
    wh: Warehouse, info: ModelInfo, now: datetime, want: int, least: int, most: int
) -> tuple[datetime, str, list[Any]] | None:
    """The earliest closed row windows holding ``want`` rows (or ``least`` within ``most`` windows), as
    (first start, WHERE clause over the raw predictions, parameters); None when there are not enough."""
    rows = q.closed_row_windows(wh, info.model, now, most)
    total = 0
    for i, (_v, _e, _ws, _we, n) in enumerate(rows):
        total += int(n)
        if total >= want or (i == most - 1 and total >= least):
            parts = [window_where(wh, info, v, e, ws, we) for v, e, ws, we, _n in rows[: i + 1]]
            where, params = q.or_where(parts)
            return (rows[0][2], where, params)
    return None
