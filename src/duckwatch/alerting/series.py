"""One series' windows judged against its threshold at once: statuses, bounds and persistence.

The column-wise twin of `thresholds.evaluate` and `thresholds.persistent` (alerting/decide.py runs it
per series). Status and absolute thresholds judge each window alone, so numpy judges them all together;
relative and sigma thresholds walk the windows in order (`thresholds.evaluate_series`), because only
normal windows form the baseline of the next one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from duckwatch.alerting import thresholds as th
from duckwatch.store.alerting import Threshold

__all__ = ["Judged", "judge", "persistence"]

TOO_FEW = "too few rows in the window to judge"
NO_VALUE = "no value"
_RANK = {"warning": 1, "critical": 2}  # any other status ranks as "ok" (thresholds._evaluate)


@dataclass(frozen=True)
class Judged:
    """Per window: status, bound and baseline (NaN where None, told apart by ``has_*``), note."""

    status: np.ndarray  # object (str)
    bound: np.ndarray  # float64
    has_bound: np.ndarray  # bool
    baseline: np.ndarray  # float64
    has_baseline: np.ndarray  # bool
    note: np.ndarray  # object (str)


def judge(
    t: Threshold,
    value: np.ndarray,
    size: np.ndarray,
    row_status: np.ndarray,
    row_threshold: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> Judged:
    """Judge consecutive windows of one series, oldest first; numbers are float64 with NaN for None."""
    if t.kind not in ("status", "absolute"):  # relative, sigma (and any other kind: judged like relative)
        return _walk(t, value, size, row_status, row_threshold, lower, upper)
    count = len(value)
    nothing = np.zeros(count, dtype=bool)
    note = np.full(count, "", dtype=object)
    if t.kind == "status" and t.warning is None and t.critical is None:
        known = (row_status == "warning") | (row_status == "critical") | (row_status == "ok")
        status = row_status.copy()
        status[~known] = "ok"
        bound, has_bound = row_threshold.copy(), ~np.isnan(row_threshold)
    elif t.kind == "status":
        # An explicit bound on a statistically judged metric: the worse of the two decisions wins
        # (the row's own on a tie, as max() keeps the first of equals).
        own, own_bound, own_has = _absolute(t, value)
        worse = _rank(row_status) >= _rank(own)
        status = np.where(worse, row_status, own).astype(object)
        mine = own == status
        bound = np.where(mine, own_bound, row_threshold)
        has_bound = np.where(mine, own_has, ~np.isnan(row_threshold))
    else:
        status, bound, has_bound = _absolute(t, value)
        note[status == "insufficient"] = NO_VALUE
    too_few = row_status == "insufficient"
    status[too_few] = "insufficient"
    has_bound = has_bound & ~too_few
    note[too_few] = TOO_FEW
    return Judged(
        status, np.where(has_bound, bound, np.nan), has_bound, np.full(count, np.nan), nothing, note
    )


def _rank(status: np.ndarray) -> np.ndarray:
    out = np.zeros(len(status), dtype=np.int8)
    for name, rank in _RANK.items():
        out[status == name] = rank
    return out


def _absolute(t: Threshold, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status and bound of an absolute threshold (center 0, scale 1); windows without a finite value are
    'insufficient' without a bound."""
    status = np.full(len(value), "ok", dtype=object)
    # Warning first, then critical over it: the same as checking critical first and stopping there.
    for name, level in (("warning", t.warning), ("critical", t.critical)):
        if level is None:
            continue
        limit = level * 1.0
        if t.direction == "above":
            crosses = value > 0.0 + limit
        elif t.direction == "below":
            crosses = value < 0.0 + limit
        else:
            crosses = np.abs(value - 0.0) > abs(limit)
        status[crosses] = name
    bounds = {s: th._bound(t, 0.0, 1.0, s) for s in ("ok", "warning", "critical")}
    bound = np.full(len(value), np.nan)
    has_bound = np.zeros(len(value), dtype=bool)
    for name, b in bounds.items():
        if b is not None:
            at = status == name
            bound[at], has_bound[at] = b, True
    missing = ~np.isfinite(value)
    status[missing] = "insufficient"
    has_bound[missing] = False
    return status, bound, has_bound


def _walk(
    t: Threshold,
    value: np.ndarray,
    size: np.ndarray,
    row_status: np.ndarray,
    row_threshold: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> Judged:
    intervals = list(zip(_optional(lower), _optional(upper), strict=True))
    evs = th.evaluate_series(
        t, _optional(value), _optional(size), row_status.tolist(), _optional(row_threshold), intervals
    )
    bound = [ev.bound for ev in evs]
    baseline = [ev.baseline for ev in evs]
    return Judged(
        np.array([ev.status for ev in evs], dtype=object),
        np.array([math.nan if b is None else b for b in bound], dtype="float64"),
        np.array([b is not None for b in bound], dtype=bool),
        np.array([math.nan if b is None else b for b in baseline], dtype="float64"),
        np.array([b is not None for b in baseline], dtype=bool),
        np.array([ev.note for ev in evs], dtype=object),
    )


def _optional(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]


def persistence(status: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per window: does it fire (``thresholds.persistent`` over the statuses up to it), and the index of
    the first breaching window among its last ``m`` (meaningful where it fires)."""
    breach = (status == "warning") | (status == "critical")
    seen = np.concatenate(([0], np.cumsum(breach)))  # seen[k]: breaches among the first k windows
    upto = np.arange(1, len(status) + 1)
    # statuses[-m:] of the first `upto` statuses starts here (Python slicing, m <= 0 included).
    first = np.maximum(upto - m, 0) if m > 0 else np.minimum(-m, upto)
    fires = breach & (first < upto) & (seen[upto] - seen[first] >= n)
    since = np.searchsorted(seen, seen[first] + 1, side="left") - 1
    return fires, since
