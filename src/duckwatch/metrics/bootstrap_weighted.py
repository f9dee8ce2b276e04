"""Bootstrap resamples as row counts: intervals of statistics that have no good analytic one (ECE).

A resample drawn with replacement is the original rows, each taken ``c_i`` times. A statistic that is
a sum over rows makes a whole block of resamples one matrix of counts times a few vectors: nothing
is gathered or sorted per resample. (F1, log loss, Brier and PR AUC have analytic intervals:
metrics/intervals.py.) The
counts come from exactly the indices `performance.bootstrap_values` draws (same seed, same chunks),
so both give the same resamples; the values agree to float rounding (tests compare them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
WeightedStat = Callable[..., FloatArray]  # (counts: resamples x rows, *row arrays) -> one value per resample


_LAST: list[tuple[tuple[int, int, int, int], list[NDArray[np.uint16]]]] = []


def resample_counts(n: int, resamples: int, seed: int, max_cells: int) -> Iterator[NDArray[Any]]:
    """Blocks of (resamples x n) integer row counts; the draws of `performance.bootstrap_values` exactly.

    The statistics of one window all resample with the same seed: the last counts drawn are kept
    (as 16-bit integers, 8 MB for 200 x 20k) and served again instead of drawn five times. Each
    statistic takes the integers as they come (`_float` where it needs a matrix product)."""
    key = (n, resamples, seed, max_cells)
    if _LAST and _LAST[0][0] == key:
        yield from _LAST[0][1]
        return
    _LAST.clear()
    kept: list[NDArray[np.uint16]] = []
    small = n <= 65_535  # a count never exceeds n: it fits 16 bits
    for drawn in _draw_counts(n, resamples, seed, max_cells):
        if small:
            kept.append(drawn.astype(np.uint16))
            yield kept[-1]
        else:
            yield drawn
    if small:
        _LAST.append((key, kept))


def _draw_counts(n: int, resamples: int, seed: int, max_cells: int) -> Iterator[NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, max_cells // max(n, 1)))
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(r, n))
        flat = (idx + n * np.arange(r)[:, None]).ravel()
        yield np.bincount(flat, minlength=r * n).reshape(r, n)


def weighted_values(
    stat: WeightedStat, arrays: Sequence[NDArray[Any]], resamples: int, seed: int, max_cells: int
) -> FloatArray:
    """``stat`` of every resample, as `performance.bootstrap_values` returns them."""
    n = arrays[0].shape[0]
    return np.concatenate([stat(w, *arrays) for w in resample_counts(n, resamples, seed, max_cells)])


def _float(w: NDArray[Any]) -> FloatArray:
    """Counts as float64, for BLAS matrix products."""
    return np.asarray(w, dtype=np.float64)


def _clip(p: FloatArray) -> FloatArray:
    eps = float(np.finfo(np.float64).eps)  # sklearn's log_loss clipping, as performance.clip_prob
    return np.clip(p, eps, 1 - eps)


def ece(w: NDArray[Any], y: NDArray[Any], p: FloatArray, bins: int = 10) -> FloatArray:
    """Expected calibration error with equal-width bins, per resample: sum_b |sum (y - p) in b| / n."""
    n = y.shape[0]
    b = np.minimum((p * bins).astype(np.intp), bins - 1)
    gap = np.zeros((n, bins))
    gap[np.arange(n), b] = y.astype(np.float64) - p
    out: FloatArray = np.abs(_float(w) @ gap).sum(axis=1) / n
    return out
