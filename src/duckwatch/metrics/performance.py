"""Exact performance metrics from labelled rows, each with a confidence interval.

Pure numpy/scipy: arrays in, :class:`MetricValue` out. A window that cannot support a metric (too few
labels, one class only, no predicted positives) yields status ``"insufficient"`` with a reason instead
of raising or warning, because empty and one-sided windows are normal while labels arrive late.

Interval methods: Wilson for proportions, DeLong for ROC AUC, t-intervals for mean errors and a seeded,
vectorised percentile bootstrap (200 resamples) for everything else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from duckwatch.metrics import bootstrap_weighted as bw
from duckwatch.metrics.intervals import average_precision_interval, f1_interval, mean_interval
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

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 200
BOOT_MAX_ROWS = 20_000
ECE_BINS = 10
# Caps the (resamples x rows) matrix of one bootstrap chunk so memory stays bounded on big windows.
_MAX_CHUNK_CELLS = 2_000_000
FloatArray = NDArray[np.float64]
BatchStat = Callable[..., FloatArray]


@dataclass(frozen=True)
class MetricValue:
    """One metric for one window: value, interval bounds, rows used, and whether it is defined."""

    name: str
    value: float
    lower: float
    upper: float
    n: int
    status: str = "ok"
    reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class ConfusionCounts:
    """Binary confusion matrix counts."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        """Total rows counted."""
        return self.tp + self.fp + self.tn + self.fn


def insufficient(name: str, n: int, reason: str) -> MetricValue:
    """A metric that the window cannot support, with the reason shown to users."""
    nan = float("nan")
    return MetricValue(name, nan, nan, nan, n, "insufficient", reason)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def t_interval(values: FloatArray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` with a Student-t interval."""
    n = values.size
    mean = float(values.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    from scipy.special import stdtrit  # regression/value metrics only: keep scipy off the tick import

    half = float(stdtrit(n - 1, 0.5 + level / 2)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def _bootstrap_values(
    stat: BatchStat, arrays: Sequence[NDArray[Any]], resamples: int, seed: int
) -> FloatArray:
    n = arrays[0].shape[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _MAX_CHUNK_CELLS // max(n, 1)))
    parts: list[FloatArray] = []
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        parts.append(stat(*(a[idx] for a in arrays)))
    return np.concatenate(parts)


def bootstrap_interval(
    stat: BatchStat,
    arrays: Sequence[NDArray[Any]],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    value: float | None = None,
    weighted: bw.WeightedStat | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap; ``stat`` maps row-resampled 2-D arrays (resamples x rows) to one value per row.

    Above BOOT_MAX_ROWS rows the resampling runs on a seeded subsample and the interval's half-widths
    are scaled by sqrt(m/n) (m-out-of-n bootstrap of a smooth statistic): a million-row window then
    costs what a 20k-row one does instead of 200 passes over a million rows. ``value``: the statistic
    on all rows, when the caller has it already. ``weighted``: the same statistic of row counts
    (metrics/bootstrap_weighted.py), which gives the same resamples without gathering or sorting them.
    """
    n = arrays[0].shape[0]
    if n < 2:
        return float("nan"), float("nan")
    if n > BOOT_MAX_ROWS:
        idx = np.random.default_rng(seed + 1).choice(n, BOOT_MAX_ROWS, replace=False)
        sub = [a[idx] for a in arrays]
        lo_s, hi_s = bootstrap_interval(stat, sub, resamples=resamples, seed=seed, weighted=weighted)
        v_s = float(stat(*sub)[0])
        v = float(stat(*arrays)[0]) if value is None else value
        scale = math.sqrt(BOOT_MAX_ROWS / n)
        return v - (v_s - lo_s) * scale, v + (hi_s - v_s) * scale
    if weighted is not None:
        values = bw.weighted_values(weighted, arrays, resamples, seed, _MAX_CHUNK_CELLS)
    else:
        values = _bootstrap_values(stat, arrays, resamples, seed)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)


def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike) -> ConfusionCounts:
    """Confusion counts of 0/1 labels against 0/1 predictions."""
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    return ConfusionCounts(
        tp=int(np.sum(t & p)), fp=int(np.sum(~t & p)), tn=int(np.sum(~t & ~p)), fn=int(np.sum(t & ~p))
    )


def rankdata(values: ArrayLike) -> FloatArray:
    """Average (mid) ranks of a 1-D array, all NaN if any is NaN: ``scipy.stats.rankdata``, minus its import."""
    x = np.asarray(values).reshape(-1)
    if x.size == 0:
        return np.empty(0, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    y = x[order]
    first = np.flatnonzero(np.concatenate([[True], y[:-1] != y[1:]]))
    counts = np.diff(first, append=y.size)
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat((first + 1).astype(np.float64) + (counts - 1) / 2, counts)
    if x.dtype.kind in "fc" and np.isnan(x).any():
        ranks[:] = np.nan
    return ranks


def sorted_midranks(s_sorted: FloatArray) -> FloatArray:
    """Average-tie ranks (1-based, as `rankdata`) of an array already sorted ascending."""
    n = s_sorted.size
    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(s_sorted[1:], s_sorted[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    if starts.size == n:
        return np.arange(1.0, n + 1.0)
    ends = np.append(starts[1:], n)
    # A run of rows start..end-1 (0-based) shares the mean of the 1-based ranks start+1..end.
    return np.repeat((starts + 1 + ends) / 2.0, ends - starts)


def delong_auc(y_true: NDArray[Any], y_score: FloatArray) -> tuple[float, float]:
    """ROC AUC and its DeLong standard error (ties count half, like sklearn)."""
    auc, se, _ = ranked_metrics(y_true.astype(bool), np.asarray(y_score, dtype=np.float64))
    return auc, se


def ranked_metrics(y: NDArray[np.bool_], score: FloatArray) -> tuple[float, float, float]:
    """ROC AUC, its DeLong standard error and average precision, from two sorts.

    The positives' and the negatives' scores are sorted apart (numpy's vectorised sort, no
    argsort, no gathers: a 5M-row window costs a third of what ranking all rows did). For each
    positive, two binary searches count the negatives below it and tied with it: its DeLong
    placement value, whose mean is the AUC, and the rows at or above its score, whose precision
    averaged over positives is sklearn's average precision (ties: one threshold). Each negative's
    count of positives below or tied is the same counts read from the other side (a positive lies
    below negative j exactly when fewer than j+1 negatives are at or below it).
    """
    if np.isnan(score).any():
        return float("nan"), float("nan"), float("nan")
    pos, neg = np.sort(score[y]), np.sort(score[~y])
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        return float("nan"), float("nan"), (1.0 if m else float("nan"))
    neg_below = np.searchsorted(neg, pos, "left")
    neg_at_or_below = np.searchsorted(neg, pos, "right")
    v10 = (neg_below + neg_at_or_below) / (2.0 * n)  # negatives below + half the ties, per positive
    auc = float(v10.mean())
    run_start = np.empty(m, dtype=bool)
    run_start[0] = True
    np.not_equal(pos[1:], pos[:-1], out=run_start[1:])
    pos_at_or_above = m - np.maximum.accumulate(np.where(run_start, np.arange(m), 0))
    ap = float(np.mean(pos_at_or_above / (pos_at_or_above + (n - neg_below))))
    if m < 2 or n < 2:
        return auc, float("nan"), ap
    pos_below = np.cumsum(np.bincount(neg_at_or_below, minlength=n + 1)[:n])
    pos_at_or_below = np.cumsum(np.bincount(neg_below, minlength=n + 1)[:n])
    v01 = 1.0 - (pos_below + pos_at_or_below) / (2.0 * m)  # positives above + half the ties
    return auc, math.sqrt(float(v10.var(ddof=1)) / m + float(v01.var(ddof=1)) / n), ap


def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Average precision (area under the precision-recall curve as sklearn defines it)."""
    return ranked_metrics(np.asarray(y_true).astype(bool), np.asarray(y_score, dtype=np.float64))[2]


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


def _clip_prob(p: FloatArray) -> FloatArray:
    # Same clipping as sklearn's log_loss: machine epsilon of float64.
    eps = float(np.finfo(np.float64).eps)
    return np.clip(p, eps, 1 - eps)


def _proportion(name: str, successes: int, n: int, why_empty: str) -> MetricValue:
    if n == 0:
        return insufficient(name, 0, why_empty)
    lo, hi = wilson_interval(successes, n)
    return MetricValue(name, successes / n, lo, hi, n)


def _boot(
    name: str,
    fn: BatchStat,
    arrays: Sequence[NDArray[Any]],
    seed: int,
    weighted: bw.WeightedStat | None = None,
    value: float | None = None,
) -> MetricValue:
    value = float(fn(*arrays)[0]) if value is None else value
    lo, hi = bootstrap_interval(fn, arrays, seed=seed, value=value, weighted=weighted)
    return MetricValue(name, value, lo, hi, arrays[0].shape[0])


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
    loss = -(np.where(y, np.log(_clip_prob(score)), np.log(_clip_prob(1 - score))))
    out["log_loss"] = MetricValue("log_loss", *mean_interval(loss), n)
    out["brier"] = MetricValue("brier", *mean_interval((score - y) ** 2), n)
    out["ece"] = _boot("ece", _batch_ece, (y, score), seed, lambda w, yy, pp: bw.ece(w, yy, pp, ECE_BINS))
    return out


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
    boot = _bootstrap_values(lambda a, b: _batch_macro(a, b, k), (t, p), BOOTSTRAP_RESAMPLES, seed)
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
    row_loss = -np.log(_clip_prob(prob[np.arange(n), col]))
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
    out["rmse"] = _boot("rmse", _rmse_batch, (target, pred), seed)
    if float(np.ptp(target)) == 0.0:
        out["r2"] = insufficient("r2", n, "target is constant: R² undefined")
    else:
        out["r2"] = _boot("r2", _r2_batch, (target, pred), seed)
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
