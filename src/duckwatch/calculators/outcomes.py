"""Performance in the window of the prediction, from predictions joined with their latest outcome."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.calculators import labels as label_rules
from duckwatch.calculators.label_drift import label_drift_rows
from duckwatch.calculators.perf_batch import WindowLabels
from duckwatch.calculators.segments import segment_drift_rows, segment_rows
from duckwatch.calculators.value import value_at_stake_row
from duckwatch.loading.window_loader import joined_window
from duckwatch.metrics import fairness
from duckwatch.metrics.estimate import Calibrator, estimate_binary
from duckwatch.metrics.performance import (
    MetricValue,
    business_value,
    compute_classification,
    compute_multiclass,
    compute_regression,
    confusion_counts,
    row_value_sum,
    t_interval,
)
from duckwatch.store import job_state, reference_rows
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table


def _role(columns: list[ColumnInfo], role: str) -> list[ColumnInfo]:
    return [c for c in columns if c.role == role]


def performance_rows(
    wh: Warehouse,
    info: ModelInfo,
    columns: list[ColumnInfo],
    version: str,
    experiment: str,
    ws: Any,
    we: Any,
    now: datetime,
    joined: pd.DataFrame | None = None,
    batch: WindowLabels | None = None,
) -> list[dict[str, Any]]:
    """Label coverage, realised performance, business value and fairness for a window: what reads labels.

    ``joined``: the window's predictions with their latest labels, when a window loader read them
    already (loading/window_loader.py); else they are read here. ``batch``: what was computed for this
    window together with the tick's other windows (calculators/perf_batch.py).
    """
    df = joined_window(wh, info, columns, version, experiment, ws, we) if joined is None else joined
    if df.empty:
        return []
    scores = _role(columns, "score")
    preds = _role(columns, "prediction")
    horizon_passed = pd.Timestamp(we) + timedelta(hours=info.label_horizon_hours) <= pd.Timestamp(now)
    covered = float(df["_label"].notna().mean()) if batch is None else batch.coverage
    rows: list[dict[str, Any]] = [
        {"family": "performance", "metric": "label_coverage", "value": covered, "n": len(df),
         "provisional": not horizon_passed, "method": f"share of predictions with an outcome (horizon {info.label_horizon_hours:g} h)"}
    ]  # fmt: skip
    rows += _coverage_at_age(info, df, we, now, None if batch is None else batch.coverage_at_age)
    task = info.task or _infer_task(df, scores, preds)
    y = df["_label"]
    if task == "binary":
        if batch is None or batch.binary is None:
            y_true = _binary_labels(y, info.positive_label)
            if info.missing_label_is_negative and horizon_passed:
                y_true = np.where(np.isnan(y_true), 0.0, y_true)
            s = df[scores[0].col_id].to_numpy(dtype=float) if scores and scores[0].col_id in df else None
            p = (
                _binary_labels(df[preds[0].col_id], info.positive_label)
                if preds and preds[0].col_id in df
                else None
            )
            metrics = compute_classification(y_true, s, p)
            pred01 = p if p is not None else (s >= 0.5).astype(float) if s is not None else None
        else:
            y_true, metrics, pred01 = batch.binary.y_true, batch.binary.metrics, batch.binary.pred
        # labels vs the reference's
        if batch is None or batch.label_drift is None:
            rows += label_drift_rows(wh, info, columns, df, task, horizon_passed)
        else:
            rows += batch.label_drift
        rows += _metric_rows("performance", metrics, not horizon_passed)
        if pred01 is not None:
            value_rows = _value_rows(info, y_true, pred01, not horizon_passed)
            rows += value_rows
            vpp = [r["value"] for r in value_rows if r["metric"] == "value_per_prediction"]
            if vpp:
                rows += value_at_stake_row(wh, info, columns, float(vpp[0]), len(df), not horizon_passed)
            rows += _fairness_rows(df, columns, y_true, pred01)
        rows += segment_rows(wh, info, columns, df, not horizon_passed)
        rows += segment_drift_rows(wh, info, columns, df)
    else:
        rows += label_drift_rows(wh, info, columns, df, task, horizon_passed)
    if task == "regression" and preds and preds[0].col_id in df:
        rows += _metric_rows(
            "performance",
            compute_regression(
                pd.to_numeric(y, errors="coerce").to_numpy(dtype=float),
                df[preds[0].col_id].to_numpy(dtype=float),
            ),
            not horizon_passed,
        )
    elif task == "multiclass" and preds and preds[0].col_id in df:
        truth = np.array(
            [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in y],
            dtype=object,
        )
        predicted = np.array([str(v) for v in df[preds[0].col_id]], dtype=object)
        rows += _metric_rows("performance", compute_multiclass(truth, predicted), not horizon_passed)
    for col in _role(columns, "value"):
        if col.col_id in df:
            vals = pd.to_numeric(df[col.col_id], errors="coerce").to_numpy(dtype=float)
            total = row_value_sum(vals, f"total_{col.name}")
            rows.append({"family": "kpi", "metric": f"total_{col.name}", "col": col.name,
                         "value": float(np.nansum(vals)), "lower": total.lower, "upper": total.upper,
                         "n": total.n, "method": "sum per window (t-interval)", "provisional": not horizon_passed})  # fmt: skip
    return rows


def label_free_rows(
    info: ModelInfo, columns: list[ColumnInfo], df: pd.DataFrame, cal: Calibrator | None
) -> list[dict[str, Any]]:
    """What a window's predictions say without labels: estimated performance (a binary model's
    scores through ``cal``, the reference's calibrator: `fit_calibrator`), latency and error share,
    cost. Kept with the window's other label-free rows."""
    if df.empty:
        return []
    scores = _role(columns, "score")
    rows: list[dict[str, Any]] = []
    task = info.task or _infer_task(df, scores, _role(columns, "prediction"))
    if task == "binary" and scores and scores[0].col_id in df and cal is not None:
        est = estimate_binary(df[scores[0].col_id].to_numpy(dtype=float), cal)
        rows += _metric_rows("estimate", {f"estimated_{k}": v for k, v in est.metrics.items()}, False)
    rows += _golden_signals(df, columns)
    for col in _role(columns, "cost"):  # what serving a prediction costs (compute, a paid API call, ...)
        if col.col_id in df:
            costs = pd.to_numeric(df[col.col_id], errors="coerce").to_numpy(dtype=float)
            known = costs[~np.isnan(costs)]
            if known.size > 1:
                mean, lo, hi = t_interval(known)
                rows.append({"family": "kpi", "metric": "cost_per_prediction", "col": col.name, "value": mean,
                             "lower": lo, "upper": hi, "n": int(known.size), "method": "mean per window (t-interval)"})  # fmt: skip
                rows.append({"family": "kpi", "metric": "total_cost", "col": col.name,
                             "value": float(known.sum()), "n": int(known.size), "method": "sum per window"})  # fmt: skip
    return rows


_OK_STATUS = ("", "ok", "success", "succeeded", "200", "0", "true")


def _golden_signals(df: pd.DataFrame, columns: list[ColumnInfo]) -> list[dict[str, Any]]:
    """Operators' signals per window: latency percentiles and the share of failed predictions."""
    rows: list[dict[str, Any]] = []
    for col in _role(columns, "latency"):
        if col.col_id in df:
            lat = pd.to_numeric(df[col.col_id], errors="coerce").dropna().to_numpy(dtype=float)
            if lat.size:
                for q, name in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
                    rows.append({"family": "volume", "metric": name, "col": col.name,
                                 "value": float(np.quantile(lat, q)), "n": int(lat.size), "method": "quantile"})  # fmt: skip
    for col in _role(columns, "status"):
        if col.col_id in df:
            text = df[col.col_id].astype("string").str.strip().str.lower()
            known = text.notna()
            failed = known & ~text.isin(_OK_STATUS)
            if known.any():
                rows.append({"family": "volume", "metric": "error_share", "col": col.name,
                             "value": float(failed.sum() / known.sum()), "n": int(known.sum()),
                             "method": "share of statuses other than ok/success/200"})  # fmt: skip
    return rows


def _coverage_at_age(
    info: ModelInfo, df: pd.DataFrame, we: Any, now: datetime, value: float | None
) -> list[dict[str, Any]]:
    """Share of predictions whose first outcome arrived within the label horizon of the window's end
    (``value``, when counted for many windows at once).

    Comparing windows at equal age is what makes "labels stopped arriving" detectable: raw coverage of
    recent windows is always low because their labels are still on the way.
    """
    if info.missing_label_is_negative:
        return []  # one-sided labels (only defaults arrive): coverage is the event rate, not a pipeline signal
    age = timedelta(hours=info.label_horizon_hours)
    cutoff = pd.Timestamp(we) + age
    if value is None:
        first = df["_label_first"]
        value = (
            float((pd.to_datetime(first, utc=True) <= cutoff).mean())
            if first.notna().any()
            else 0.0
            if len(df)
            else math.nan  # nothing labelled yet: no need to parse times
        )
    return [
        {"family": "volume", "metric": "label_coverage_at_age", "value": value, "n": len(df),
         "provisional": cutoff > pd.Timestamp(now),
         "method": f"share labelled within {age.total_seconds() / 3600:g} h of the window's end (the label horizon)"}
    ]  # fmt: skip


def _infer_task(df: pd.DataFrame, scores: list[ColumnInfo], preds: list[ColumnInfo]) -> str:
    if len(scores) == 1:
        return "binary"
    if len(scores) > 1:
        return "multiclass"
    if preds and preds[0].dtype == "numeric" and preds[0].col_id in df:
        uniq = pd.unique(df[preds[0].col_id].dropna())
        return (
            "binary" if len(uniq) <= 2 and set(np.asarray(uniq, dtype=float)) <= {0.0, 1.0} else "regression"
        )
    if preds and preds[0].dtype == "categorical":
        return "multiclass"
    return ""


def _binary_labels(values: pd.Series, positive: str) -> np.ndarray:
    """0/1 with NaN for missing; the model's positive label (default '1') counts as 1."""
    return label_rules.binary(values, positive)


def _metric_rows(family: str, metrics: dict[str, MetricValue], provisional: bool) -> list[dict[str, Any]]:
    return [
        {"family": family, "metric": name, "value": mv.value, "lower": mv.lower, "upper": mv.upper, "n": mv.n,
         "status": "insufficient" if mv.status != "ok" else "ok", "exact": False, "provisional": provisional,
         "method": mv.reason or mv.note or ""}
        for name, mv in metrics.items()
        if name not in ("tp", "fp", "tn", "fn")
    ]  # fmt: skip


def _value_rows(
    info: ModelInfo, y_true: np.ndarray, pred01: np.ndarray, provisional: bool
) -> list[dict[str, Any]]:
    if not info.value_matrix:
        return []
    keep = ~np.isnan(y_true)
    if not keep.any():
        return []
    y, p = y_true[keep] > 0.5, pred01[keep] > 0.5
    counts = confusion_counts(y, p)
    value = business_value(counts, info.value_matrix)
    vm = {k: float(info.value_matrix.get(k, 0.0)) for k in ("tp", "fp", "tn", "fn")}
    per_row = np.where(y, np.where(p, vm["tp"], vm["fn"]), np.where(p, vm["fp"], vm["tn"]))
    # A t-interval on the mean value per prediction: a few costly misses swing it a lot on small
    # windows, and the alerting only pages when the baseline falls outside this interval.
    _mean, lo, hi = t_interval(per_row) if per_row.size > 1 else (math.nan, math.nan, math.nan)
    return [
        {"family": "kpi", "metric": "business_value", "value": value, "n": counts.n, "provisional": provisional,
         "lower": lo * counts.n, "upper": hi * counts.n, "method": "value matrix x confusion counts"},
        {"family": "kpi", "metric": "value_per_prediction", "value": value / counts.n if counts.n else math.nan,
         "lower": lo, "upper": hi, "n": counts.n, "provisional": provisional,
         "method": "business value / labelled predictions"},
    ]  # fmt: skip


def _fairness_rows(
    df: pd.DataFrame, columns: list[ColumnInfo], y_true: np.ndarray, pred01: np.ndarray
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for col in _role(columns, "sensitive"):
        if col.col_id not in df:
            continue
        groups = df[col.col_id].astype(str).to_numpy()
        has = ~np.isnan(y_true)
        results = fairness.evaluate_fairness(groups[has], pred01[has], y_true[has]) if has.sum() else []
        if not results:
            results = fairness.evaluate_fairness(groups, pred01)
        for r in results:
            status = "insufficient" if r.passed is None else ("ok" if r.passed else "warning")
            rows.append({"family": "fairness", "metric": f"{r.rule}_{r.rate}", "col": col.name, "value": r.value,
                         "threshold": r.limit, "status": status, "n": len(groups), "method": r.reason or r.rule,
                         "details": pd.Series({str(k): v for k, v in r.per_group.items()}).to_json()})  # fmt: skip
    return rows


def fit_calibrator(wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo]) -> Calibrator | None:
    """The estimation calibrator, fit on labelled reference data (held-out data: never the training
    scores); None without labelled reference scores.

    The fitted knots are kept in the warehouse (job_state), so a new process reads them instead of
    refitting (0.1 s on 200k reference rows); they are refitted when the reference, the score or
    label column, or the positive label changes. Within a running job, the calculator's fitted state
    (calculators.base.FittedStates) keeps it.
    """
    ref = raw_table(info.model_key, "reference")
    scores, labels = _role(columns, "score"), _role(columns, "label")
    if not scores or not labels or not wh.has_table(info.model_key, "reference"):
        return None
    have = set(wh.table_columns(ref))
    if scores[0].col_id not in have or labels[0].col_id not in have:
        return None
    stamp = label_rules.reference_stamp(wh, info) or 0
    identity: dict[str, object] = {
        "stamp": stamp,
        "score": scores[0].col_id,
        "label": labels[0].col_id,
        "positive": str(info.positive_label),
    }
    state_key = f"calibrator:{info.model}"
    stored = job_state.read_value(wh, state_key)
    found = json.loads(stored) if stored is not None else {}
    if found.get("identity") == identity:
        cal = None if found["x"] is None else Calibrator(np.asarray(found["x"]), np.asarray(found["y"]))
    else:
        df = reference_rows.reference_scores_and_labels(
            wh, info.model_key, scores[0].col_id, labels[0].col_id
        ).to_pandas()
        y = _binary_labels(df["y"], info.positive_label)
        keep = ~np.isnan(y) & df["s"].notna().to_numpy()
        cal = Calibrator.fit(df["s"].to_numpy(dtype=float)[keep], y[keep]) if keep.sum() >= 100 else None
        knots = (
            {"x": None, "y": None} if cal is None else {"x": cal.knots_x.tolist(), "y": cal.knots_y.tolist()}
        )
        job_state.write_value(wh, state_key, json.dumps({"identity": identity, **knots}))
    return cal
