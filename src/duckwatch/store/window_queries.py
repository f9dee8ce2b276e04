"""Named queries of the window loader: predictions with their latest outcome, per window or batched.

See loading/window_loader.py for what a label is (the last outcome to arrive for the prediction's id, or
the label logged inline) and how windows are batched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.row_windows import window_where
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

__all__ = ["window_rows_with_labels", "windows_rows_with_labels"]

# Columns a performance computation reads from the prediction rows.
_READ_ROLES = ("score", "prediction", "sensitive", "segment", "cost", "value", "latency", "status")


def _role(columns: Sequence[ColumnInfo], role: str) -> list[ColumnInfo]:
    return [c for c in columns if c.role == role]


def window_rows_with_labels(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], version: str, experiment: str, ws: Any, we: Any
) -> pa.Table:
    """Predictions of one window with their latest outcome (corrections: the last arrival wins);
    ``_ov_`` columns: values an outcome carries."""
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
    return wh.arrow(sql, params)


def _carries(wh: Warehouse, pred: str, col_id: str, where: str, params: list[Any]) -> bool:
    """True when some prediction row of the window holds a value in ``col_id`` (a label logged inline);
    every raw table has a slot for every column, empty where batches lacked it."""
    return bool(wh.rows(f"SELECT count({col_id}) > 0 FROM {pred} p WHERE {where}", params)[0][0])


def _table_cols(wh: Warehouse, table: str) -> set[str]:
    return set(wh.table_columns(table))


def windows_rows_with_labels(
    wh: Warehouse,
    info: ModelInfo,
    columns: Sequence[ColumnInfo],
    all_windows: Sequence[tuple[str, str, Any, Any]],
    positions: Sequence[int],
) -> pa.Table:
    """Rows of the windows ``all_windows[i]`` for ``i`` in ``positions`` with their latest outcome; column
    ``_w``: the window's position (rows sorted by it, then time and id)."""
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
    return wh.arrow(sql, params)
