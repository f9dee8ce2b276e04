"""Window loader: predictions with their latest outcome, for one window or for many in one query.

Performance belongs to the window of the prediction. A label is the last outcome to arrive for the
prediction's id (corrections win), or the label logged inline with the prediction when no outcome
came. Reading many windows in one query, the window's index as a column, replaces a query per
window (hundreds in an hourly backfill or a relabel tick); rows come in a canonical order (event
time, then id) so that seeded intervals do not depend on how windows were batched.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.store import window_queries
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.row_windows import is_row_window
from duckwatch.store.warehouse import Warehouse

__all__ = ["joined_frame", "joined_window", "joined_windows", "split_windows"]

# A query reads at most about this many prediction rows (windows are batched by their row counts).
MAX_BATCH_ROWS = 2_000_000


def joined_window(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], version: str, experiment: str, ws: Any, we: Any
) -> pd.DataFrame:
    """Predictions of one window with their latest outcome (corrections: the last arrival wins)."""
    table = window_queries.window_rows_with_labels(wh, info, columns, version, experiment, ws, we)
    return _outcome_values(table.to_pandas())


def _outcome_values(frame: pd.DataFrame) -> pd.DataFrame:
    """A value (KPI) an outcome carries wins over the one logged with the prediction (``_ov_`` columns)."""
    for name in [c for c in frame.columns if c.startswith("_ov_")]:
        col_id = name[len("_ov_") :]
        frame[col_id] = frame[name].combine_first(frame[col_id]) if col_id in frame else frame[name]
        del frame[name]
    return frame


def joined_windows(
    wh: Warehouse,
    info: ModelInfo,
    columns: Sequence[ColumnInfo],
    windows: Sequence[tuple[str, str, Any, Any]],
    sizes: Sequence[int],
) -> list[pd.DataFrame]:
    """`joined_window` of every window (version, experiment, start, end): `joined_frame`, split."""
    return split_windows(joined_frame(wh, info, columns, windows, sizes), len(windows))


def joined_frame(
    wh: Warehouse,
    info: ModelInfo,
    columns: Sequence[ColumnInfo],
    windows: Sequence[tuple[str, str, Any, Any]],
    sizes: Sequence[int],
) -> pd.DataFrame:
    """The rows of every window (version, experiment, start, end) in one frame, in batches of queries;
    column ``_w`` is the window's position in ``windows`` (rows sorted by it, then time and id).

    ``sizes``: each window's prediction rows, to keep a query's rows near ``MAX_BATCH_ROWS``.
    Windows of N rows are cut by arrival, not time: they are read one by one.
    """
    if is_row_window(info.window):
        parts = [joined_window(wh, info, list(columns), v, e, ws, we) for v, e, ws, we in windows]
        return _stack([p.assign(_w=i) for i, p in enumerate(parts)])
    out: list[pd.DataFrame] = []
    batch: list[int] = []
    rows = 0
    for i, size in enumerate(sizes):
        if batch and rows + size > MAX_BATCH_ROWS:
            out.append(_joined_batch(wh, info, columns, windows, batch))
            batch, rows = [], 0
        batch.append(i)
        rows += size
    if batch:
        out.append(_joined_batch(wh, info, columns, windows, batch))
    return _stack(out)


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({"_w": pd.Series([], dtype="int64"), "_label": [], "_label_first": []})
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame["_w"] = frame["_w"].astype("int64")
    return frame


def split_windows(frame: pd.DataFrame, k: int) -> list[pd.DataFrame]:
    """`joined_frame`'s rows as one frame per window (without ``_w``)."""
    cuts = np.searchsorted(frame["_w"].to_numpy(), np.arange(k + 1))
    rows = frame.drop(columns="_w")
    parts = [rows.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(cuts)]
    # A window without any label reads as the label-less query does: NaN, not None.
    return [
        p.assign(_label=np.nan) if len(p) and p["_label"].dtype == object and p["_label"].isna().all() else p
        for p in parts
    ]


def _joined_batch(
    wh: Warehouse,
    info: ModelInfo,
    columns: Sequence[ColumnInfo],
    all_windows: Sequence[tuple[str, str, Any, Any]],
    positions: Sequence[int],
) -> pd.DataFrame:
    table = window_queries.windows_rows_with_labels(wh, info, columns, all_windows, positions)
    return _outcome_values(table.to_pandas())
