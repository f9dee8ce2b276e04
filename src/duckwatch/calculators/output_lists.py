"""Output monitoring for list predictions (rankings, recommendations): length, empty share, item mix."""

from __future__ import annotations

import json
from typing import Any

from duckwatch.loading.windows_rows import window_where
from duckwatch.store import window_metric_queries as q
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse

TOP_ITEMS = 10


def list_output_rows(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], version: str, experiment: str, ws: Any, we: Any
) -> list[dict[str, Any]]:
    """Mean list length, share of empty or missing lists, and the share of the top items per window."""
    rows: list[dict[str, Any]] = []
    for col in columns:
        if col.role != "prediction" or col.dtype != "list":
            continue
        where, params = window_where(wh, info, version, experiment, ws, we)
        n, mean_len, empty = q.list_lengths(wh, info.model_key, col.col_id, where, params)
        if not n:
            continue
        top = q.list_top_items(wh, info.model_key, col.col_id, where, params, TOP_ITEMS)
        total = q.list_total_items(wh, info.model_key, col.col_id, where, params)
        shares = {str(item): k / total for item, k in top} if total else {}
        base = {"family": "output", "col": col.name, "n": int(n), "method": "per window"}
        rows.append({**base, "metric": "mean_list_length", "value": float(mean_len or 0.0)})
        rows.append({**base, "metric": "empty_share", "value": float(empty or 0.0)})
        rows.append(
            {**base, "metric": "top_item_share", "value": max(shares.values()) if shares else 0.0,
             "details": json.dumps({"top_items": shares})}
        )  # fmt: skip
    return rows
