"""Binary classification metrics of many windows at once: `compute_classification`, window by window,
as grouped numpy operations over all rows of all windows.

Rows carry their window's index (``group``); counts are `np.bincount` by group, ROC AUC and average
precision come from one sort by (group, score), and every interval is analytic (Wilson, DeLong, delta
method, t, logit), so 720 hourly windows cost a few array passes instead of 720 calls. Values equal
`compute_classification`'s up to summation order (1e-12 relative); the one interval that differs is
ECE's: a bootstrap of the per-bin sums in their normal form, seeded per window, instead of resampling
rows (see `_ece_bounds`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from duckwatch.metrics.intervals import Z95, t95

__all__ = ["SCORE_METRICS", "WindowMetric", "classification_by_window", "window_seed"]

FloatArray = NDArray[Any]  # float64; counts from np.bincount may be int64 too
IntArray = NDArray[Any]
ECE_BINS = 10
ECE_DRAWS = 200
COUNT_METRICS = ("positive_rate", "accuracy", "precision", "recall", "f1", "prevalence")
SCORE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")


@dataclass
class WindowMetric:
    """One metric for every window: value, bounds and rows used per window; a reason where undefined."""

    name: str
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    n: IntArray
    reason: list[str] = field(default_factory=list)  # "" where the metric is defined

    @classmethod
    def empty(cls, name: str, k: int) -> WindowMetric:
        nan = np.full(k, np.nan)
        return cls(name, nan, nan.copy(), nan.copy(), np.zeros(k, dtype=np.int64), [""] * k)

    def set(self, where: NDArray[np.bool_], value: FloatArray, lower: FloatArray, upper: FloatArray,
            n: IntArray) -> None:  # fmt: skip
        """Values of windows ``where`` that no check refused."""
        where = where & (np.array([not r for r in self.reason], dtype=bool))
        self.value[where], self.lower[where], self.upper[where] = value[where], lower[where], upper[where]
        self.n[where] = n[where]

    def refuse(self, where: NDArray[np.bool_], n: IntArray, reasons: Sequence[str] | str) -> None:
        """Mark windows ``where`` as unable to support the metric, with the reason (one or per window)."""
        for i in map(int, np.flatnonzero(where)):
            if self.reason[i]:
                continue  # the first reason found wins, as in compute_classification's order of checks
            self.reason[i] = reasons if isinstance(reasons, str) else reasons[i]
            self.value[i] = self.lower[i] = self.upper[i] = np.nan
            self.n[i] = n[i]


def _wilson(successes: FloatArray, n: FloatArray) -> tuple[FloatArray, FloatArray]:
    z2 = Z95 * Z95
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def _proportion(out: WindowMetric, ok: NDArray[np.bool_], successes: FloatArray, n: FloatArray) -> None:
    lo, hi = _wilson(successes, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out.set(ok, successes / n, lo, hi, n.astype(np.int64))


def _group_mean_interval(
    group: IntArray, values: FloatArray, k: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per group: the mean of ``values`` and its t interval (`intervals.mean_interval`), two passes."""
    n = np.bincount(group, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=values, minlength=k) / n
        var = np.bincount(group, weights=(values - mean[group]) ** 2, minlength=k) / (n - 1)
        half = t95(np.maximum(n - 1, 1)) * np.sqrt(var) / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half


def _order_within_groups(group: IntArray, score: FloatArray) -> IntArray:
    """Row order by (group, score). Rows come grouped (the loader sorts them by window): one sort per
    group is then 10x faster than a lexsort of all rows."""
    if group.size and np.all(group[1:] >= group[:-1]):
        cuts = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        order = np.empty(group.size, dtype=np.int64)
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            order[a:b] = a + np.argsort(score[a:b], kind="stable")
        return order
    return np.lexsort((score, group))


def _ranked(
    group: IntArray, y: NDArray[np.bool_], score: FloatArray, k: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per group: ROC AUC, its DeLong standard error and average precision (`performance.ranked_metrics`)."""
    order = _order_within_groups(group, score)
    g, s, pos = group[order], score[order], y[order]
    new_run = np.empty(g.size, dtype=bool)
    new_run[:1] = True
    new_run[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    run = np.cumsum(new_run) - 1
    run_group = g[new_run]
    run_pos = np.bincount(run, weights=pos, minlength=run_group.size)
    run_neg = np.bincount(run, weights=~pos, minlength=run_group.size)
    m = np.bincount(g, weights=pos, minlength=k)
    n = np.bincount(g, weights=~pos, minlength=k)

    def below(per_run: FloatArray) -> FloatArray:
        """Rows of the same group in earlier runs (strictly lower scores)."""
        before = np.cumsum(per_run) - per_run
        first_run = np.flatnonzero(np.r_[True, run_group[1:] != run_group[:-1]])
        offset = np.repeat(before[first_run], np.diff(np.r_[first_run, run_group.size]))
        return np.asarray(before - offset, dtype=np.float64)

    neg_below, pos_below = below(run_neg), below(run_pos)
    gp, rp = g[pos], run[pos]
    with np.errstate(invalid="ignore", divide="ignore"):
        v10 = (2 * neg_below[rp] + run_neg[rp]) / (2.0 * n[gp])
        gn, rn = g[~pos], run[~pos]
        v01 = 1.0 - (2 * pos_below[rn] + run_pos[rn]) / (2.0 * m[gn])
        auc = np.bincount(gp, weights=v10, minlength=k) / m
        var10 = np.bincount(gp, weights=(v10 - auc[gp]) ** 2, minlength=k) / (m - 1)
        mean01 = np.bincount(gn, weights=v01, minlength=k) / n
        var01 = np.bincount(gn, weights=(v01 - mean01[gn]) ** 2, minlength=k) / (n - 1)
        se = np.sqrt(var10 / m + var01 / n)
        pos_at_or_above = m[gp] - pos_below[rp]
        precision = pos_at_or_above / (pos_at_or_above + (n[gp] - neg_below[rp]))
        ap = np.bincount(gp, weights=precision, minlength=k) / m
    return auc, se, ap


def _ece_bounds(
    group: IntArray, y: NDArray[np.bool_], score: FloatArray, k: int, seeds: Sequence[int]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECE per group and its 95% bootstrap band, from per-bin sums.

    ECE = sum over bins of |sum(y - p)| / n. Resampling rows with Poisson(1) weights moves a bin's
    D = sum(y - p) by a sum of independent terms with variance V = sum((y - p)^2); in its normal
    form the resampled ECE is sum_b |D_b + sqrt(V_b) Z_b| / n, drawn ECE_DRAWS times per window
    from a generator seeded by the window, so the band is the same on every rerun.
    """
    d_row = y.astype(np.float64) - score
    flat = group * ECE_BINS + np.minimum((score * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    d = np.bincount(flat, weights=d_row, minlength=k * ECE_BINS).reshape(k, ECE_BINS)
    v = np.bincount(flat, weights=d_row * d_row, minlength=k * ECE_BINS).reshape(k, ECE_BINS)
    n = np.bincount(group, minlength=k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ece = np.abs(d).sum(axis=1) / n
    lo, hi = np.full(k, np.nan), np.full(k, np.nan)
    live = np.flatnonzero(n >= 2)
    if live.size:
        z = np.stack(
            [np.random.default_rng(seeds[i]).standard_normal((ECE_DRAWS, ECE_BINS)) for i in live.tolist()]
        )
        draws = np.abs(d[live, None, :] + np.sqrt(v)[live, None, :] * z).sum(axis=2) / n[live, None]
        lo[live], hi[live] = np.quantile(draws, [0.025, 0.975], axis=1)
    return ece, lo, hi


def classification_by_window(
    group: IntArray,
    k: int,
    labels: FloatArray,
    score: FloatArray | None,
    pred: FloatArray | None,
    seeds: Sequence[int],
    *,
    threshold: float = 0.5,
    min_labelled: int = 30,
    min_class: int = 10,
) -> dict[str, WindowMetric]:
    """`performance.compute_classification` of each of ``k`` windows; rows of window i have group i.

    ``labels``: 0/1, NaN where not labelled yet. ``pred``: the model's 0/1 decision, or None to
    threshold ``score``. ``seeds``: one per window (ECE's band). The confusion counts are not returned.
    """
    if pred is not None:
        decided = pred > 0.5
    elif score is not None:
        decided = score >= threshold
    else:
        raise ValueError("classification_by_window needs a score or a prediction column")
    names = [*COUNT_METRICS, *(SCORE_METRICS if score is not None else ())]
    out = {name: WindowMetric.empty(name, k) for name in names}
    rows = np.bincount(group, minlength=k).astype(np.float64)
    _proportion(out["positive_rate"], rows > 0, np.bincount(group, weights=decided, minlength=k), rows)
    out["positive_rate"].refuse(rows == 0, np.zeros(k, dtype=np.int64), "no predictions in this window")
    keep = ~np.isnan(labels)
    g, y, p = group[keep], labels[keep] > 0.5, decided[keep]
    n = np.bincount(g, minlength=k)
    few = n < min_labelled
    for name in names[1:]:
        out[name].refuse(few, n, [f"not enough labels: {c} labelled rows, need {min_labelled}" for c in n])
    tp, fp = (np.bincount(g, weights=y & p, minlength=k), np.bincount(g, weights=~y & p, minlength=k))
    fn, tn = (np.bincount(g, weights=y & ~p, minlength=k), np.bincount(g, weights=~y & ~p, minlength=k))
    nf = n.astype(np.float64)
    ok = ~few
    _proportion(out["accuracy"], ok, tp + tn, nf)
    _proportion(out["prevalence"], ok, tp + fn, nf)
    positives, negatives, flagged = tp + fn, tn + fp, tp + fp
    few_pos = [f"only {int(c)} positive labels in this window (need {min_class})" for c in positives]
    few_flagged = [f"only {int(c)} predicted positives in this window (need {min_class})" for c in flagged]
    out["precision"].refuse(ok & (flagged < min_class), n, few_flagged)
    _proportion(out["precision"], ok & (flagged >= min_class), tp, flagged)
    out["recall"].refuse(ok & (positives < min_class), n, few_pos)
    _proportion(out["recall"], ok & (positives >= min_class), tp, positives)
    f1 = out["f1"]
    f1.refuse(ok & (2 * tp + fp + fn == 0), n, "no positive labels or predictions: F1 undefined")
    f1.refuse(ok & (positives < min_class), n, few_pos)
    f1.refuse(ok & (flagged < min_class), n, few_flagged)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 2 * tp + fp + fn
        value = 2 * tp / denom
        se = 2.0 * np.sqrt(tp * (fp + fn) * (tp + fp + fn)) / denom**2
    f1.set(ok, value, np.maximum(0.0, value - Z95 * se), np.minimum(1.0, value + Z95 * se), n)
    if score is None:
        return out
    _score_metrics(out, ok, g, y, score[keep], n, positives, negatives, seeds, min_class)
    return out


def _score_metrics(
    out: dict[str, WindowMetric],
    ok: NDArray[np.bool_],
    g: IntArray,
    y: NDArray[np.bool_],
    s: FloatArray,
    n: IntArray,
    positives: FloatArray,
    negatives: FloatArray,
    seeds: Sequence[int],
    min_class: int,
) -> None:
    k = ok.size
    finite = np.bincount(g, weights=~np.isfinite(s), minlength=k) == 0
    for name in SCORE_METRICS:
        out[name].refuse(ok & ~finite, n, "some labelled rows have no score")
    ok = ok & finite
    live = ok[g]  # rows of windows where score metrics can be computed
    g, y, s = g[live], y[live], s[live]
    one_class = (positives == 0) | (negatives == 0)
    rare = np.minimum(positives, negatives)
    why_rare = [f"only {int(c)} rows of the rarer class in this window (need {min_class})" for c in rare]
    for key in ("roc_auc", "pr_auc"):
        out[key].refuse(ok & one_class, n, f"only one class present: {key.replace('_', ' ')} undefined")
        out[key].refuse(ok & (rare < min_class), n, why_rare)
    ranked = ok & ~one_class & (rare >= min_class)
    if ranked.any():
        sel = ranked[g]
        auc, se, ap = _ranked(g[sel], y[sel], s[sel], k)
        out["roc_auc"].set(ranked, auc, np.maximum(0.0, auc - Z95 * se), np.minimum(1.0, auc + Z95 * se), n)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # AP of 0 or 1: no interval
            centre = np.log(ap / (1.0 - ap))
            half = Z95 / np.sqrt(positives * ap * (1.0 - ap))
            inside = (ap > 0.0) & (ap < 1.0)
            lo = np.where(inside, 1.0 / (1.0 + np.exp(-(centre - half))), np.nan)
            hi = np.where(inside, 1.0 / (1.0 + np.exp(-(centre + half))), np.nan)
        out["pr_auc"].set(ranked, ap, lo, hi, n)
    outside = np.bincount(g, weights=(s < 0.0) | (s > 1.0), minlength=k) > 0
    for name in ("log_loss", "brier", "ece"):
        out[name].refuse(ok & outside, n, "scores are not probabilities in [0, 1]")
    ok = ok & ~outside
    if not ok.any():
        return
    sel = ok[g]
    g, y, s = g[sel], y[sel], s[sel]
    eps = float(np.finfo(np.float64).eps)  # sklearn's log_loss clipping
    loss = -np.where(y, np.log(np.clip(s, eps, 1 - eps)), np.log(np.clip(1 - s, eps, 1 - eps)))
    out["log_loss"].set(ok, *_group_mean_interval(g, loss, k), n)
    out["brier"].set(ok, *_group_mean_interval(g, (s - y) ** 2, k), n)
    out["ece"].set(ok, *_ece_bounds(g, y, s, k, seeds), n)


def window_seed(*parts: object) -> int:
    """A seed from a window's key and a metric name: the same on every run, in every process."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
