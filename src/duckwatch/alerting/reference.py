"""The "reference" threshold kind: each window judged against its metric's reference band.

A realised or estimated performance row carries, from the labelled reference, the metric's value
there and its standard error per row (calculators/reference_bands.py). A window of n rows is then
judged without any earlier production window: z = (value − reference) / se(n), with se(n) the spread
of (window − reference) at the window's size. Warning and critical levels are numbers of standard
errors. A drop too small to cross the line in one window is caught when it lasts: the window is judged
as well together with the one before it (their row-weighted mean, at their summed size), so a drop of
3 standard errors of one window is 4.2 standard errors of two. The worse of the two judgements wins.
The pair counts only when each window leans the bad way by itself (`PAIR_LEAN`), so a good window is
never flagged for the bad one before it. The spread is never taken below 1% of the reference value
(`FLOOR`): on a large window a real but immaterial wobble of a percent or two must not page anyone
(the warning line then sits at least 2.75% from the reference).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from duckwatch.alerting.series import TOO_FEW, Judged
from duckwatch.store.alerting import Threshold

__all__ = ["FLOOR", "Bands", "judge_reference", "parse_bands"]

FLOOR = 0.01  # smallest standard error, as a share of the reference value (materiality)
PAIR_LEAN = 1.5  # standard errors each window of a pooled pair must lean the bad way on its own
NO_BAND = "no reference band for this window"


@dataclass(frozen=True)
class Bands:
    """Per window: the reference value, the standard error of one row and the reference's n (NaN: none)."""

    center: np.ndarray
    unit_se: np.ndarray
    n_reference: np.ndarray

    def present(self) -> np.ndarray:
        """Which windows carry a usable band."""
        ok: np.ndarray = (
            np.isfinite(self.center) & np.isfinite(self.unit_se) & (self.unit_se > 0) & (self.n_reference > 0)
        )
        return ok


def _band_of(details: Any) -> tuple[float, float, float]:
    if not isinstance(details, str) or '"reference"' not in details:
        return (math.nan, math.nan, math.nan)
    try:
        ref = json.loads(details)["reference"]
        return (float(ref["center"]), float(ref["unit_se"]), float(ref["n"]))
    except (ValueError, TypeError, KeyError):
        return (math.nan, math.nan, math.nan)


def parse_bands(details: Sequence[Any]) -> Bands:
    """The bands in rows' ``details`` text (NaN where a row has none)."""
    parsed = np.array([_band_of(d) for d in details], dtype="float64").reshape(-1, 3)
    return Bands(parsed[:, 0], parsed[:, 1], parsed[:, 2])


def _scale(unit: np.ndarray, n: np.ndarray, n_ref: np.ndarray, center: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        se = unit * np.sqrt(1.0 / n + 1.0 / n_ref)
    out: np.ndarray = np.maximum(se, FLOOR * np.abs(center))
    return out


def _badness(direction: str, z: np.ndarray) -> np.ndarray:
    """How many standard errors the value sits on the bad side (negative: the good side)."""
    if direction == "above":
        return z
    if direction == "below":
        return -z
    out: np.ndarray = np.abs(z)
    return out


def judge_reference(
    t: Threshold, value: np.ndarray, size: np.ndarray, row_status: np.ndarray, bands: Bands
) -> Judged:
    """Judge consecutive windows of one series (oldest first) against their reference bands."""
    count = len(value)
    center, unit, n_ref = bands.center, bands.unit_se, bands.n_reference
    usable = bands.present() & np.isfinite(value) & np.isfinite(size) & (size > 0)
    usable &= row_status != "insufficient"
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = _scale(unit, size, n_ref, center)
        z = (value - center) / scale
        # The window with the one before it, when both are judged against the same band.
        prev = np.r_[False, usable[:-1] & usable[1:]]
        for arr in (center, unit, n_ref):
            prev &= np.r_[False, arr[1:] == arr[:-1]]
        n_prev = np.r_[np.nan, size[:-1]]
        v_prev = np.r_[np.nan, value[:-1]]
        pooled = (value * size + v_prev * n_prev) / (size + n_prev)
        scale2 = _scale(unit, size + n_prev, n_ref, center)
        z2 = np.where(prev, (pooled - center) / scale2, np.nan)
    one, two = _badness(t.direction, z), _badness(t.direction, z2)
    # Pooled only when both windows lean the bad way on their own (PAIR_LEAN standard errors each): a
    # drop that lasts, not a good window dragged over the line by a bad one before it.
    z_prev = np.r_[np.nan, z[:-1]]
    two = np.where((one >= PAIR_LEAN) & (_badness(t.direction, z_prev) >= PAIR_LEAN), two, np.nan)
    by_pair = np.nan_to_num(two, nan=-np.inf) > np.nan_to_num(one, nan=-np.inf)
    worst = np.where(by_pair, two, one)
    status = np.full(count, "ok", dtype=object)
    level_of = np.full(count, np.nan)
    for name, level in (("warning", t.warning), ("critical", t.critical)):
        if level is None:
            continue
        crosses = usable & (worst > abs(level))
        status[crosses] = name
        level_of[crosses] = abs(level)
    first = t.warning if t.warning is not None else t.critical
    level_of[np.isnan(level_of)] = abs(first) if first is not None else np.nan
    used_scale = np.where(by_pair, scale2, scale)
    sign = -1.0 if t.direction == "below" else 1.0
    if t.direction == "both":
        sign_arr = np.where((np.where(by_pair, z2, z)) < 0, -1.0, 1.0)
    else:
        sign_arr = np.full(count, sign)
    bound = center + sign_arr * level_of * used_scale
    has_bound = usable & np.isfinite(bound)
    note = np.full(count, "", dtype=object)
    for i in np.flatnonzero(usable & by_pair & (status != "ok")):
        note[i] = (
            f"with the window before: {pooled[i]:.4g} over {size[i] + n_prev[i]:g} rows, "
            f"{abs(z2[i]):.1f} standard errors from the reference {center[i]:.4g}"
        )
    for i in np.flatnonzero(usable & ~by_pair & (status != "ok")):
        note[i] = f"{abs(z[i]):.1f} standard errors from the reference {center[i]:.4g} at {size[i]:g} rows"
    too_few = row_status == "insufficient"
    status[too_few] = "insufficient"
    note[too_few] = TOO_FEW
    missing = ~usable & ~too_few
    note[missing & ~bands.present()] = NO_BAND
    status[missing & ~np.isfinite(value)] = "insufficient"
    has_base = bands.present()
    return Judged(
        status,
        np.where(has_bound, bound, np.nan),
        has_bound,
        np.where(has_base, center, np.nan),
        has_base,
        note,
    )
