"""Bootstrap resamples as row counts: the classification metrics' intervals without re-sorting.

A resample drawn with replacement is the original rows, each taken ``c_i`` times. Every built-in
classification statistic is a sum over rows (or, for average precision, a running sum in score
order), so a whole block of resamples is one matrix of counts times a few vectors: average
precision needs no sort per resample (one sort of the rows, shared), and nothing is gathered. The
counts come from exactly the indices `performance._bootstrap_values` draws (same seed, same chunks),
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
    """Blocks of (resamples x n) integer row counts; the draws of `performance._bootstrap_values` exactly.

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
    """``stat`` of every resample, as `performance._bootstrap_values` returns them."""
    n = arrays[0].shape[0]
    return np.concatenate([stat(w, *arrays) for w in resample_counts(n, resamples, seed, max_cells)])


def _float(w: NDArray[Any]) -> FloatArray:
    """Counts as float64, for BLAS matrix products."""
    return np.asarray(w, dtype=np.float64)


def _clip(p: FloatArray) -> FloatArray:
    eps = float(np.finfo(np.float64).eps)  # sklearn's log_loss clipping, as performance._clip_prob
    return np.clip(p, eps, 1 - eps)


def brier(w: NDArray[Any], y: NDArray[Any], p: FloatArray) -> FloatArray:
    """Mean squared error of the probabilities, per resample."""
    out: FloatArray = _float(w) @ ((p - y.astype(np.float64)) ** 2) / y.shape[0]
    return out


def log_loss(w: NDArray[Any], y: NDArray[Any], p: FloatArray) -> FloatArray:
    """Mean log loss (sklearn's clipping), per resample."""
    yf = y.astype(np.float64)
    loss = yf * np.log(_clip(p)) + (1 - yf) * np.log(_clip(1 - p))
    out: FloatArray = -(_float(w) @ loss) / y.shape[0]
    return out


def ece(w: NDArray[Any], y: NDArray[Any], p: FloatArray, bins: int = 10) -> FloatArray:
    """Expected calibration error with equal-width bins, per resample: sum_b |sum (y - p) in b| / n."""
    n = y.shape[0]
    b = np.minimum((p * bins).astype(np.intp), bins - 1)
    gap = np.zeros((n, bins))
    gap[np.arange(n), b] = y.astype(np.float64) - p
    out: FloatArray = np.abs(_float(w) @ gap).sum(axis=1) / n
    return out


def f1(w: NDArray[Any], y: NDArray[Any], pred: NDArray[Any]) -> FloatArray:
    """F1 per resample (NaN where it is undefined)."""
    yb, pb = y.astype(bool), pred.astype(bool)
    wf = _float(w)
    tp = wf @ (yb & pb).astype(np.float64)
    denom = 2 * tp + wf @ (yb ^ pb).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(denom > 0, 2 * tp / denom, np.nan)
    return out


def average_precision(w: NDArray[Any], y: NDArray[Any], s: FloatArray) -> FloatArray:
    """Average precision (sklearn's step-wise definition, tied scores one threshold) per resample.

    Rows are put in descending score order once; a resample's running true positives and rows are
    then cumulative sums of its counts, read at the end of each group of equal scores.
    """
    order = np.argsort(-s)  # any order within ties: they are read as one group
    return average_precision_sorted(w[:, order], y[order], s[order])


def average_precision_sorted(w: NDArray[Any], ys: NDArray[Any], ss: FloatArray) -> FloatArray:
    """`average_precision` of rows already in descending score order (``w``'s columns in that order
    too); the order within a group of equal scores does not matter.

    Only positive rows add to the sum, each with the precision at the end of its group of equal
    scores: the rows seen are one running sum of the counts read at those ends, the true positives
    a running sum over the positive columns alone. Integer counts (the kept 16-bit draws) are summed
    as integers, a quarter of the memory traffic of float64 counts, and exactly.
    """
    pos = np.flatnonzero(np.asarray(ys).astype(bool))
    if pos.size == 0:
        return np.full(w.shape[0], np.nan)
    width = ss.size
    is_end = np.ones(width, dtype=bool)
    is_end[:-1] = ss[:-1] != ss[1:]
    ends = np.minimum.accumulate(np.where(is_end, np.arange(width), width - 1)[::-1])[::-1]
    pos_end = ends[pos]  # non-decreasing: the end of each positive row's group
    last = np.ones(pos.size, dtype=bool)
    last[:-1] = pos_end[:-1] != pos_end[1:]  # the last positive of each group holding positives
    acc: type[np.generic] = np.float64
    if w.dtype.kind in "iu":  # a resample's counts sum to its row count: 16-bit counts fit 32 bits
        acc = np.int32 if w.dtype.itemsize <= 2 else np.int64
    seen = np.cumsum(w, axis=1, dtype=acc)[:, pos_end[last]]
    tps = np.cumsum(w[:, pos], axis=1, dtype=acc)[:, np.flatnonzero(last)]
    hits = np.diff(tps, axis=1, prepend=0)
    total = tps[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.nansum(hits * (tps / seen), axis=1) / total
    out: FloatArray = np.where(total > 0, ap, np.nan)
    return out
