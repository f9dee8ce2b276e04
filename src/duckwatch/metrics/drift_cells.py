"""`drift_cell` for every (column, window) pair of a tick at once: the numeric columns' KS p-values in
one array call (metrics/kstwo_many.py) instead of one scalar call each.

The values are `drift_cell`'s, bitwise: the same bounds, the same p-value function element by element,
the same null thresholds. Categorical pairs, and numeric ones when a plugin replaced the built-in KS,
take `drift_cell` itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from duckwatch.metrics.drift import (
    DEFAULT_FLOORS,
    DEFAULT_METHOD,
    DriftCell,
    drift_cell,
    ks,
    ks_bounds,
    ks_result,
)
from duckwatch.metrics.drift_decision import direction_of, null_threshold
from duckwatch.metrics.drift_kernels import Profile
from duckwatch.metrics.kstwo_many import kstwo_sf_bounded_many
from duckwatch.metrics.profile import NumericProfile
from duckwatch.metrics.registry import get

__all__ = ["drift_cells", "screen_p_values"]


def drift_cells(pairs: Sequence[tuple[Profile, Profile]], quantile: float = 0.99) -> list[DriftCell]:
    """``[drift_cell(ref, cur, quantile) for ref, cur in pairs]``, with the KS p-values computed together."""
    method = DEFAULT_METHOD["numeric"]
    builtin = method.decide == method.p_value == "ks" and get("ks").fn is ks
    out: list[DriftCell | None] = [None] * len(pairs)
    todo: list[int] = []
    bounds: list[tuple[float, float]] = []
    sizes: list[int] = []
    for i, (ref, cur) in enumerate(pairs):
        if not (
            builtin
            and isinstance(ref, NumericProfile)
            and isinstance(cur, NumericProfile)
            and ref.n > 0
            and cur.n > 0
            and ref.binning == cur.binning
        ):
            out[i] = drift_cell(ref, cur, quantile)
            continue
        todo.append(i)
        bounds.append(ks_bounds(ref, cur))
        sizes.append(max(1, round(ref.n * cur.n / (ref.n + cur.n))))
    lower = np.array([b[0] for b in bounds], dtype=np.float64)
    p = np.ones(len(todo))
    positive = lower > 0
    p[positive] = kstwo_sf_bounded_many(lower[positive], np.array(sizes, dtype=np.int64)[positive])
    for j, i in enumerate(todo):
        ref, cur = pairs[i]
        result = ks_result(bounds[j][0], bounds[j][1], float(p[j]))
        threshold = null_threshold("ks", ref, cur.n, quantile)
        direction = direction_of(ref, cur)
        out[i] = DriftCell(
            "ks", result.value, float(p[j]), threshold, DEFAULT_FLOORS["ks"], result, direction
        )
    return [c for c in out if c is not None]


def screen_p_values(cells: Sequence[DriftCell], sizes: Sequence[tuple[int, int]]) -> list[float]:
    """The p-value at each KS cell's upper bound (`drift_exact.ambiguous`'s screen), in one array call;
    NaN for the cells the screen does not evaluate (not KS, or bounds that meet)."""
    wide = [i for i, c in enumerate(cells) if c.metric == "ks" and c.result.upper > c.result.lower]
    out = [float("nan")] * len(cells)
    x = np.array([cells[i].result.upper for i in wide], dtype=np.float64)
    n = np.array(
        [
            max(1, round(sizes[i][0] * sizes[i][1] / (sizes[i][0] + sizes[i][1]))) if min(sizes[i]) > 0 else 0
            for i in wide
        ],
        dtype=np.int64,
    )
    ok = (x > 0) & (n > 0)
    p = np.ones(len(wide))
    p[ok] = kstwo_sf_bounded_many(x[ok], n[ok])
    for j, i in enumerate(wide):
        out[i] = float(p[j])
    return out
