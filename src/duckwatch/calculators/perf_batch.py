"""What every window of a tick reads from its labels, computed for all windows at once.

The window loader's frame holds the rows of all windows with their position (``_w``). Label
coverage (now and at the label horizon) is counted for all of them together; for a binary model,
labels, scores and decisions are converted once, and the classification metrics come out per window
as `MetricValue`s, exactly what `compute_classification` gives window by window (ECE's band aside,
see metrics.classification_batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.calculators import labels as label_rules
from duckwatch.calculators.label_drift import binary_label_drift_rows
from duckwatch.metrics.classification_batch import classification_by_window, window_seed
from duckwatch.metrics.performance import MetricValue
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse

__all__ = ["BinaryWindow", "WindowLabels", "binary_classification", "label_coverage", "window_labels"]


@dataclass(frozen=True)
class BinaryWindow:
    """One window of a binary model: its metrics, and its rows' 0/1 labels (NaN: none yet, or a
    missing label counted as negative after the horizon), 0/1 decisions and scores."""

    metrics: dict[str, MetricValue]
    y_true: np.ndarray
    pred: np.ndarray | None
    score: np.ndarray | None


@dataclass(frozen=True)
class WindowLabels:
    """What one window's label rows need, computed with all other windows': its label coverage now and
    at age, and for a binary model its classification (and converted rows) and label drift rows."""

    coverage: float
    coverage_at_age: float
    binary: BinaryWindow | None = None
    label_drift: list[dict[str, Any]] | None = None


def window_labels(
    wh: Warehouse,
    info: ModelInfo,
    columns: list[ColumnInfo],
    windows: Sequence[tuple[str, str, Any, Any]],
    frame: pd.DataFrame,
    horizon_passed: Sequence[bool],
) -> list[WindowLabels]:
    """Per window (in the order of ``windows``), its `WindowLabels`."""
    labelled, rows, at_age = label_coverage(info, windows, frame)
    with np.errstate(invalid="ignore", divide="ignore"):
        covered = labelled / rows
    binary = binary_classification(info, columns, windows, frame, horizon_passed)
    if binary is None:
        return [WindowLabels(float(c), float(a)) for c, a in zip(covered, at_age, strict=True)]
    drift = binary_label_drift_rows(
        wh, info, columns, labelled.astype(np.int64).tolist(), [b.y_true for b in binary], horizon_passed
    )
    return [
        WindowLabels(float(c), float(a), b, d)
        for c, a, b, d in zip(covered, at_age, binary, drift, strict=True)
    ]


def label_coverage(
    info: ModelInfo, windows: Sequence[tuple[str, str, Any, Any]], frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per window: its predictions with an outcome, its predictions, and the share whose first outcome
    came within the label horizon of the window's end (NaN for a window without rows)."""
    k = len(windows)
    group = frame["_w"].to_numpy(dtype=np.int64)
    rows = np.bincount(group, minlength=k).astype(np.float64)
    first = pd.to_datetime(frame["_label_first"], utc=True)
    ends = pd.to_datetime([w[3] for w in windows], utc=True) + timedelta(hours=info.label_horizon_hours)
    cutoff = ends.to_numpy(dtype="datetime64[us]")[group]
    within = first.notna().to_numpy() & (first.to_numpy(dtype="datetime64[us]") <= cutoff)
    with np.errstate(invalid="ignore", divide="ignore"):
        at_age = np.bincount(group, weights=within, minlength=k) / rows
    return np.bincount(group, weights=frame["_label"].notna().to_numpy(), minlength=k), rows, at_age


def binary_classification(
    info: ModelInfo,
    columns: Sequence[ColumnInfo],
    windows: Sequence[tuple[str, str, Any, Any]],
    frame: pd.DataFrame,
    horizon_passed: Sequence[bool],
) -> list[BinaryWindow] | None:
    """Per window (in the order of ``windows``), its classification metrics and rows; None when the model
    is not known to be binary from its declaration (the job then infers the task window by window)."""
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
    decided = pred if pred is not None else (score >= 0.5).astype(np.float64) if score is not None else None
    cuts = np.searchsorted(group, np.arange(k + 1))
    out: list[BinaryWindow] = []
    for i in range(k):
        part = slice(int(cuts[i]), int(cuts[i + 1]))
        values = {
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
        out.append(
            BinaryWindow(
                values,
                y[part],
                None if decided is None else decided[part],
                None if score is None else score[part],
            )
        )
    return out
