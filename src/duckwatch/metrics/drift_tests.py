"""The further tests that decide a column's drift besides its primary one (DEFAULT_METHOD's ``also``).

Numeric columns: `tail_h` (metrics/drift_tail.py), which sees tails KS under-weights. Categorical
columns: L∞, the largest single category's share change, which sees a big category moving a few
points (JS distance, the primary, weighs changes relative to each share and barely moves there).
Both carry conservative, distribution-free p-values, so they enter the window's Benjamini–Hochberg
step with the primary tests. The cells of many windows of one column are computed together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from duckwatch.metrics.drift import DriftResult, linf
from duckwatch.metrics.drift_decision import DEFAULT_FLOORS, DriftCell, null_threshold
from duckwatch.metrics.drift_kernels import Profile, bin_counts
from duckwatch.metrics.drift_tail import (
    TAIL_METHOD,
    cut_h,
    cut_shares,
    direction_of,
    linf_direction,
    linf_p_value,
    share_test_p_many,
)
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile

__all__ = ["also_cells", "tail_cells"]


def tail_cells(
    reference: NumericProfile, currents: Sequence[NumericProfile], quantile: float = 0.99
) -> list[DriftCell]:
    """`tail_h` cells of many windows against one reference, from their stacked bin counts."""
    r = bin_counts(reference)
    c = np.stack([bin_counts(p) for p in currents])
    h = cut_h(cut_shares(r), cut_shares(c))
    widest = np.argmax(np.abs(h), axis=1)
    sizes = np.array([p.n for p in currents], dtype=np.float64)
    ps = share_test_p_many(np.cumsum(r)[:-1], np.cumsum(c, axis=1)[:, :-1], sizes, reference.n)
    out = []
    for i, cur in enumerate(currents):
        if reference.n == 0 or cur.n == 0:
            nan = math.nan
            result = DriftResult("tail_h", nan, nan, nan, False, None, TAIL_METHOD)
            out.append(DriftCell("tail_h", nan, nan, nan, DEFAULT_FLOORS["tail_h"], result))
            continue
        signed = float(h[i, widest[i]])
        value = abs(signed)
        p = float(ps[i])
        result = DriftResult("tail_h", value, value, value, True, p, TAIL_METHOD)
        threshold = null_threshold("tail_h", reference, cur.n, quantile)
        out.append(
            DriftCell("tail_h", value, p, threshold, DEFAULT_FLOORS["tail_h"], result, direction_of(signed))
        )
    return out


def _linf_cell(reference: CategoricalProfile, current: CategoricalProfile, quantile: float) -> DriftCell:
    result: DriftResult = linf(reference, current)
    if reference.n == 0 or current.n == 0:
        return DriftCell("linf", result.value, math.nan, math.nan, DEFAULT_FLOORS["linf"], result)
    p = linf_p_value(reference, current)
    threshold = null_threshold("linf", reference, current.n, quantile)
    direction = linf_direction(reference, current)
    return DriftCell("linf", result.value, p, threshold, DEFAULT_FLOORS["linf"], result, direction)


def also_cells(pairs: Sequence[tuple[Profile, Profile]], quantile: float = 0.99) -> list[DriftCell]:
    """One further cell per (reference, window) pair: `tail_h` for numeric pairs, L∞ for categorical."""
    out: list[DriftCell | None] = [None] * len(pairs)
    groups: dict[int, list[int]] = {}
    for i, (ref, cur) in enumerate(pairs):
        if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
            groups.setdefault(id(ref), []).append(i)
        elif isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
            out[i] = _linf_cell(ref, cur, quantile)
    for idx in groups.values():
        ref = pairs[idx[0]][0]
        assert isinstance(ref, NumericProfile)
        currents = [pairs[i][1] for i in idx]
        for i, cell in zip(idx, tail_cells(ref, currents, quantile), strict=True):  # type: ignore[arg-type]
            out[i] = cell
    return [c for c in out if c is not None]
