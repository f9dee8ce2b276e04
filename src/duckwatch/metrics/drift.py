"""Drift statistics between a reference and a current profile, each with honest error bounds.

Decisions (null thresholds, floors, FDR) live in drift_decision and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from duckwatch.metrics._kstwo import kstwo_sf_bounded
from duckwatch.metrics.drift_decision import (
    DEFAULT_FLOORS,
    DEFAULT_METHOD,
    DriftCell,
    DriftMethod,
    benjamini_hochberg,
    decide,
    drift_cell,
    null_threshold,
)
from duckwatch.metrics.drift_kernels import (
    PSI_EPSILON,
    PSI_GROUPS,
    FloatArray,
    Profile,
    bin_counts,
    bin_shares,
    cramers_v_kernel,
    decile_groups,
    derived,
    hellinger_kernel,
    js_kernel,
    linf_kernel,
    psi_kernel,
    regroup,
)
from duckwatch.metrics.drift_tail import TAIL_METHOD, tail_h_result
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import metric
from duckwatch.metrics.special import chi2_sf

__all__ = [
    "DEFAULT_FLOORS",
    "DEFAULT_METHOD",
    "PSI_EPSILON",
    "PSI_GROUPS",
    "DriftCell",
    "DriftMethod",
    "DriftResult",
    "benjamini_hochberg",
    "chi2",
    "cramers_v_kernel",
    "decide",
    "drift_cell",
    "hellinger",
    "js_distance",
    "ks",
    "ks_bounds",
    "ks_result",
    "linf",
    "null_threshold",
    "psi",
    "tail_h",
    "wasserstein_norm",
]


# Relative tolerance for "all of a bin's rows sit on its left edge" (sum == count * edge).
_POINT_MASS_RTOL = 1e-9


@dataclass(frozen=True)
class DriftResult:
    """One drift value; the raw-data statistic lies in [lower, upper] (equal when `exact`).

    For psi, js_distance, hellinger, linf and chi2 the definition *is* the binned/categorical one, so
    they are exact; ks and wasserstein_norm are bounds on the statistic scipy computes from raw rows.
    """

    metric: str
    value: float
    lower: float
    upper: float
    exact: bool
    p_value: float | None
    method: str


def _empty(name: str, method: str) -> DriftResult:
    nan = float("nan")
    return DriftResult(name, nan, nan, nan, False, None, method)


def _exact(name: str, value: float, method: str, p_value: float | None = None) -> DriftResult:
    return DriftResult(name, value, value, value, True, p_value, method)


def _check_pair(reference: Profile, current: Profile) -> None:
    if type(reference) is not type(current):
        raise TypeError(f"cannot compare {type(reference).__name__} with {type(current).__name__}")
    if isinstance(reference, NumericProfile) and isinstance(current, NumericProfile):
        if reference.binning != current.binning:
            raise ValueError("profiles use different binnings; profile both against the same reference")
    elif (
        isinstance(reference, CategoricalProfile)
        and isinstance(current, CategoricalProfile)
        and reference.vocabulary != current.vocabulary
    ):
        raise ValueError("profiles use different vocabularies; profile both against the same reference")


# ---- numeric bounds ----


def _left_atoms(profile: NumericProfile) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Share of each bin's rows exactly on its left edge (a lower bound), and whether it is exact."""
    return derived(profile, "left_atoms", _compute_left_atoms)


def _compute_left_atoms(profile: NumericProfile) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    e = profile.binning.edges
    a, width = e[:-1], np.diff(e)
    cnt = profile.counts[1:-1].astype(np.float64)
    atoms = np.zeros(e.size + 1)
    known = np.zeros(e.size + 1, dtype=bool)
    # A special value on a left edge is an atom whose size we counted exactly.
    specials = np.asarray(profile.binning.specials, dtype=np.float64)
    if specials.size:
        pos = np.searchsorted(a, specials)
        on_edge = (pos < a.size) & (a[np.minimum(pos, a.size - 1)] == specials)
        atoms[pos[on_edge] + 1] = profile.special_counts[on_edge]
        known[pos[on_edge] + 1] = True
    # sum == count * a means every row of the bin is on its left edge (rows are >= a).
    gap = profile.sums[1:-1] - cnt * a
    flat = (cnt > 0) & (np.abs(gap) <= _POINT_MASS_RTOL * cnt * np.maximum(np.abs(a), width))
    atoms[1:-1] = np.where(flat, cnt, atoms[1:-1])
    known[1:-1] |= flat | (cnt == 0)
    return atoms / max(profile.n, 1), known


def _ecdf_ranges(profile: NumericProfile) -> tuple[FloatArray, FloatArray]:
    """Per bin [low, high] of the ECDF on the bin's open interior: F(a) after the left atom, F(b-)."""
    return derived(profile, "ecdf_ranges", _compute_ecdf_ranges)


def _compute_ecdf_ranges(profile: NumericProfile) -> tuple[FloatArray, FloatArray]:
    p = bin_shares(profile)
    high = np.cumsum(p)
    return high - p + _left_atoms(profile)[0], high


def sup_per_bin(ref: NumericProfile, cur: NumericProfile) -> FloatArray:
    """Upper bound of sup |Fc - Fr| inside each bin, from both samples' within-bin masses."""
    lr, cr = _ecdf_ranges(ref)
    lc, cc = _ecdf_ranges(cur)
    return np.asarray(np.maximum(cc - lr, cr - lc))


@metric(
    name="ks",
    display_name="Largest gap between distributions (Kolmogorov-Smirnov)",
    meaning="The largest difference in the share of rows below any value, between reference and now.",
    family="drift",
    shape="histogram_pair",
    normal_range=(0.0, 0.05),
    higher_is_worse=True,
    kinds=("numeric",),
)
def ks(reference: NumericProfile, current: NumericProfile) -> DriftResult:
    """Binned two-sample KS statistic with a rigorous upper bound and a conservative p-value."""
    _check_pair(reference, current)
    if reference.n == 0 or current.n == 0:
        return _empty("ks", "binned_ecdf")
    lower, upper = ks_bounds(reference, current)
    n_eff = reference.n * current.n / (reference.n + current.n)
    # From the lower bound, so the p-value is conservative (never smaller than the exact one's).
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = kstwo_sf_bounded(lower, max(1, round(n_eff))) if lower > 0 else 1.0
    return ks_result(lower, upper, p_value)


def ks_bounds(reference: NumericProfile, current: NumericProfile) -> tuple[float, float]:
    """The binned KS statistic's attained value (lower bound) and rigorous upper bound; both samples
    non-empty and on the same binning."""
    lr, cr = _ecdf_ranges(reference)
    lc, cc = _ecdf_ranges(current)
    # Attained values: at every edge's left limit, and at a left edge whose atoms both samples know.
    both_known = _left_atoms(reference)[1] & _left_atoms(current)[1]
    at_edges = np.abs(lc - lr)[both_known]
    lower = float(max(np.abs(cc - cr).max(), at_edges.max() if at_edges.size else 0.0))
    upper = max(lower, float(np.maximum(cc - lr, cr - lc).max()))
    return lower, upper


def ks_result(lower: float, upper: float, p_value: float) -> DriftResult:
    """`ks`'s result from its bounds and the p-value at the lower one."""
    return DriftResult("ks", lower, lower, upper, upper - lower <= 1e-12, p_value, "binned_ecdf")


def _tail_integrals(p: NumericProfile) -> tuple[float, float]:
    """Exact ∫ F below e_0 and ∫ (1 - F) above e_K, from the stored tail sums."""
    e = p.binning.edges
    below = (e[0] * p.counts[0] - p.sums[0]) / p.n
    above = (p.sums[-1] - e[-1] * p.counts[-1]) / p.n
    return max(float(below), 0.0), max(float(above), 0.0)


def _bin_integrals(p: NumericProfile) -> FloatArray:
    """Exact ∫_a^b F(x) dx per finite bin: rows below count (b-a), rows inside count (b - x)."""
    e = p.binning.edges
    width = np.diff(e)
    pr = p.counts / p.n
    before = np.cumsum(pr)[:-2]
    inside = (p.counts[1:-1] * e[1:] - p.sums[1:-1]) / p.n
    return np.asarray(before * width + inside)


def _bin_moments(p: NumericProfile) -> tuple[FloatArray, FloatArray]:
    """Per finite bin: ∫(F - F(a)) = Σ(b - x)/n and ∫(F(b-) - F) = Σ(x - a)/n, both exact."""
    e = p.binning.edges
    cnt, sm = p.counts[1:-1], p.sums[1:-1]
    to_right = np.maximum((cnt * e[1:] - sm) / p.n, 0.0)
    to_left = np.maximum((sm - cnt * e[:-1]) / p.n, 0.0)
    return np.asarray(to_right), np.asarray(to_left)


@metric(
    name="wasserstein_norm",
    display_name="How far values moved (Wasserstein, in reference std units)",
    meaning="Average distance values would have to move to match the reference, in reference standard deviations.",
    family="drift",
    shape="histogram_pair",
    normal_range=(0.0, 0.1),
    higher_is_worse=True,
    kinds=("numeric",),
)
def wasserstein_norm(reference: NumericProfile, current: NumericProfile) -> DriftResult:
    """W1 / reference std from bin sums; the exact value lies in [lower, upper]."""
    _check_pair(reference, current)
    if reference.n == 0 or current.n == 0:
        return _empty("wasserstein_norm", "binned_sums")
    diff = _bin_integrals(current) - _bin_integrals(reference)
    width = np.diff(reference.binning.edges)
    sup = sup_per_bin(reference, current)[1:-1]
    inner_lower = np.abs(diff)
    # Three valid bounds on ∫_bin |D|; the sum-based ones stay tight in wide (heavy-tail) bins:
    # |Fc - Fr| <= (Fc - Fc(a)) + |D(a)| + (Fr - Fr(a)), and likewise from the bin's right edge.
    (c_in_r, c_out_r), (c_in_c, c_out_c) = _bin_moments(reference), _bin_moments(current)
    d_cum = np.cumsum(bin_shares(current) - bin_shares(reference))
    from_left = c_in_r + c_in_c + np.abs(d_cum[:-2]) * width
    from_right = c_out_r + c_out_c + np.abs(d_cum[1:-1]) * width
    inner_upper = np.maximum(np.minimum(np.minimum(width * sup, from_left), from_right), inner_lower)
    (rb, ra), (cb, ca) = _tail_integrals(reference), _tail_integrals(current)
    lower = float(inner_lower.sum()) + abs(cb - rb) + abs(ca - ra)
    upper = float(inner_upper.sum()) + (cb + rb) + (ca + ra)
    # A constant reference has no spread to normalise by; report raw W1 then (documented in meaning).
    scale = reference.std if reference.std > 0 else 1.0
    lo, hi = lower / scale, max(upper, lower) / scale
    return DriftResult("wasserstein_norm", lo, lo, hi, hi - lo <= 1e-12 * max(1.0, hi), None, "binned_sums")


@metric(
    name="tail_h",
    display_name="Largest share change at any cut, tail-weighted (Cohen's h)",
    meaning="The biggest change in the share of rows below any reference bin edge, on a scale where a "
    "change in a tail counts by its rarity: 2% of rows beyond the reference's maximum reads 0.28.",
    family="drift",
    shape="histogram_pair",
    normal_range=(0.0, 0.1),
    higher_is_worse=True,
    kinds=("numeric",),
)
def tail_h(reference: NumericProfile, current: NumericProfile) -> DriftResult:
    """Largest Cohen's h over the reference bin edges, with a conservative p-value (metrics/drift_tail)."""
    _check_pair(reference, current)
    if reference.n == 0 or current.n == 0:
        return _empty("tail_h", TAIL_METHOD)
    value, p_value, _direction = tail_h_result(reference, current)
    return _exact("tail_h", value, TAIL_METHOD, p_value)


def _share_pair(reference: Profile, current: Profile) -> tuple[FloatArray, FloatArray] | None:
    _check_pair(reference, current)
    r, c = bin_shares(reference), bin_shares(current)
    if r.sum() == 0 or c.sum() == 0:
        return None
    return r, c


@metric(
    name="psi",
    display_name="Population stability index (PSI)",
    meaning="How much the share of rows in each reference decile (or category) changed; 0.1 is a notable change.",
    family="drift",
    shape="histogram_pair",
    normal_range=(0.0, 0.1),
    higher_is_worse=True,
    kinds=("numeric", "categorical"),
)
def psi(reference: Profile, current: Profile) -> DriftResult:
    """PSI on reference deciles (numeric, tails separate) or on categories, epsilon PSI_EPSILON."""
    pair = _share_pair(reference, current)
    if pair is None:
        return _empty("psi", "deciles")
    pr, pc = pair
    if isinstance(reference, NumericProfile):
        labels = decile_groups(bin_counts(reference))
        pr, pc = regroup(pr, labels), regroup(pc, labels)
        return _exact("psi", float(psi_kernel(pr, pc)), "deciles")
    return _exact("psi", float(psi_kernel(pr, pc)), "categories")


@metric(
    name="js_distance",
    display_name="Distribution distance (Jensen-Shannon)",
    meaning="How different the two distributions are, from 0 (identical) to 1 (no overlap).",
    family="drift",
    shape="histogram_pair",
    normal_range=(0.0, 0.05),
    higher_is_worse=True,
    kinds=("numeric", "categorical"),
)
def js_distance(reference: Profile, current: Profile) -> DriftResult:
    """Jensen-Shannon distance (base 2) over the profile's bins or categories."""
    pair = _share_pair(reference, current)
    if pair is None:
        return _empty("js_distance", "bins")
    return _exact("js_distance", float(js_kernel(*pair)), "bins")


@metric(
    name="hellinger",
    display_name="Distribution distance (Hellinger)",
    meaning="How different the two distributions are, from 0 (identical) to 1 (no overlap).",
    family="drift",
    shape="histogram_pair",
    normal_range=(0.0, 0.05),
    higher_is_worse=True,
    kinds=("numeric", "categorical"),
)
def hellinger(reference: Profile, current: Profile) -> DriftResult:
    """Hellinger distance over the profile's bins or categories."""
    pair = _share_pair(reference, current)
    if pair is None:
        return _empty("hellinger", "bins")
    return _exact("hellinger", float(hellinger_kernel(*pair)), "bins")


@metric(
    name="linf",
    display_name="Largest category share change",
    meaning="The biggest change, in share of rows, of any single category.",
    family="drift",
    shape="category_bars",
    normal_range=(0.0, 0.03),
    higher_is_worse=True,
    kinds=("categorical",),
)
def linf(reference: CategoricalProfile, current: CategoricalProfile) -> DriftResult:
    """Maximum absolute share difference over categories (vocabulary, other, unseen)."""
    pair = _share_pair(reference, current)
    if pair is None:
        return _empty("linf", "categories")
    return _exact("linf", float(linf_kernel(*pair)), "categories")


@metric(
    name="chi2",
    display_name="Category mix change (chi-square, Cramér's V)",
    meaning="Effect size of the change in category mix (Cramér's V), with the chi-square test's p-value.",
    family="drift",
    shape="category_bars",
    normal_range=(0.0, 0.05),
    higher_is_worse=True,
    kinds=("categorical",),
)
def chi2(reference: CategoricalProfile, current: CategoricalProfile) -> DriftResult:
    """Chi-square test on the 2 x k table (empty columns dropped); value is Cramér's V."""
    _check_pair(reference, current)
    r, c = bin_counts(reference), bin_counts(current)
    if r.sum() == 0 or c.sum() == 0:
        return _empty("chi2", "contingency")
    keep = (r + c) > 0
    if keep.sum() < 2:
        return _exact("chi2", 0.0, "contingency", 1.0)
    # Same statistic as scipy.stats.chi2_contingency(correction=False), without its per-call overhead.
    v = float(cramers_v_kernel(r[keep], c[keep]))
    statistic = v * v * float(r.sum() + c.sum())
    return _exact("chi2", v, "contingency", chi2_sf(int(keep.sum()) - 1, statistic))
