"""Analytic 95% intervals where a good one exists: means of per-row losses, F1 by the delta method,
average precision by the logit interval.

They replace a 200-resample bootstrap for log loss, Brier score, F1 and PR AUC: the same window gives the
same bounds whatever its row order (no resampling), at a fraction of the cost. Coverage at the
nominal 95% is checked by simulation in tests/metrics/test_intervals.py (>= 0.90 required).
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["average_precision_interval", "f1_interval", "mean_interval", "t95"]

Z95 = 1.959963984540054
_T = TypeVar("_T", float, NDArray[np.float64])


def t95(df: _T) -> _T:
    """Two-sided 95% Student-t quantile (Cornish-Fisher expansion to 1/df^3: within 2e-4 from df = 10);
    ``df`` a number or an array of them."""
    z = Z95
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_interval(values: NDArray[np.float64]) -> tuple[float, float, float]:
    """Mean of per-row values with its t interval (CLT: the rows of a window are independent draws)."""
    n = int(values.size)
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(t95(n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def f1_interval(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """F1 = 2tp / (2tp + fp + fn) with its delta-method interval under multinomial sampling of the window.

    F1 is homogeneous of degree 0 in the cell shares, so its gradient is orthogonal to the shares and
    Var(F1) = 4 tp (fp + fn) (tp + fp + fn) / (2tp + fp + fn)^4, in counts (the window size cancels).
    """
    denom = 2 * tp + fp + fn
    if denom == 0:
        return math.nan, math.nan, math.nan
    f1 = 2 * tp / denom
    se = 2.0 * math.sqrt(tp * (fp + fn) * (tp + fp + fn)) / denom**2
    return f1, max(0.0, f1 - Z95 * se), min(1.0, f1 + Z95 * se)


def average_precision_interval(ap: float, positives: int) -> tuple[float, float]:
    """Logit interval of average precision (Boyd, Eng & Page 2013): logit(AP) +- z / sqrt(n+ AP (1 - AP)).

    Simulated here at 1.5% to 29% prevalence and 300 to 20,000 rows: coverage 0.93-0.98 at nominal 0.95.
    """
    if positives <= 0 or not 0.0 < ap < 1.0:
        return math.nan, math.nan
    centre = math.log(ap / (1.0 - ap))
    half = Z95 / math.sqrt(positives * ap * (1.0 - ap))
    return 1.0 / (1.0 + math.exp(-(centre - half))), 1.0 / (1.0 + math.exp(-(centre + half)))
