"""Shared pieces of the exact performance metrics: result types, proportion and mean intervals, bootstrap.

`MetricValue` and `ConfusionCounts` are the results every performance metric returns; `wilson_interval`,
`t_interval` and the seeded, vectorised percentile bootstrap (`bootstrap_interval`) are the intervals
they are built from. Pure numpy (scipy only inside `t_interval`); re-exported from
:mod:`duckwatch.metrics.performance`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from duckwatch.metrics import bootstrap_weighted as bw

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 200
BOOT_MAX_ROWS = 20_000
# Caps the (resamples x rows) matrix of one bootstrap chunk so memory stays bounded on big windows.
MAX_CHUNK_CELLS = 2_000_000
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


def bootstrap_values(
    stat: BatchStat, arrays: Sequence[NDArray[Any]], resamples: int, seed: int
) -> FloatArray:
    n = arrays[0].shape[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, MAX_CHUNK_CELLS // max(n, 1)))
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
        values = bw.weighted_values(weighted, arrays, resamples, seed, MAX_CHUNK_CELLS)
    else:
        values = bootstrap_values(stat, arrays, resamples, seed)
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


def clip_prob(p: FloatArray) -> FloatArray:
    # Same clipping as sklearn's log_loss: machine epsilon of float64.
    eps = float(np.finfo(np.float64).eps)
    return np.clip(p, eps, 1 - eps)


def boot_metric(
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
