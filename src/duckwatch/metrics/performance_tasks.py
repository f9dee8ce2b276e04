"""Exact multiclass and regression metrics, and business-value helpers, each with a confidence interval.

The multiclass and regression counterparts of `compute_classification`, built on the same result types
and intervals (:mod:`duckwatch.metrics.performance_core`): Wilson for accuracy, t-intervals for mean
errors, the seeded bootstrap for macro averages, RMSE and R². Re-exported from
:mod:`duckwatch.metrics.performance`, which registers them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from duckwatch.metrics.performance_core import (
    BOOTSTRAP_RESAMPLES,
    Z95,
    ConfusionCounts,
    FloatArray,
    MetricValue,
    boot_metric,
    bootstrap_values,
    clip_prob,
    insufficient,
    t_interval,
    wilson_interval,
)
from duckwatch.metrics.performance_ranks import delong_auc


def _missing(values: NDArray[Any]) -> NDArray[np.bool_]:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=bool)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool)
    return np.zeros(values.shape, dtype=bool)


def _batch_macro(t: NDArray[np.intp], p: NDArray[np.intp], k: int) -> FloatArray:
    """Per-resample [macro precision, macro recall, macro F1, weighted F1] as a (resamples, 4) array."""
    t = np.atleast_2d(t)
    p = np.atleast_2d(p)
    rows = t.shape[0]
    flat = (np.arange(rows)[:, None] * k * k + t * k + p).ravel()
    cm = np.bincount(flat, minlength=rows * k * k).reshape(rows, k, k).astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    predicted, support = cm.sum(axis=1), cm.sum(axis=2)
    # sklearn's zero_division=0: a class never predicted (or never seen) scores 0, silently here.
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(predicted > 0, tp / predicted, 0.0)
        rec = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    weighted = (f1 * support).sum(axis=1) / support.sum(axis=1)
    return np.stack([prec.mean(axis=1), rec.mean(axis=1), f1.mean(axis=1), weighted], axis=1)


def compute_multiclass(
    y_true: ArrayLike,
    y_pred: ArrayLike | None = None,
    proba: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    *,
    min_labelled: int = 30,
    seed: int = 0,
) -> dict[str, MetricValue]:
    """Multiclass metrics; ``proba`` columns follow ``classes``; None/NaN labels mark unlabelled rows."""
    labels = np.asarray(y_true, dtype=object if not isinstance(y_true, np.ndarray) else None)
    prob = None if proba is None else np.asarray(proba, dtype=np.float64)
    class_arr = None if classes is None else np.asarray(classes)
    if y_pred is not None:
        pred = np.asarray(y_pred)
    elif prob is not None and class_arr is not None:
        pred = class_arr[np.argmax(prob, axis=1)]
    else:
        raise ValueError("compute_multiclass needs y_pred, or proba together with its classes")
    keep = ~_missing(labels)
    labels, pred = labels[keep], pred[keep]
    prob = None if prob is None else prob[keep]
    n = int(labels.size)
    names = ["accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted"]
    names += [] if prob is None else ["log_loss", "roc_auc_ovr"]
    if n < min_labelled:
        reason = f"not enough labels: {n} labelled rows, need {min_labelled}"
        return {name: insufficient(name, n, reason) for name in names}
    # sklearn's label set when none is given: the union of labels seen in y_true and y_pred.
    present, codes = np.unique(np.concatenate([labels, pred]).astype(str), return_inverse=True)
    t, p = codes[:n], codes[n:]
    k = present.size
    correct = int(np.sum(t == p))
    lo, hi = wilson_interval(correct, n)
    out = {"accuracy": MetricValue("accuracy", correct / n, lo, hi, n)}
    point = _batch_macro(t, p, k)[0]
    boot = bootstrap_values(lambda a, b: _batch_macro(a, b, k), (t, p), BOOTSTRAP_RESAMPLES, seed)
    bounds = np.quantile(boot, [0.025, 0.975], axis=0)
    for j, name in enumerate(names[1:5]):
        out[name] = MetricValue(name, float(point[j]), float(bounds[0, j]), float(bounds[1, j]), n)
    if prob is None or class_arr is None:
        return out
    column = {str(c): i for i, c in enumerate(class_arr)}
    unknown = sorted(set(labels.astype(str)) - set(column))
    if unknown:
        why = f"labels {unknown[:5]} are not in the class list {list(column)[:10]}"
        out.update({name: insufficient(name, n, why) for name in ("log_loss", "roc_auc_ovr")})
        return out
    col = np.array([column[str(v)] for v in labels], dtype=np.intp)
    row_loss = -np.log(clip_prob(prob[np.arange(n), col]))
    out["log_loss"] = MetricValue("log_loss", *t_interval(row_loss), n)
    missing = [str(c) for i, c in enumerate(class_arr) if not np.any(col == i)]
    if missing:
        why = f"classes {missing[:5]} absent from labels: one-vs-rest ROC AUC undefined"
        out["roc_auc_ovr"] = insufficient("roc_auc_ovr", n, why)
        return out
    aucs = [delong_auc(col == i, prob[:, i]) for i in range(class_arr.size)]
    auc = float(np.mean([a for a, _ in aucs]))
    # Per-class DeLong errors combined as if independent: an approximation, documented as such.
    se = math.sqrt(sum(s * s for _, s in aucs)) / len(aucs)
    out["roc_auc_ovr"] = MetricValue(
        "roc_auc_ovr", auc, max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se), n
    )
    return out


def _r2_batch(y: FloatArray, pred: FloatArray) -> FloatArray:
    y = np.atleast_2d(y)
    ss_res = ((y - np.atleast_2d(pred)) ** 2).sum(axis=1)
    ss_tot = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def _rmse_batch(y: FloatArray, pred: FloatArray) -> FloatArray:
    return np.asarray(np.sqrt(((np.atleast_2d(y) - np.atleast_2d(pred)) ** 2).mean(axis=1)))


def compute_regression(
    y_true: ArrayLike, y_pred: ArrayLike, *, min_labelled: int = 30, seed: int = 0
) -> dict[str, MetricValue]:
    """Regression metrics with intervals; NaN targets mark rows not yet labelled."""
    target = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    keep = ~np.isnan(target) & ~np.isnan(pred)
    target, pred = target[keep], pred[keep]
    n = target.size
    names = ("mae", "rmse", "mape", "r2", "mean_error")
    if n < min_labelled:
        reason = f"not enough labels: {n} labelled rows, need {min_labelled}"
        return {name: insufficient(name, n, reason) for name in names}
    err = pred - target
    out: dict[str, MetricValue] = {}
    out["mae"] = MetricValue("mae", *t_interval(np.abs(err)), n)
    out["mean_error"] = MetricValue("mean_error", *t_interval(err), n)
    out["rmse"] = boot_metric("rmse", _rmse_batch, (target, pred), seed)
    if float(np.ptp(target)) == 0.0:
        out["r2"] = insufficient("r2", n, "target is constant: R² undefined")
    else:
        out["r2"] = boot_metric("r2", _r2_batch, (target, pred), seed)
    nonzero = target != 0
    skipped = n - int(nonzero.sum())
    # sklearn divides by max(|y|, eps), which explodes on zero targets; those rows are skipped instead.
    if nonzero.sum() < min_labelled:
        out["mape"] = insufficient("mape", int(nonzero.sum()), f"only {int(nonzero.sum())} non-zero targets")
    else:
        ape = np.abs(err[nonzero] / target[nonzero])
        note = f"skipped {skipped} rows with zero target" if skipped else ""
        out["mape"] = MetricValue("mape", *t_interval(ape), int(nonzero.sum()), note=note)
    return out


def business_value(counts: ConfusionCounts, value_matrix: Mapping[str, float]) -> float:
    """Total value of a confusion matrix, e.g. ``{"tp": 40, "fp": -5, "tn": 0, "fn": -100}`` per row."""
    return float(
        counts.tp * value_matrix.get("tp", 0.0)
        + counts.fp * value_matrix.get("fp", 0.0)
        + counts.tn * value_matrix.get("tn", 0.0)
        + counts.fn * value_matrix.get("fn", 0.0)
    )


def row_value_sum(values: ArrayLike, name: str = "business_value") -> MetricValue:
    """Sum of a per-row value column (NaN rows ignored) with a t-interval on the total."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return insufficient(name, 0, "no rows with a value")
    mean, lo, hi = t_interval(v)
    return MetricValue(name, mean * v.size, lo * v.size, hi * v.size, int(v.size))


def value_at_stake(
    reference_metric_value: float,
    current: float,
    volume: float,
    value_per_point: float,
    *,
    higher_is_better: bool = True,
) -> float:
    """Value lost to a metric drop: points lost (percentage points) x value per point per row x volume.

    Improvements count as zero; ``value_per_point`` is what one percentage point of the metric is worth
    on a single prediction, so an accuracy drop 0.90 -> 0.88 on 10,000 rows at 0.5 per point is 10,000.
    """
    drop = reference_metric_value - current if higher_is_better else current - reference_metric_value
    if not math.isfinite(drop):
        return float("nan")
    return max(0.0, drop) * 100.0 * value_per_point * volume
