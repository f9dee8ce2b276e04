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

from duckwatch.jobs.windows_rows import is_row_window, window_where
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

__all__ = ["joined_frame", "joined_window", "joined_windows", "split_windows"]

# Columns a performance computation reads from the prediction rows.
_READ_ROLES = ("score", "prediction", "sensitive", "segment", "cost", "value", "latency", "status")
# A query reads at most about this many prediction rows (windows are batched by their row counts).
MAX_BATCH_ROWS = 2_000_000


def _role(columns: Sequence[ColumnInfo], role: str) -> list[ColumnInfo]:
    return [c for c in columns if c.role == role]


def joined_window(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], version: str, experiment: str, ws: Any, we: Any
) -> pd.DataFrame:
    """Predictions of one window with their latest outcome (corrections: the last arrival wins)."""
    pred = raw_table(info.model_key, "predictions")
    have_p = _table_cols(wh, pred)
    wanted = [c for c in columns if c.col_id in have_p and c.role in _READ_ROLES]
    sel = "".join(f", p.{c.col_id}" for c in wanted)
    where, params = window_where(wh, info, version, experiment, ws, we)  # time range or row-count cut
    labels = [c for c in _role(columns, "label")]
    out = raw_table(info.model_key, "outcomes")
    lab = labels[0] if labels else None
    # Labels logged with the predictions (backfills, offline scoring) count as arrived with them; an
    # outcome for the same id corrects them (the last arrival wins, as among outcomes).
    inline = lab is not None and lab.col_id in have_p and _carries(wh, pred, lab.col_id, where, params)
    if lab is not None and wh.has_table(info.model_key, "outcomes") and lab.col_id in _table_cols(wh, out):
        # Every raw table carries every known column, so a value column may exist (empty) on the
        # prediction side too: take the outcome's value when it has one.
        values = [c for c in _role(columns, "value") if c.col_id in _table_cols(wh, out)]
        vsel = "".join(f", arg_max(o.{c.col_id}, o._received_at) AS _ov_{c.col_id}" for c in values)
        p_extra, label, first = "", "o._label", "o._label_first"
        if inline:
            p_extra = f", p.{lab.col_id} AS _p_label, p._ts AS _p_first"
            label = "coalesce(o._label, p._p_label)"
            first = (
                "CASE WHEN p._p_label IS NULL THEN o._label_first WHEN o._label_first IS NULL THEN p._p_first "
                "ELSE least(p._p_first, o._label_first) END"
            )
        sql = f"""
        WITH p AS (SELECT _id, _ts{p_extra}{sel} FROM {pred} p WHERE {where}),
        o AS (SELECT o._id, arg_max(o.{lab.col_id}, o._received_at) AS _label, max(o._received_at) AS _label_at, min(o._ts) AS _label_first{vsel}
              FROM {out} o SEMI JOIN p ON o._id = p._id GROUP BY o._id)
        SELECT {label} AS _label, {first} AS _label_first,
               p.* EXCLUDE (_id, _ts{", _p_label, _p_first" if inline else ""}), o.* EXCLUDE (_id, _label, _label_at, _label_first)
        FROM p LEFT JOIN o ON p._id = o._id"""
    elif inline and lab is not None:
        sql = (
            f"SELECT p.{lab.col_id} AS _label, CASE WHEN p.{lab.col_id} IS NOT NULL THEN p._ts END AS _label_first{sel} "
            f"FROM {pred} p WHERE {where}"
        )
    else:
        # Row ids and times are not used downstream: leaving them out saves a string per row.
        # Typed NULLs arrive as NaN / NaT columns, not as millions of Python None objects.
        sql = (
            f"SELECT CAST(NULL AS DOUBLE) AS _label, CAST(NULL AS TIMESTAMPTZ) AS _label_first{sel} "
            f"FROM {pred} p WHERE {where}"
        )
    return _outcome_values(wh.arrow(sql, params).to_pandas())


def _outcome_values(frame: pd.DataFrame) -> pd.DataFrame:
    """A value (KPI) an outcome carries wins over the one logged with the prediction (``_ov_`` columns)."""
    for name in [c for c in frame.columns if c.startswith("_ov_")]:
        col_id = name[len("_ov_") :]
        frame[col_id] = frame[name].combine_first(frame[col_id]) if col_id in frame else frame[name]
        del frame[name]
    return frame


def _carries(wh: Warehouse, pred: str, col_id: str, where: str, params: list[Any]) -> bool:
    """True when some prediction row of the window holds a value in ``col_id`` (a label logged inline);
    every raw table has a slot for every column, empty where batches lacked it."""
    return bool(wh.rows(f"SELECT count({col_id}) > 0 FROM {pred} p WHERE {where}", params)[0][0])


def _table_cols(wh: Warehouse, table: str) -> set[str]:
    return set(wh.table_columns(table))


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
    pred = raw_table(info.model_key, "predictions")
    have_p = set(wh.table_columns(pred))
    sel = "".join(f", p.{c.col_id}" for c in columns if c.col_id in have_p and c.role in _READ_ROLES)
    labels = _role(columns, "label")
    lab = labels[0] if labels else None
    out = raw_table(info.model_key, "outcomes")
    inline = lab is not None and lab.col_id in have_p
    w = (
        "SELECT unnest(CAST(? AS BIGINT[])) AS _w, unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws, unnest(CAST(? AS TIMESTAMPTZ[])) AS we"
    )
    windows = [all_windows[i] for i in positions]
    params: list[Any] = [list(positions), *([x[j] for x in windows] for j in range(4))]
    # A row's window is its truncated time: an equality (hash) join, where a range join of 600k rows
    # against 720 hourly windows cost 1.5 s; the tick's span prunes the scan first.
    in_window = (
        f"p._version = w.v AND p._experiment = w.e AND {window_expr(info.window, 'p._ts')} = w.ws "
        "WHERE p._ts >= CAST(? AS TIMESTAMPTZ) AND p._ts < CAST(? AS TIMESTAMPTZ)"
    )
    params += [min(x[2] for x in windows), max(x[3] for x in windows)]
    outcomes = (
        lab is not None and wh.has_table(info.model_key, "outcomes") and lab.col_id in wh.table_columns(out)
    )
    if outcomes and lab is not None:
        values = [c for c in _role(columns, "value") if c.col_id in wh.table_columns(out)]
        vsel = "".join(f", arg_max(o.{c.col_id}, o._received_at) AS _ov_{c.col_id}" for c in values)
        p_extra = f", p.{lab.col_id} AS _p_label" if inline else ""
        # Without a label in the window's prediction rows, coalesce and the CASE give the outcome's:
        # the same as the per-window query that leaves inline labels out.
        label = "coalesce(o._label, p._p_label)" if inline else "o._label"
        first = (
            "CASE WHEN p._p_label IS NULL THEN o._label_first WHEN o._label_first IS NULL THEN p._ts "
            "ELSE least(p._ts, o._label_first) END"
            if inline
            else "o._label_first"
        )
        sql = f"""
        WITH w AS ({w}),
        p AS (SELECT w._w, p._id, p._ts{p_extra}{sel} FROM {pred} p JOIN w ON {in_window}),
        o AS (SELECT o._id, arg_max(o.{lab.col_id}, o._received_at) AS _label, min(o._ts) AS _label_first{vsel}
              FROM {out} o SEMI JOIN p ON o._id = p._id GROUP BY o._id)
        SELECT p._w, {label} AS _label, {first} AS _label_first,
               p.* EXCLUDE (_w, _id, _ts{", _p_label" if inline else ""}), o.* EXCLUDE (_id, _label, _label_first)
        FROM p LEFT JOIN o ON p._id = o._id ORDER BY p._w, p._ts, p._id"""
    elif inline and lab is not None:
        sql = (
            f"WITH w AS ({w}) SELECT w._w, p.{lab.col_id} AS _label, "
            f"CASE WHEN p.{lab.col_id} IS NOT NULL THEN p._ts END AS _label_first{sel} "
            f"FROM {pred} p JOIN w ON {in_window} ORDER BY w._w, p._ts, p._id"
        )
    else:
        sql = (
            f"WITH w AS ({w}) SELECT w._w, CAST(NULL AS DOUBLE) AS _label, "
            f"CAST(NULL AS TIMESTAMPTZ) AS _label_first{sel} "
            f"FROM {pred} p JOIN w ON {in_window} ORDER BY w._w, p._ts, p._id"
        )
    return _outcome_values(wh.arrow(sql, params).to_pandas())
