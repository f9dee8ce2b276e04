"""Metric-result frames for the alerting tests (the columns of published metric_results)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from duckwatch.store import catalog
from duckwatch.store.settings import Settings

COLUMNS = [
    "model", "version", "experiment", "segment", "window_start", "window_end", "family", "metric", "col",
    "value", "lower", "upper", "exact", "method", "threshold", "status", "n", "provisional", "details",
]  # fmt: skip
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(i: int) -> datetime:
    return T0 + timedelta(days=i)


def row(i: int, family: str, metric: str, value: float, col: str = "*", **extra: Any) -> dict[str, Any]:
    """One metric row for daily window ``i``."""
    base: dict[str, Any] = {
        "model": "churn", "version": "v1", "experiment": "champion", "segment": "*",
        "window_start": pd.Timestamp(day(i)), "window_end": pd.Timestamp(day(i + 1)), "family": family,
        "metric": metric, "col": col, "value": value, "lower": None, "upper": None, "exact": True,
        "method": "test", "threshold": None, "status": "ok", "n": 1000, "provisional": False, "details": "{}",
    }  # fmt: skip
    base.update(extra)
    return base


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A metric_results-shaped frame."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["threshold"] = df["threshold"].astype("float64")
    return df


def model(settings: Settings) -> catalog.ModelInfo:
    """A registered model with a display name and an owner."""
    catalog.ensure_model(settings, "churn", display_name="Churn predictor", owner="ana@example.com")
    info = catalog.get_model(settings, "churn")
    assert info is not None
    return info
