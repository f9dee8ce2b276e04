"""Named queries on ``null_thresholds``: no-drift thresholds kept between job processes (migration 0007)."""

from __future__ import annotations

from datetime import datetime

from duckwatch.store.warehouse import Warehouse

__all__ = ["delete_null_thresholds", "kept_null_thresholds", "save_null_thresholds"]


def kept_null_thresholds(wh: Warehouse, model: str) -> dict[str, float]:
    """The model's kept thresholds by key."""
    return {
        k: float(v) for k, v in wh.rows("SELECT key, value FROM null_thresholds WHERE model = ?", [model])
    }


def save_null_thresholds(wh: Warehouse, model: str, values: dict[str, float], now: datetime) -> None:
    """Keep ``values`` (by key) for the model, replacing older ones."""
    wh.execute(
        "INSERT OR REPLACE INTO null_thresholds SELECT ?, key, value, ? FROM "
        "(SELECT unnest(CAST(? AS VARCHAR[])) AS key, unnest(CAST(? AS DOUBLE[])) AS value)",
        [model, now, list(values), list(values.values())],
    )


def delete_null_thresholds(wh: Warehouse, model: str) -> None:
    """Drop every kept threshold of the model."""
    wh.execute("DELETE FROM null_thresholds WHERE model = ?", [model])
