"""Forget everything the job derived for one model, so its next compute stage starts from stored rows.

Used when a model's monitoring settings change (window, time zone, a column's role or type): raw rows,
quarantine and ingestion state stay; windows, profiles, reference profiles and results go.
"""

from __future__ import annotations

from duckwatch.store import job_state
from duckwatch.store.warehouse import Warehouse

__all__ = ["forget_derived"]

# Every warehouse table holding per-window or per-reference results of a model.
DERIVED_TABLES = (
    "window_state",
    "profiles",
    "metric_results",
    "row_windows",
    "window_memo",
    "reference_profiles",
)


def forget_derived(wh: Warehouse, model: str) -> None:
    """Drop the model's windows, profiles and results; from tick 0 every stored row is profiled again.

    Without reference profiles the compute stage rebuilds the reference (store/time_repair.py takes the
    same path), and with ``profiled_seq`` at 0 every stored row is assigned to a window again.
    """
    for table in DERIVED_TABLES:
        wh.execute(f"DELETE FROM {table} WHERE model = ?", [model])
    job_state.write_value(wh, f"profiled_seq:{model}", "0")
    job_state.mark_publish_pending(wh, model)
