"""No-drift thresholds kept in the warehouse between job processes (see migration 0007)."""

from __future__ import annotations

from datetime import datetime

from duckwatch.metrics.drift_decision import drain_new_null_thresholds, seed_null_thresholds
from duckwatch.store import null_thresholds
from duckwatch.store.warehouse import Warehouse


def load(wh: Warehouse, model: str) -> None:
    """Make the model's kept thresholds known to this process's simulations."""
    drain_new_null_thresholds()  # values of other models computed earlier in this process stay unsaved
    seed_null_thresholds(null_thresholds.kept_null_thresholds(wh, model))


def save(wh: Warehouse, model: str, now: datetime) -> int:
    """Keep the thresholds simulated since `load`; returns how many."""
    new = drain_new_null_thresholds()
    if new:
        null_thresholds.save_null_thresholds(wh, model, new, now)
    return len(new)


def forget(wh: Warehouse, model: str) -> None:
    """A new reference makes every kept threshold of the model unreachable: drop them."""
    null_thresholds.delete_null_thresholds(wh, model)
