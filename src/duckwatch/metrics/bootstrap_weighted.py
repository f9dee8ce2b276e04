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


def resample_counts(n: int, resamples: int, seed: int, max_cells: int) -> Iterator[FloatArray]:
    """Blocks of (resamples x n) row counts; the draws of `performance._bootstrap_values` exactly.

    The statistics of one window all resample with the same seed: the last counts drawn are kept
    (as small integers, 8 MB for 200 x 20k) and served again instead of drawn five times."""
    key = (n, resamples, seed, max_cells)
    if _LAST and _LAST[0][0] == key:
        for block in _LAST[0][1]:
            yield block.astype(np.float64)
        return
    _LAST.clear()
    kept: list[NDArray[np.uint16]] = []
    small = n <= 65_535  # a count never exceeds n: it fits 16 bits
    for drawn in _draw_counts(n, resamples, seed, max_cells):
        if small:
            kept.append(drawn.astype(np.uint16))
        yield drawn.astype(np.float64)
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


def _clip(p: FloatArray) -> FloatArray:
    eps = float(np.finfo(np.float64).eps)  # sklearn's log_loss clipping, as performance._clip_prob
    return np.clip(p, eps, 1 - eps)


def brier(w: FloatArray, y: NDArray[Any], p: FloatArray) -> FloatArray:
    """Mean squared error of the probabilities, per resample."""
    out: FloatArray = w @ ((p - y.astype(np.float64)) ** 2) / y.shape[0]
    return out


def log_loss(w: FloatArray, y: NDArray[Any], p: FloatArray) -> FloatArray:
    """Mean log loss (sklearn's clipping), per resample."""
    yf = y.astype(np.float64)
    loss = yf * np.log(_clip(p)) + (1 - yf) * np.log(_clip(1 - p))
    out: FloatArray = -(w @ loss) / y.shape[0]
    return out


def ece(w: FloatArray, y: NDArray[Any], p: FloatArray, bins: int = 10) -> FloatArray:
    """Expected calibration error with equal-width bins, per resample: sum_b |sum (y - p) in b| / n."""
    n = y.shape[0]
    b = np.minimum((p * bins).astype(np.intp), bins - 1)
    gap = np.zeros((n, bins))
    gap[np.arange(n), b] = y.astype(np.float64) - p
    out: FloatArray = np.abs(w @ gap).sum(axis=1) / n
    return out


def f1(w: FloatArray, y: NDArray[Any], pred: NDArray[Any]) -> FloatArray:
    """F1 per resample (NaN where it is undefined)."""
    yb, pb = y.astype(bool), pred.astype(bool)
    tp = w @ (yb & pb).astype(np.float64)
    denom = 2 * tp + w @ (yb ^ pb).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(denom > 0, 2 * tp / denom, np.nan)
    return out


def average_precision(w: FloatArray, y: NDArray[Any], s: FloatArray) -> FloatArray:
    """Average precision (sklearn's step-wise definition, tied scores one threshold) per resample.

    Rows are put in descending score order once; a resample's running true positives and rows are
    then cumulative sums of its counts, read at the end of each group of equal scores.
    """
    order = np.argsort(-s)  # any order within ties: they are read as one group
    return average_precision_sorted(w[:, order], y[order], s[order])


def average_precision_sorted(w: FloatArray, ys: NDArray[Any], ss: FloatArray) -> FloatArray:
    """`average_precision` of rows already in descending score order (``w``'s columns in that order
    too); the order within a group of equal scores does not matter.

    Only positive rows add to the sum, each with the precision at the end of its group of equal
    scores, so the work is on those groups: one pass over the counts for the rows seen up to each
    group's end, and the positive columns alone for the true positives (a third of the matrix at a
    30% prevalence) instead of two full running sums, a gather and a product over every row.
    """
    pos = np.flatnonzero(np.asarray(ys).astype(bool))
    if pos.size == 0:
        return np.full(w.shape[0], np.nan)
    width = ss.size
    is_end = np.ones(width, dtype=bool)
    is_end[:-1] = ss[:-1] != ss[1:]
    ends = np.minimum.accumulate(np.where(is_end, np.arange(width), width - 1)[::-1])[::-1]
    pos_end = ends[pos]  # non-decreasing: the end of each positive row's group
    first = np.ones(pos.size, dtype=bool)
    first[1:] = pos_end[1:] != pos_end[:-1]
    group_first = np.flatnonzero(first)  # first positive of each group holding positives
    group_end = pos_end[group_first]
    starts = np.concatenate(([0], group_end[:-1] + 1))
    seen = np.cumsum(np.add.reduceat(w[:, : group_end[-1] + 1], starts, axis=1), axis=1)
    hits = np.add.reduceat(w[:, pos], group_first, axis=1)  # positive counts per group
    tps = np.cumsum(hits, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.nansum(hits * (tps / seen), axis=1) / tps[:, -1]
    out: FloatArray = np.where(tps[:, -1] > 0, ap, np.nan)
    return out
