"""Custom metrics, computed per window exactly where the built-ins are.

Two ways to add one:

* a Python function registered through the same registry the built-ins use, with ``kinds=("window",)``.
  It receives the window's rows as a pandas DataFrame with the user's column names (predictions joined
  with their latest outcome: the label is in ``_label``) and returns a number, or None when the model
  lacks what it needs. Modules listed in ``$DUCKWATCH_PLUGINS`` (comma-separated) are imported by the job:

      from duckwatch.metrics.registry import metric

      @metric(name="favourite_first", display_name="Favourite category ranked first",
              meaning="Share of sessions whose first recommended item is in the user's favourite category.",
              family="heuristic", shape="scalar_series", normal_range=(0.3, 1.0),
              higher_is_worse=False, kinds=("window",))
      def favourite_first(rows):
          if "recommended_items" not in rows or "favourite_category" not in rows:
              return None
          first = rows["recommended_items"].map(lambda items: items[0] if len(items) else None)
          return float((first.str.split("-").str[0] == rows["favourite_category"]).mean())

* a SQL aggregate per model, in the model's settings (``meta.sql_metrics``, e.g. from its monitors YAML):
  ``{"refund_share": "avg(CASE WHEN status = 'refunded' THEN 1 ELSE 0 END)"}``; column names are the
  user's, double-quoted where needed. It is evaluated by DuckDB over the same window rows.
"""

from __future__ import annotations

import importlib
import math
import os
import re
from typing import Any

from duckwatch.loading.windows_rows import window_where
from duckwatch.metrics.registry import all_metrics
from duckwatch.store import window_metric_queries as q
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_loaded: set[str] = set()


def load_plugins() -> None:
    """Import the modules named in $DUCKWATCH_PLUGINS once per process (they register metrics)."""
    for module in filter(None, (m.strip() for m in os.environ.get("DUCKWATCH_PLUGINS", "").split(","))):
        if module not in _loaded:
            importlib.import_module(module)
            _loaded.add(module)


def custom_rows(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], version: str, experiment: str, ws: Any, we: Any
) -> list[dict[str, Any]]:
    """One row per custom metric that applies to this model: its value, or why it has none."""
    load_plugins()
    specs = [s for s in all_metrics() if "window" in s.kinds and s.fn is not None]
    sql_metrics = info.meta.get("sql_metrics") or {}
    if not specs and not sql_metrics:
        return []
    where, params = window_where(wh, info, version, experiment, ws, we, "p.")
    window = q.custom_window_rows(wh, info, columns, where)
    rows: list[dict[str, Any]] = []
    if specs:
        frame = q.window_frame(wh, window, params).to_pandas()
        for spec in specs:
            try:
                value = spec.fn(frame) if len(frame) else None  # type: ignore[misc]
            except Exception as exc:  # a user's metric must not break the tick: record why
                rows.append(
                    _row(spec.name, spec.family, math.nan, len(frame), f"error: {exc}", "insufficient")
                )
                continue
            if value is not None:
                rows.append(_row(spec.name, spec.family, float(value), len(frame), "python metric"))
    for name, expr in dict(sql_metrics).items():
        if not _NAME.match(str(name)):
            rows.append(_row(str(name)[:64], "heuristic", math.nan, 0, "invalid metric name", "insufficient"))
            continue
        try:
            value, n = q.sql_metric_value(wh, expr, window, params)
        except Exception as exc:
            rows.append(_row(str(name), "heuristic", math.nan, 0, f"error: {exc}", "insufficient"))
            continue
        rows.append(
            _row(str(name), "heuristic", math.nan if value is None else float(value), int(n), "sql metric")
        )
    return rows


def _row(name: str, family: str, value: float, n: int, method: str, status: str = "ok") -> dict[str, Any]:
    return {"family": family, "metric": name, "value": value, "n": n, "method": method, "status": status}
