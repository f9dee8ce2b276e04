"""Named queries of per-window metrics over raw prediction rows: list outputs and custom metrics.

``where`` and ``params`` select one window's rows (``row_windows.window_where``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.sql_text import quote_ident
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = [
    "custom_window_rows",
    "list_lengths",
    "list_top_items",
    "list_total_items",
    "sql_metric_value",
    "window_frame",
]


def list_lengths(
    wh: Warehouse, model_key: int, col_id: str, where: str, params: list[Any]
) -> tuple[Any, ...]:
    """(rows, mean list length, share of empty or missing lists) of the list column in the window."""
    pred = raw_table(model_key, "predictions")
    return wh.rows(
        f"SELECT count(*), avg(len({col_id})), avg(CASE WHEN {col_id} IS NULL OR len({col_id}) = 0 "
        f"THEN 1.0 ELSE 0.0 END) FROM {pred} WHERE {where}",
        params,
    )[0]


def list_top_items(
    wh: Warehouse, model_key: int, col_id: str, where: str, params: list[Any], top: int
) -> list[tuple[Any, ...]]:
    """The ``top`` most frequent items of the list column in the window: (item, count)."""
    pred = raw_table(model_key, "predictions")
    return wh.rows(
        f"SELECT item, count(*) AS k FROM (SELECT unnest({col_id}) AS item FROM {pred} WHERE {where}) "
        f"GROUP BY item ORDER BY k DESC, item LIMIT {int(top)}",
        params,
    )


def list_total_items(wh: Warehouse, model_key: int, col_id: str, where: str, params: list[Any]) -> Any:
    """Items in all lists of the column in the window."""
    pred = raw_table(model_key, "predictions")
    return wh.rows(f"SELECT coalesce(sum(len({col_id})), 0) FROM {pred} WHERE {where}", params)[0][0]


def custom_window_rows(wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], where: str) -> str:
    """The window's rows with user column names (predictions + the latest outcome's label), as SQL."""
    pred = raw_table(info.model_key, "predictions")
    have = wh.table_columns(pred)
    cols = [c for c in columns if c.col_id in have and c.role not in ("id", "timestamp", "ignore", "label")]
    sel = "".join(f", p.{c.col_id} AS {quote_ident(c.name)}" for c in cols)
    label = next((c for c in columns if c.role == "label"), None)
    out = raw_table(info.model_key, "outcomes")
    if (
        label is not None
        and wh.has_table(info.model_key, "outcomes")
        and label.col_id in wh.table_columns(out)
    ):
        return (
            f"SELECT p._id AS _id, p._ts AS _ts{sel}, o._label FROM {pred} p LEFT JOIN "
            f"(SELECT _id, arg_max({label.col_id}, _received_at) AS _label FROM {out} GROUP BY _id) o "
            f"ON p._id = o._id WHERE {where}"
        )
    return f"SELECT p._id AS _id, p._ts AS _ts{sel}, NULL AS _label FROM {pred} p WHERE {where}"


def window_frame(wh: Warehouse, window_sql: str, params: list[Any]) -> pa.Table:
    """The rows of ``custom_window_rows``."""
    return wh.arrow(window_sql, params)


def sql_metric_value(wh: Warehouse, expr: str, window_sql: str, params: list[Any]) -> tuple[Any, ...]:
    """(value, rows) of a user's SQL aggregate ``expr`` over ``custom_window_rows``."""
    return wh.rows(f"SELECT ({expr}) AS v, count(*) FROM ({window_sql})", params)[0]
