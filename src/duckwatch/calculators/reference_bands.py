"""Reference bands of performance and estimated performance, fit once per reference, put on each row.

A row of a realised or estimated metric of the whole window (no segment, no column) carries in its
``details`` where the metric lands when the model performs as on its reference: ``{"reference":
{"center", "unit_se", "n"}}`` (metrics/reference_band.py). The "reference" threshold kind judges a
window from it (alerting/reference.py), from the first production window on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from duckwatch.calculators import labels as label_rules
from duckwatch.calculators.base import MetricRow
from duckwatch.metrics.estimate import Calibrator
from duckwatch.metrics.performance import compute_classification, compute_multiclass, compute_regression
from duckwatch.metrics.reference_band import Band, estimate_bands, metric_bands
from duckwatch.store import job_state, reference_rows
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = ["attach", "fit_estimate_bands", "fit_performance_bands", "kept_bands"]

# Metrics that depend on the model's yes/no decision: banded only when the reference holds the same
# decision column the windows are judged with (a score cut at 0.5 is another decision).
_DECISION = ("accuracy", "precision", "recall", "f1")
# Shares that are no measure of performance: the output and label distributions judge those.
_NOT_PERFORMANCE = ("positive_rate", "prevalence", "mean_error")
MIN_LABELLED = 100  # reference rows with a label needed for a band


def _one(columns: list[ColumnInfo], role: str) -> ColumnInfo | None:
    found = [c for c in columns if c.role == role]
    return found[0] if found else None


def _reference(wh: Warehouse, info: ModelInfo, wanted: list[ColumnInfo | None]) -> pd.DataFrame | None:
    """The latest reference rows' columns that exist there (None without a reference)."""
    if not wh.has_table(info.model_key, "reference"):
        return None
    have = set(wh.table_columns(raw_table(info.model_key, "reference")))
    ids = sorted({c.col_id for c in wanted if c is not None and c.col_id in have})
    if not ids:
        return None
    frame: pd.DataFrame = reference_rows.latest_columns(wh, info.model_key, ids).to_pandas()
    return frame


def kept_bands(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], kind: str, fit: Callable[[], dict[str, Band]]
) -> dict[str, Band]:
    """``fit()``'s bands, kept in the store under what they were fitted from (the reference's rows and
    the model's label and column settings): a one-shot `duckwatch run` reads them back instead of
    fitting again (0.2-0.4 s on a 100k-row reference). A new reference or other settings fit anew."""
    identity = list(label_rules.reference_cache_key(wh, info, columns)[1:])  # not the data dir's path
    key = f"reference_bands:{kind}:{info.model}"
    text = job_state.read_value(wh, key)
    if text is not None:
        found = json.loads(text)
        if found.get("identity") == identity:
            return {k: Band(float(c), float(se), int(n)) for k, (c, se, n) in found["bands"].items()}
    bands = fit()
    kept = {k: [b.center, b.unit_se, b.n_reference] for k, b in bands.items()}
    job_state.write_value(wh, key, json.dumps({"identity": identity, "bands": kept}))
    return bands


def fit_performance_bands(wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo]) -> dict[str, Band]:
    """Bands of the realised metrics on the labelled reference ({} without reference labels)."""
    label, score, pred = (_one(columns, r) for r in ("label", "score", "prediction"))
    df = _reference(wh, info, [label, score, pred])
    if df is None or label is None or label.col_id not in df:
        return {}
    has_score = score is not None and score.col_id in df
    has_pred = pred is not None and pred.col_id in df
    task = info.task or ("binary" if has_score else "")
    y = df[label.col_id]
    if int(y.notna().sum()) < MIN_LABELLED:
        return {}
    bands = _bands(info, task, y, df, score if has_score else None, pred, has_pred)
    return {k: v for k, v in bands.items() if k not in _NOT_PERFORMANCE}


def _bands(
    info: ModelInfo,
    task: str,
    y: pd.Series,
    df: pd.DataFrame,
    score: ColumnInfo | None,
    pred: ColumnInfo | None,
    has_pred: bool,
) -> dict[str, Band]:
    has_score = score is not None
    if task == "binary" and (has_score or has_pred):
        y01 = label_rules.binary(y, info.positive_label)
        s = df[score.col_id].to_numpy(dtype=float) if score is not None else None
        p = (
            label_rules.binary(df[pred.col_id], info.positive_label)
            if has_pred and pred is not None
            else None
        )
        bands = metric_bands(compute_classification(y01, s, p))
        if pred is not None and not has_pred:  # the windows decide with a column the reference lacks
            bands = {k: v for k, v in bands.items() if k not in _DECISION}
        return bands
    if not has_pred or pred is None:
        return {}
    if task == "regression" or (not task and pred.dtype == "numeric"):
        truth = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        return metric_bands(compute_regression(truth, df[pred.col_id].to_numpy(dtype=float)))
    if task == "multiclass":
        known = y.notna().to_numpy()
        truth = np.array([str(v) if k else None for v, k in zip(y, known, strict=True)], dtype=object)
        predicted = np.array([str(v) for v in df[pred.col_id]], dtype=object)
        return metric_bands(compute_multiclass(truth, predicted))
    return {}


def fit_estimate_bands(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], calibrator: Calibrator | None
) -> dict[str, Band]:
    """Bands of the estimated metrics over the reference's scores ({} without a calibrator)."""
    score = _one(columns, "score")
    if calibrator is None or score is None:
        return {}
    df = _reference(wh, info, [score])
    if df is None or score.col_id not in df:
        return {}
    scores = pd.to_numeric(df[score.col_id], errors="coerce").to_numpy(dtype=float)
    return estimate_bands(scores, calibrator, key=info.model)


def attach(rows: list[MetricRow], family: str, bands: dict[str, Band]) -> list[MetricRow]:
    """``rows`` with the reference band in the details of each whole-window ``family`` row it has one for."""
    if not bands:
        return rows
    out = []
    for r in rows:
        band = bands.get(r.metric)
        if band is None or r.family != family or r.segment or r.col or r.details:
            out.append(r)
            continue
        if not (math.isfinite(band.center) and math.isfinite(band.unit_se)):
            out.append(r)
            continue
        out.append(replace(r, details=json.dumps({"reference": band.as_dict()})))
    return out
