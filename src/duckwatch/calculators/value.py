"""Value at stake: what a drop in value per prediction, against the labelled reference, costs a window."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.calculators.labels import binary, reference_cache_key, remember
from duckwatch.metrics.performance import business_value, confusion_counts
from duckwatch.store import reference_rows
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

_BASELINE: dict[tuple[str, ...], float] = {}


def reference_value_per_prediction(wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo]) -> float:
    """Business value per labelled prediction on the reference data (NaN when it cannot be computed)."""
    if not info.value_matrix or not wh.has_table(info.model_key, "reference"):
        return math.nan
    table = raw_table(info.model_key, "reference")
    have = wh.table_columns(table)
    key = reference_cache_key(wh, info, columns)
    if key not in _BASELINE:
        label = next((c for c in columns if c.role == "label" and c.col_id in have), None)
        score = next((c for c in columns if c.role == "score" and c.col_id in have), None)
        pred = next((c for c in columns if c.role == "prediction" and c.col_id in have), None)
        value = math.nan
        if label is not None and (score is not None or pred is not None):
            wanted = sorted({c.col_id for c in (label, score, pred) if c is not None})
            df = reference_rows.reference_columns(wh, info.model_key, wanted).to_pandas()
            y = binary(df[label.col_id], info.positive_label)
            keep = ~np.isnan(y)
            truth = np.nan_to_num(y, nan=0.0)
            if pred is not None:
                decided = np.nan_to_num(binary(df[pred.col_id], info.positive_label), nan=0.0)
            else:
                assert score is not None
                decided = (
                    pd.to_numeric(df[score.col_id], errors="coerce").to_numpy(dtype=float) >= 0.5
                ).astype(float)
            if keep.any():
                counts = confusion_counts(truth[keep], decided[keep])
                value = business_value(counts, info.value_matrix) / counts.n
        remember(_BASELINE, key, value)
    return _BASELINE[key]


def value_at_stake_row(
    wh: Warehouse,
    info: ModelInfo,
    columns: list[ColumnInfo],
    current_vpp: float,
    volume: int,
    provisional: bool,
) -> list[dict[str, Any]]:
    """A kpi row: max(0, reference value per prediction − this window's) × predictions in the window."""
    baseline = reference_value_per_prediction(wh, info, columns)
    if not (math.isfinite(baseline) and math.isfinite(current_vpp)):
        return []
    at_stake = max(0.0, baseline - current_vpp) * volume
    return [
        {"family": "kpi", "metric": "value_at_stake", "value": float(np.round(at_stake, 6)), "n": volume,
         "provisional": provisional, "method": f"(reference {baseline:.4g} − window {current_vpp:.4g}) per prediction × {volume}"}
    ]  # fmt: skip
