"""Exact performance metrics from labelled rows, each with a confidence interval.

Pure numpy/scipy: arrays in, :class:`MetricValue` out. A window that cannot support a metric (too few
labels, one class only, no predicted positives) yields status ``"insufficient"`` with a reason instead
of raising or warning, because empty and one-sided windows are normal while labels arrive late.

Interval methods: Wilson for proportions, DeLong for ROC AUC, t-intervals for mean errors and a seeded,
vectorised percentile bootstrap (200 resamples) for everything else.

This module holds binary classification and the metric table that registers every performance metric
at import; result types and intervals live in ``performance_core``, rank statistics in
``performance_ranks`` and the multiclass, regression and value metrics in ``performance_tasks``, all
re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from duckwatch.metrics import bootstrap_weighted as bw
from duckwatch.metrics.intervals import average_precision_interval, f1_interval, mean_interval
from duckwatch.metrics.performance_core import BOOT_MAX_ROWS as BOOT_MAX_ROWS
from duckwatch.metrics.performance_core import BOOTSTRAP_RESAMPLES as BOOTSTRAP_RESAMPLES
from duckwatch.metrics.performance_core import MAX_CHUNK_CELLS as MAX_CHUNK_CELLS
from duckwatch.metrics.performance_core import (
    Z95,
    ConfusionCounts,
    FloatArray,
    MetricValue,
    boot_metric,
    bootstrap_interval,
    clip_prob,
    confusion_counts,
    insufficient,
    t_interval,
    wilson_interval,
)
from duckwatch.metrics.performance_core import bootstrap_values as bootstrap_values
from duckwatch.metrics.performance_ranks import average_precision, delong_auc, rankdata, ranked_metrics
from duckwatch.metrics.performance_ranks import sorted_midranks as sorted_midranks
from duckwatch.metrics.performance_tasks import (
    business_value,
    compute_multiclass,
    compute_regression,
    row_value_sum,
    value_at_stake,
)
from duckwatch.metrics.registry import MetricSpec, register

__all__ = [
    "ConfusionCounts",
    "MetricValue",
    "average_precision",
    "bootstrap_interval",
    "business_value",
    "compute_classification",
    "compute_multiclass",
    "compute_regression",
    "confusion_counts",
    "delong_auc",
    "expected_calibration_error",
    "insufficient",
    "rankdata",
    "ranked_metrics",
    "register_all",
    "row_value_sum",
    "t_interval",
    "value_at_stake",
    "wilson_interval",
]

ECE_BINS = 10


def _bin_index(p: FloatArray, bins: int) -> NDArray[np.intp]:
    return np.minimum((p * bins).astype(np.intp), bins - 1)


def _batch_ece(y: NDArray[Any], p: FloatArray, bins: int = ECE_BINS) -> FloatArray:
    y = np.atleast_2d(y).astype(np.float64)
    p = np.atleast_2d(p)
    rows, width = p.shape
    flat = (_bin_index(p, bins) + bins * np.arange(rows)[:, None]).ravel()
    sum_y = np.bincount(flat, weights=y.ravel(), minlength=rows * bins).reshape(rows, bins)
    sum_p = np.bincount(flat, weights=p.ravel(), minlength=rows * bins).reshape(rows, bins)
    # |sum_y - sum_p| / n equals sum_b (n_b / n) * |mean_y_b - mean_p_b| without dividing by empty bins.
    return np.asarray(np.abs(sum_y - sum_p).sum(axis=1) / width, dtype=np.float64)


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, bins: int = ECE_BINS) -> float:
    """ECE with equal-width bins on [0, 1]: sum over bins of (share of rows) x |observed rate - mean prob|."""
    return float(_batch_ece(np.asarray(y_true), np.asarray(y_prob, dtype=np.float64), bins)[0])


def _proportion(name: str, successes: int, n: int, why_empty: str) -> MetricValue:
    if n == 0:
        return insufficient(name, 0, why_empty)
    lo, hi = wilson_interval(successes, n)
    return MetricValue(name, successes / n, lo, hi, n)


def compute_classification(
    y_true: ArrayLike,
    y_score: ArrayLike | None = None,
    y_pred: ArrayLike | None = None,
    *,
    threshold: float = 0.5,
    min_labelled: int = 30,
    min_class: int = 10,
    seed: int = 0,
) -> dict[str, MetricValue]:
    """Binary classification metrics with intervals; NaN labels mark rows not yet labelled.

    Metrics built on the rare class (precision, recall, F1, ROC/PR AUC) need at least ``min_class``
    rows of it: on a fraud model's 3 daily positives F1 swings between 0 and 0.4 by chance, and its
    bootstrap interval collapses to a point, so a number there would only page people.
    """
    labels = np.asarray(y_true, dtype=np.float64)
    score = None if y_score is None else np.asarray(y_score, dtype=np.float64)
    if y_pred is not None:
        pred = np.asarray(y_pred).astype(np.float64) > 0.5
    elif score is not None:
        pred = score >= threshold
    else:
        raise ValueError("compute_classification needs y_score or y_pred; pass at least one of them")
    out: dict[str, MetricValue] = {
        "positive_rate": _proportion(
            "positive_rate", int(pred.sum()), pred.size, "no predictions in this window"
        )
    }
    labelled = ~np.isnan(labels)
    n = int(labelled.sum())
    y = labels[labelled] > 0.5
    pred = pred[labelled]
    score = None if score is None else score[labelled]
    names = ["accuracy", "precision", "recall", "f1", "prevalence", "tp", "fp", "tn", "fn"]
    names += [] if score is None else ["roc_auc", "pr_auc", "log_loss", "brier", "ece"]
    if n < min_labelled:
        reason = f"not enough labels: {n} labelled rows, need {min_labelled}"
        out.update({name: insufficient(name, n, reason) for name in names})
        return out

    cm = confusion_counts(y, pred)
    for key, count in (("tp", cm.tp), ("fp", cm.fp), ("tn", cm.tn), ("fn", cm.fn)):
        out[key] = MetricValue(key, float(count), float(count), float(count), n)
    out["accuracy"] = _proportion("accuracy", cm.tp + cm.tn, n, "no labelled rows")
    out["prevalence"] = _proportion("prevalence", cm.tp + cm.fn, n, "no labelled rows")
    positives, negatives, flagged = cm.tp + cm.fn, cm.tn + cm.fp, cm.tp + cm.fp
    few_pos = f"only {positives} positive labels in this window (need {min_class})"
    few_flagged = f"only {flagged} predicted positives in this window (need {min_class})"
    out["precision"] = (
        _proportion("precision", cm.tp, flagged, "no predicted positives: precision undefined")
        if flagged >= min_class
        else insufficient("precision", n, few_flagged)
    )
    out["recall"] = (
        _proportion("recall", cm.tp, positives, "no positive labels: recall undefined")
        if positives >= min_class
        else insufficient("recall", n, few_pos)
    )
    if 2 * cm.tp + cm.fp + cm.fn == 0:
        out["f1"] = insufficient("f1", n, "no positive labels or predictions: F1 undefined")
    elif positives < min_class or flagged < min_class:
        out["f1"] = insufficient("f1", n, few_pos if positives < min_class else few_flagged)
    else:
        f1, lo, hi = f1_interval(cm.tp, cm.fp, cm.fn)  # the window's value and delta-method interval
        out["f1"] = MetricValue("f1", f1, lo, hi, n)
    if score is None:
        return out

    if not np.all(np.isfinite(score)):
        why = "some labelled rows have no score"
        out.update({k: insufficient(k, n, why) for k in ("roc_auc", "pr_auc", "log_loss", "brier", "ece")})
        return out
    one_class = cm.tp + cm.fn in (0, n)
    if one_class:
        for key in ("roc_auc", "pr_auc"):
            out[key] = insufficient(key, n, f"only one class present: {key.replace('_', ' ')} undefined")
    elif min(positives, negatives) < min_class:
        why = f"only {min(positives, negatives)} rows of the rarer class in this window (need {min_class})"
        for key in ("roc_auc", "pr_auc"):
            out[key] = insufficient(key, n, why)
    else:
        auc, se, ap = ranked_metrics(y, score)
        out["roc_auc"] = MetricValue("roc_auc", auc, max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se), n)
        out["pr_auc"] = MetricValue("pr_auc", ap, *average_precision_interval(ap, positives), n)
    if score.min() < 0.0 or score.max() > 1.0:
        why = "scores are not probabilities in [0, 1]"
        out.update({k: insufficient(k, n, why) for k in ("log_loss", "brier", "ece")})
        return out
    # Means of per-row losses: the t interval of a mean, not a bootstrap.
    loss = -(np.where(y, np.log(clip_prob(score)), np.log(clip_prob(1 - score))))
    out["log_loss"] = MetricValue("log_loss", *mean_interval(loss), n)
    out["brier"] = MetricValue("brier", *mean_interval((score - y) ** 2), n)
    out["ece"] = boot_metric(
        "ece", _batch_ece, (y, score), seed, lambda w, yy, pp: bw.ece(w, yy, pp, ECE_BINS)
    )
    return out


# One metric per line: name | display name | meaning | normal low, high | worse when | computed by.
_TABLE_TEXT = """
accuracy | Accuracy | Share of labelled predictions that were right. | 0, 1 | lower | binary
precision | Precision | Share of predicted positives that were positive. | 0, 1 | lower | binary
recall | Recall | Share of actual positives the model caught. | 0, 1 | lower | binary
f1 | F1 score | Harmonic mean of precision and recall. | 0, 1 | lower | binary
roc_auc | ROC AUC | Chance a random positive scores above a random negative. | 0.5, 1 | lower | binary
pr_auc | PR AUC | Average precision over all recall levels. | 0, 1 | lower | binary
log_loss | Log loss | Penalty for confident wrong probabilities. | 0, 1 | higher | binary
brier | Brier score | Mean squared error of predicted probabilities. | 0, 0.25 | higher | binary
ece | Calibration error | Gap between predicted probability and observed rate (10 bins). | 0, 0.05 | higher | binary
positive_rate | Positive rate | Share of rows predicted positive. | 0, 1 | lower | binary
prevalence | Label positive rate | Share of labelled rows that are positive. | 0, 1 | lower | binary
precision_macro | Macro precision | Precision averaged over classes. | 0, 1 | lower | multiclass
recall_macro | Macro recall | Recall averaged over classes. | 0, 1 | lower | multiclass
f1_macro | Macro F1 | F1 averaged over classes. | 0, 1 | lower | multiclass
f1_weighted | Weighted F1 | F1 averaged over classes, weighted by class frequency. | 0, 1 | lower | multiclass
roc_auc_ovr | ROC AUC (one-vs-rest) | ROC AUC of each class against the rest, averaged. | 0.5, 1 | lower | multiclass
mae | Mean absolute error | Average size of the prediction error. | 0, inf | higher | regression
rmse | Root mean squared error | Typical prediction error, punishing large misses. | 0, inf | higher | regression
mape | Mean absolute % error | Average error relative to the target (zero targets skipped). | 0, 1 | higher | regression
r2 | R² | Share of target variance the model explains. | 0, 1 | lower | regression
mean_error | Bias | Mean of prediction minus target; positive means over-prediction. | -inf, inf | higher | regression
"""
_TABLE = [[cell.strip() for cell in line.split("|")] for line in _TABLE_TEXT.strip().splitlines()]
_COMPUTE: dict[str, Callable[..., dict[str, MetricValue]]] = {
    "binary": compute_classification,
    "multiclass": compute_multiclass,
    "regression": compute_regression,
}


def _picker(name: str, compute: Callable[..., dict[str, MetricValue]]) -> Callable[..., MetricValue]:
    def pick(*args: Any, **kwargs: Any) -> MetricValue:
        return compute(*args, **kwargs)[name]

    pick.__name__ = name
    pick.__doc__ = f"{name} from {compute.__name__}(...)."
    return pick


def register_all() -> list[MetricSpec]:
    """Register every performance metric with the shared registry (idempotent)."""
    specs = []
    for name, display, meaning, normal, worse, _task in _TABLE:
        low, high = (float(x) for x in normal.split(","))
        spec = MetricSpec(
            name,
            display,
            meaning,
            "performance",
            "scalar_series",
            (low, high),
            worse == "higher",
            ("model",),
            _PICKERS[name],
        )
        specs.append(register(spec))
    return specs


_PICKERS = {row[0]: _picker(row[0], _COMPUTE[row[5]]) for row in _TABLE}
register_all()
