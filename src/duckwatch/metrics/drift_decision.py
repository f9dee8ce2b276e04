"""Drift decisions: no-drift thresholds sized to the window, effect-size floors, FDR across a tick."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from duckwatch.metrics.drift_kernels import (
    FloatArray,
    Profile,
    bin_counts,
    cramers_v_kernel,
    decile_groups,
    hellinger_kernel,
    js_kernel,
    ks_kernel,
    linf_kernel,
    psi_kernel,
    regroup,
    shares,
)
from duckwatch.metrics.drift_tail import ks_direction, linf_direction, tail_h_kernel
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import get

if TYPE_CHECKING:
    from duckwatch.metrics.drift import DriftResult

__all__ = [
    "DEFAULT_FLOORS",
    "DEFAULT_METHOD",
    "DriftCell",
    "DriftMethod",
    "benjamini_hochberg",
    "decide",
    "direction_of",
    "drain_new_null_thresholds",
    "drift_cell",
    "null_threshold",
    "seed_null_thresholds",
    "significant",
]


@dataclass(frozen=True)
class DriftMethod:
    """Which metric decides drift for a column kind, which supplies its p-value, which further tests
    decide a table column with it (`also`, metrics/drift_tests.py), and which are only reported."""

    decide: str
    p_value: str
    report: tuple[str, ...]
    also: tuple[str, ...] = ()


# KS is distribution-free and has a rigorous bound from bins; `tail_h` sees the tails KS under-weights
# (a small share of rows moving far out). W1 says "how far" in sd units. For categories the chi-square
# test supplies the p-value and JS distance is the effect size (Cramér's V depends on the
# current/reference size ratio, so it cannot carry a fixed floor); L∞ sees one big category moving a
# few points, which JS (relative to each share) barely registers. Label drift and per-segment output
# drift decide on the primary test alone.
DEFAULT_METHOD: dict[str, DriftMethod] = {
    "numeric": DriftMethod("ks", "ks", ("wasserstein_norm", "psi", "js_distance"), ("tail_h",)),
    "categorical": DriftMethod("js_distance", "chi2", ("chi2", "psi", "linf", "hellinger"), ("linf",)),
}

# Minimum effect sizes that matter whatever the window size; without them a 1M-row window flags
# differences nobody would act on. They are set from the smallest drifts the product promises to
# catch in one 5,000-row window against a 50,000-row reference with recall >= 95% (tests/metrics/
# test_drift_power.py), in standard units, not from any dataset: a location shift of 0.1 sd, a scale
# change of x1.25, 2% of rows beyond the reference's range, a new category at 2%, one category +5 points.
# ks 0.035: the KS of a 0.09 sd shift of a normal feature (0.1 sd reads 0.040, and 0.036 or more in 99%
#   of 5,000-row windows); on big windows: 3.5% of rows crossed some value.
# tail_h 0.1: Cohen's h, half its "small" 0.2: a 5-point move at the median, a 1% tail growing to
#   2.2%, or 0.25% of rows beyond the reference's range (2% beyond reads 0.28; x1.25 scale ~0.19).
# js_distance 0.05: roughly a 4-point move between two mid-sized categories, or a new category at 0.5%.
# linf 0.03: one category moved 3 points of share (a +5-point move reads 0.05 +- 0.007 at 5,000 rows).
# psi 0.1: the conventional "notable change" level. wasserstein_norm 0.1: mean moved 0.1 sd.
# hellinger 0.05 tracks js_distance closely. Per model and column they can be overridden (model meta
# ``drift_floors``: calculators/drift_persistence.floors_for).
DEFAULT_FLOORS: dict[str, float] = {
    "ks": 0.035,
    "js_distance": 0.05,
    "psi": 0.1,
    "wasserstein_norm": 0.1,
    "hellinger": 0.05,
    "linf": 0.03,
    "chi2": 0.0,
    "tail_h": 0.1,
}

_NULL_CACHE: dict[str, float] = {}
_NULL_CACHE_MAX = 4096
# Values computed since the last drain: the job keeps them in the warehouse, so the next process (a
# daily window of the same size, with the same reference) reads them instead of resampling again.
_NEW: dict[str, float] = {}
# Part of every key: a change to the simulation (or to numpy's random streams) must not reuse values.
_SIM_VERSION = f"null-sim-1/numpy-{np.__version__}"
_REF_DRAWS: dict[tuple[bytes, int, int], tuple[FloatArray, Mapping[str, Any]]] = {}
_REF_DRAWS_MAX = 64


def _round_sig2(n: int) -> int:
    """Round to 2 significant digits, so nearby window sizes share one cached simulation."""
    if n < 100:
        return max(1, n)
    digits = len(str(n)) - 2
    step: int = 10**digits
    return int(np.round(n / step)) * step


def _null_stat(name: str, ref: Profile, r: FloatArray, c: FloatArray) -> FloatArray:
    pr, pc = shares(r), shares(c)
    if name == "ks":
        return ks_kernel(pr, pc)
    if name == "js_distance":
        return js_kernel(pr, pc)
    if name == "hellinger":
        return hellinger_kernel(pr, pc)
    if name == "linf":
        return linf_kernel(pr, pc)
    if name == "chi2":
        return cramers_v_kernel(r, c)
    if name == "psi":
        if isinstance(ref, NumericProfile):
            labels = decile_groups(bin_counts(ref))
            return psi_kernel(regroup(pr, labels), regroup(pc, labels))
        return psi_kernel(pr, pc)
    if name == "tail_h":
        return tail_h_kernel(pr, pc)
    if name == "wasserstein_norm" and isinstance(ref, NumericProfile):
        return _null_wasserstein(ref, pr, pc)
    raise KeyError(f"no null simulation for metric {name!r}; known: {sorted(DEFAULT_FLOORS)}")


def _null_wasserstein(ref: NumericProfile, pr: FloatArray, pc: FloatArray) -> FloatArray:
    # Resampled rows keep the reference's within-bin mean, so only the bin shares vary; this gives
    # the lower (sum of |∫ D| per bin) estimate, the same quantity `wasserstein_norm` reports.
    e = ref.binning.edges
    width = np.diff(e)
    cnt = ref.counts.astype(np.float64)
    mean_in_bin = np.divide(ref.sums, cnt, out=np.zeros_like(cnt), where=cnt > 0)
    depth = np.concatenate([[0.0], e[1:], [0.0]]) - mean_in_bin  # (b - mean) per finite bin
    before = np.cumsum(pc - pr, axis=-1)[..., :-2]
    inner = np.abs(before * width + (pc - pr)[..., 1:-1] * depth[1:-1]).sum(axis=-1)
    below = np.abs((pc - pr)[..., 0] * (e[0] - mean_in_bin[0]))
    above = np.abs((pc - pr)[..., -1] * (mean_in_bin[-1] - e[-1]))
    scale = ref.std if ref.std > 0 else 1.0
    return np.asarray((inner + below + above) / scale)


def null_threshold(
    metric_name: str,
    ref_profile: Profile,
    n_current: int,
    quantile: float = 0.99,
    draws: int = 400,
    seed: int = 0,
) -> float:
    """`quantile` of the metric with no drift at this window size, by multinomial resampling."""
    counts = bin_counts(ref_profile)
    n_ref = int(counts.sum())
    if n_ref == 0 or n_current <= 0:
        return float("nan")
    n_sim = _round_sig2(int(n_current))
    key = _digest(metric_name, ref_profile, counts, n_sim, quantile, draws, seed)
    cached = _NULL_CACHE.get(key)
    if cached is not None:
        return cached
    p = counts / n_ref
    # The reference draws come first from the seeded stream and do not depend on n_current: reuse
    # them (and the stream's state after them) across window sizes; results are unchanged.
    ref_key = (counts.tobytes(), draws, seed)
    rng = np.random.default_rng(seed)
    if ref_key in _REF_DRAWS:
        r, state = _REF_DRAWS[ref_key]
        rng.bit_generator.state = state
    else:
        r = rng.multinomial(n_ref, p, size=draws).astype(np.float64)
        r.flags.writeable = False
        if len(_REF_DRAWS) >= _REF_DRAWS_MAX:
            _REF_DRAWS.clear()
        _REF_DRAWS[ref_key] = (r, rng.bit_generator.state)
    c = rng.multinomial(n_sim, p, size=draws).astype(np.float64)
    value = float(np.quantile(_null_stat(metric_name, ref_profile, r, c), quantile))
    if len(_NULL_CACHE) >= _NULL_CACHE_MAX:
        _NULL_CACHE.clear()
    _NULL_CACHE[key] = value
    if len(_NEW) >= _NULL_CACHE_MAX:  # a process that never drains (an app) must not grow without end
        _NEW.clear()
    _NEW[key] = value
    return value


def _digest(
    metric_name: str, ref: Profile, counts: FloatArray, n_sim: int, quantile: float, draws: int, seed: int
) -> str:
    """A stable key for one simulation: everything its value depends on, hashed."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((_SIM_VERSION, metric_name, type(ref).__name__, n_sim, quantile, draws, seed)).encode())
    h.update(np.ascontiguousarray(counts, dtype=np.float64).tobytes())
    if metric_name == "wasserstein_norm" and isinstance(ref, NumericProfile):
        # Only Wasserstein's null depends on more than the bin counts: the reference's edges and
        # within-bin means (sums). Every other null is a function of the counts alone (PSI's deciles
        # included), so columns whose reference bins hold the same counts share one simulation.
        h.update(b"edges" + np.ascontiguousarray(ref.binning.edges, dtype=np.float64).tobytes())
        h.update(b"sums" + np.ascontiguousarray(ref.sums, dtype=np.float64).tobytes())
        h.update(repr(float(ref.std)).encode())
    return h.hexdigest()


def seed_null_thresholds(values: Mapping[str, float]) -> None:
    """Make earlier simulations' values (keyed as `drain_new_null_thresholds` returned them) known."""
    if len(_NULL_CACHE) + len(values) > _NULL_CACHE_MAX:
        _NULL_CACHE.clear()
    _NULL_CACHE.update(values)


def drain_new_null_thresholds() -> dict[str, float]:
    """Values simulated since the last call (key -> threshold), for the caller to keep."""
    out = dict(_NEW)
    _NEW.clear()
    return out


def benjamini_hochberg(pvalues: npt.ArrayLike, q: float = 0.05) -> npt.NDArray[np.bool_]:
    """Benjamini-Hochberg step-up: which hypotheses are rejected at false-discovery rate q (NaN = 1)."""
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    p = np.where(np.isnan(p), 1.0, p)
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    below = p[order] <= q * np.arange(1, m + 1) / m
    rejected = np.zeros(m, dtype=bool)
    if below.any():
        k = int(np.flatnonzero(below).max())
        rejected[order[: k + 1]] = True
    return rejected


def decide(
    values: npt.ArrayLike,
    p_values: npt.ArrayLike,
    thresholds: npt.ArrayLike,
    floors: npt.ArrayLike,
    fdr: float = 0.05,
) -> npt.NDArray[np.bool_]:
    """Flag cells that are BH-significant and whose value >= max(null threshold, floor)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    bar = np.maximum(
        np.broadcast_to(np.asarray(thresholds, dtype=np.float64), v.shape),
        np.broadcast_to(np.asarray(floors, dtype=np.float64), v.shape),
    )
    # NaN (empty window or missing threshold) compares False, so it never flags.
    big = np.greater_equal(v, bar, where=~(np.isnan(v) | np.isnan(bar)), out=np.zeros(v.shape, bool))
    return benjamini_hochberg(p_values, fdr) & big


def significant(
    values: npt.ArrayLike, p_values: npt.ArrayLike, thresholds: npt.ArrayLike, fdr: float = 0.05
) -> npt.NDArray[np.bool_]:
    """`decide` without the floors: BH-significant and beyond the no-drift value (what persistence counts)."""
    return decide(values, p_values, thresholds, np.zeros(np.asarray(values).size), fdr)


@dataclass(frozen=True)
class DriftCell:
    """Inputs to `decide` for one (column, segment): effect value, p-value, threshold, floor."""

    metric: str
    value: float
    p_value: float
    threshold: float
    floor: float
    result: DriftResult
    direction: str = ""  # which way the widest gap points ("up"/"down", or "<category> up"): persistence


def drift_cell(reference: Profile, current: Profile, quantile: float = 0.99) -> DriftCell:
    """Evaluate a column with DEFAULT_METHOD: the deciding value, its p-value and its bars."""
    kind = "numeric" if isinstance(reference, NumericProfile) else "categorical"
    method = DEFAULT_METHOD[kind]
    result: DriftResult = get(method.decide).fn(reference, current)  # type: ignore[misc]
    p_res = result if method.p_value == method.decide else get(method.p_value).fn(reference, current)  # type: ignore[misc]
    p_value = p_res.p_value if p_res.p_value is not None else float("nan")
    n_cur = current.n
    threshold = null_threshold(method.decide, reference, n_cur, quantile) if n_cur else float("nan")
    floor = DEFAULT_FLOORS[method.decide]
    return DriftCell(
        method.decide, result.value, p_value, threshold, floor, result, direction_of(reference, current)
    )


def direction_of(reference: Profile, current: Profile) -> str:
    """Which way a column's widest gap points: "up"/"down" (numeric), "<category> up/down" (categorical)."""
    if reference.n == 0 or current.n == 0:
        return ""
    if isinstance(reference, NumericProfile) and isinstance(current, NumericProfile):
        return ks_direction(reference, current)
    if isinstance(reference, CategoricalProfile) and isinstance(current, CategoricalProfile):
        return linf_direction(reference, current)
    return ""
