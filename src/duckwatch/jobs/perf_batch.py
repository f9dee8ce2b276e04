"""A binary model's classification metrics for every window of a tick at once (metrics.classification_batch).

The window loader's frame holds the rows of all windows with their position (``_w``); labels, scores
and decisions are converted once for all of them, and the metrics come out per window as
`MetricValue`s, exactly what `compute_classification` gives window by window (ECE's band aside).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.jobs import labels as label_rules
from duckwatch.metrics.classification_batch import classification_by_window, window_seed
from duckwatch.metrics.performance import MetricValue
from duckwatch.store.catalog import ColumnInfo, ModelInfo

__all__ = ["binary_classification"]


def binary_classification(
    info: ModelInfo,
    columns: Sequence[ColumnInfo],
    windows: Sequence[tuple[str, str, Any, Any]],
    frame: pd.DataFrame,
    horizon_passed: Sequence[bool],
) -> list[dict[str, MetricValue]] | None:
    """Per window (in the order of ``windows``), its classification metrics; None when the model is not
    known to be binary from its declaration (the job then infers the task window by window)."""
    scores = [c for c in columns if c.role == "score"]
    preds = [c for c in columns if c.role == "prediction"]
    binary = info.task == "binary" or (not info.task and len(scores) == 1)
    s_col = scores[0].col_id if scores and scores[0].col_id in frame else None
    p_col = preds[0].col_id if preds and preds[0].col_id in frame else None
    if not binary or (s_col is None and p_col is None) or "_w" not in frame:
        return None
    k = len(windows)
    group = frame["_w"].to_numpy(dtype=np.int64)
    y = label_rules.binary(frame["_label"], info.positive_label)
    if info.missing_label_is_negative:  # after the horizon a missing label is a negative
        passed = np.asarray(horizon_passed, dtype=bool)[group]
        y = np.where(np.isnan(y) & passed, 0.0, y)
    score = frame[s_col].to_numpy(dtype=np.float64) if s_col is not None else None
    pred = label_rules.binary(frame[p_col], info.positive_label) if p_col is not None else None
    seeds = [window_seed(info.model, v, e, pd.Timestamp(ws).isoformat(), "ece") for v, e, ws, _we in windows]
    metrics = classification_by_window(group, k, y, score, pred, seeds)
    out: list[dict[str, MetricValue]] = []
    for i in range(k):
        out.append(
            {
                name: MetricValue(
                    name,
                    float(m.value[i]),
                    float(m.lower[i]),
                    float(m.upper[i]),
                    int(m.n[i]),
                    "insufficient" if m.reason[i] else "ok",
                    m.reason[i],
                )
                for name, m in metrics.items()
            }
        )
    return out
