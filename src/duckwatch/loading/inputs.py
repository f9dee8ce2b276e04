"""Input batches in the windows: feature rows logged without predictions (``Collector.log_inputs``).

Per column, a window's profile comes from one stream, never both: from the window's prediction rows
when predictions carry the column, otherwise from the input rows of the window (by their event
time) when inputs carry it. A stream carries a column once one of its rows holds a value there (every
raw table has a slot for every column of the model, NULL where a batch lacked it); this is kept per
model in ``job_state`` and only grows. Input rows are profiled and merged exactly like prediction
rows, so drift and data quality follow from the stored profiles unchanged. Volume, duplicate ids,
performance, list outputs and custom metrics count predictions only: a window that holds input rows
alone gets none of them. Row-count windows (``rows:N``) are cut over predictions: inputs stay out.

When the columns profiled from inputs change (an input batch brings a new column, or predictions
start carrying one) every profile of the model is rebuilt from raw rows, so a column's profile never
mixes the two streams. Nothing here runs for a model without an inputs table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from duckwatch.loading.windows_rows import is_row_window
from duckwatch.store import dirty_windows, job_state, raw_sources
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = [
    "carried_columns",
    "input_columns",
    "input_columns_changed",
    "input_only_columns",
    "input_rows",
    "input_windows",
    "mark_windows_dirty",
    "remember_carried",
    "remember_input_columns",
]

Ticks = tuple[int, int]  # rows of ingestion ticks lo < _seq <= hi
_STREAMS = ("predictions", "inputs")


def carried_columns(
    wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], ticks: Ticks
) -> dict[str, dict[str, list[str]]]:
    """Per stream (predictions, inputs): ``carried``, the ids of ``cols`` that some row of the stream
    holds a value of up to tick ``ticks[1]``, and ``checked``, the ids looked for. What the ticks up
    to ``ticks[0]`` found is kept in ``job_state``: columns checked then are looked for in newer rows
    only, the others in every row; a column found stays carried."""
    key = ("carried_columns", info.model, *map(str, ticks), *(c.col_id for c in cols))
    found: dict[str, dict[str, list[str]]] | None = wh.memo.get(key)
    if found is not None:
        return found
    kept = job_state.read_value(wh, f"carried_columns:{info.model}")
    before: dict[str, dict[str, list[str]]] = json.loads(kept) if kept is not None else {}
    found = {}
    for stream in _STREAMS:
        have = set(before.get(stream, {}).get("carried", []))
        checked = set(before.get(stream, {}).get("checked", []))
        if wh.has_table(info.model_key, stream):
            slots = wh.table_columns(raw_table(info.model_key, stream))
            todo = [c.col_id for c in cols if c.col_id in slots and c.col_id not in have]
            # One scan per group (a count of NULL slots reads their validity only): newer rows for the
            # columns checked before, every row for the others.
            groups: list[tuple[list[str], Ticks | None]] = [
                ([c for c in todo if c in checked], ticks),
                ([c for c in todo if c not in checked], None),
            ]
            for group, span in groups:
                if group:
                    source, params = _rows(wh, info.model_key, stream, span)
                    hits = dirty_windows.carries_values(wh, source, params, group)
                    have |= {c for c, hit in zip(group, hits, strict=True) if hit}
            checked |= {c.col_id for c in cols if c.col_id in slots}
        found[stream] = {"carried": sorted(have), "checked": sorted(checked)}
    wh.memo[key] = found
    return found


def remember_carried(wh: Warehouse, info: ModelInfo, found: dict[str, dict[str, list[str]]]) -> None:
    """Keep ``carried_columns``' answer (in the transaction that marks its ticks profiled)."""
    job_state.write_value(wh, f"carried_columns:{info.model}", json.dumps(found))


def input_only_columns(
    wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], ticks: Ticks
) -> list[ColumnInfo]:
    """The columns of ``cols`` that inputs carry and predictions do not (their prediction slots are
    all NULL: never profiled from there, whatever the window)."""
    if not wh.has_table(info.model_key, "inputs"):
        return []
    carried = carried_columns(wh, info, cols, ticks)
    inputs, predictions = set(carried["inputs"]["carried"]), set(carried["predictions"]["carried"])
    return [c for c in cols if c.col_id in inputs and c.col_id not in predictions]


def input_columns(
    wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], ticks: Ticks
) -> list[ColumnInfo]:
    """The columns of ``cols`` whose window profiles come from input rows: ``input_only_columns``,
    none for row-count windows (cut over predictions)."""
    return [] if is_row_window(info.window) else input_only_columns(wh, info, cols, ticks)


def _rows(wh: Warehouse, model_key: int, stream: str, ticks: Ticks | None) -> tuple[str, list[object]]:
    return raw_sources.tick_rows(wh, model_key, stream, ticks)


def input_rows(wh: Warehouse, info: ModelInfo, ticks: Ticks | None) -> tuple[str, list[object]]:
    """FROM source (and parameters) of the input rows of ``ticks`` (all input rows when None)."""
    return _rows(wh, info.model_key, "inputs", ticks)


def input_windows(
    wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], ticks: Ticks, rows: Ticks | None
) -> tuple[str, list[object]] | None:
    """SQL (and parameters) of the (_version, _experiment, ws) windows holding the input rows ``rows``
    (as for ``input_rows``); None when inputs feed none of ``cols`` (as of ``ticks``)."""
    if not input_columns(wh, info, cols, ticks):
        return None
    source, params = input_rows(wh, info, rows)
    unit = info.window
    # As for predictions (jobs/tick.py): when each (version, experiment)'s first and last new row share
    # a window (truncation is monotone), that window is the only one; no row's time is truncated.
    ends = dirty_windows.window_ends(wh, source, params, unit)
    ends = [e for e in ends if e[2] is not None]
    if not ends:
        return None
    if all(first == last for _v, _e, first, last in ends):
        return dirty_windows.windows_of_ends(ends)
    return dirty_windows.windows_of(source, params, unit, has_where=rows is not None)


def mark_windows_dirty(
    wh: Warehouse, info: ModelInfo, sources: list[str], params: list[object], *, labels_only: bool = False
) -> None:
    """Make the windows (_version, _experiment, ws) of the UNION of ``sources`` known and dirty.

    ``labels_only``: only their labels changed (outcomes arrived), so only metrics that read labels
    are computed again; a window not known yet is computed in full all the same.
    """
    if not sources:
        return
    dirty_windows.mark_dirty(wh, info.model, info.window, sources, params, labels_only=labels_only)


def _key(model: str) -> str:
    return f"input_columns:{model}"


def input_columns_changed(wh: Warehouse, model: str, found: Sequence[ColumnInfo]) -> bool:
    """True when ``input_only_columns`` differ from those the stored profiles were built with (none
    recorded: none)."""
    kept = job_state.read_value(wh, _key(model))
    before = sorted(json.loads(kept)) if kept is not None else []
    return before != sorted(c.col_id for c in found)


def remember_input_columns(wh: Warehouse, model: str, found: Sequence[ColumnInfo]) -> None:
    """Record the columns the model's profiles take from inputs (in the profiles' transaction)."""
    job_state.write_value(wh, _key(model), json.dumps(sorted(c.col_id for c in found)))
