"""Categorical drift of many windows against one reference, from their stacked counts.

The registered categorical metrics (`psi`, `js_distance`, `hellinger`, `linf`, `chi2`) and the drift
decision's cell (`drift_decision.drift_cell`) of k windows at once: the same kernels applied to a
(windows x categories) matrix instead of k calls, giving the same numbers (tested against the
one-window functions). A binary model's label drift uses it for every window of a tick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from duckwatch.metrics.drift import DriftResult
from duckwatch.metrics.drift_decision import DEFAULT_FLOORS, DEFAULT_METHOD, DriftCell, null_threshold
from duckwatch.metrics.drift_kernels import (
    bin_counts,
    cramers_v_kernel,
    hellinger_kernel,
    js_kernel,
    linf_kernel,
    psi_kernel,
    shares,
)
from duckwatch.metrics.profile import CategoricalProfile
from duckwatch.metrics.special import chi2_sf

__all__ = ["categorical_batch"]

# metric -> (kernel of two share arrays, method text, method text of an empty window), as the
# one-window functions report them
_SHARE_METRICS = {
    "psi": (psi_kernel, "categories", "deciles"),
    "js_distance": (js_kernel, "bins", "bins"),
    "hellinger": (hellinger_kernel, "bins", "bins"),
    "linf": (linf_kernel, "categories", "categories"),
}


def _result(name: str, value: float, method: str, p_value: float | None = None) -> DriftResult:
    return DriftResult(name, value, value, value, True, p_value, method)


def _empty(name: str, method: str) -> DriftResult:
    return DriftResult(name, math.nan, math.nan, math.nan, False, None, method)


def categorical_batch(
    reference: CategoricalProfile, currents: Sequence[CategoricalProfile], quantile: float = 0.99
) -> tuple[dict[str, list[DriftResult]], list[DriftCell]]:
    """Per window: every reported categorical metric (DEFAULT_METHOD's ``report``) and its drift cell."""
    for cur in currents:
        if cur.vocabulary != reference.vocabulary:
            raise ValueError("profiles use different vocabularies; profile both against the same reference")
    r = bin_counts(reference)
    counts = np.stack([bin_counts(c) for c in currents]) if currents else np.zeros((0, r.size))
    empty = (counts.sum(axis=1) == 0) | (r.sum() == 0)
    pr, pc = shares(r), shares(counts)
    out: dict[str, list[DriftResult]] = {}
    for name, (kernel, method, if_empty) in _SHARE_METRICS.items():
        values = kernel(pr, pc)
        out[name] = [
            _empty(name, if_empty) if e else _result(name, float(v), method)
            for v, e in zip(values, empty, strict=True)
        ]
    keep = (r + counts) > 0
    v = cramers_v_kernel(np.broadcast_to(r, counts.shape), counts)
    chi: list[DriftResult] = []
    for i in range(len(currents)):
        if empty[i]:
            chi.append(_empty("chi2", "contingency"))
        elif keep[i].sum() < 2:
            chi.append(_result("chi2", 0.0, "contingency", 1.0))
        else:
            statistic = float(v[i]) ** 2 * float(r.sum() + counts[i].sum())
            chi.append(
                _result("chi2", float(v[i]), "contingency", chi2_sf(int(keep[i].sum()) - 1, statistic))
            )
    out["chi2"] = chi
    rule = DEFAULT_METHOD["categorical"]
    cells = []
    for i, cur in enumerate(currents):
        decided, tested = out[rule.decide][i], out[rule.p_value][i]
        p_value = tested.p_value if tested.p_value is not None else math.nan
        threshold = null_threshold(rule.decide, reference, cur.n, quantile) if cur.n else math.nan
        cells.append(
            DriftCell(rule.decide, decided.value, p_value, threshold, DEFAULT_FLOORS[rule.decide], decided)
        )
    return {name: out[name] for name in rule.report}, cells
