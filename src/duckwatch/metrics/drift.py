"""Drift statistics between a reference and a current profile, each with honest error bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.special import rel_entr

from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import metric

__all__ = [
    "PSI_EPSILON",
    "PSI_GROUPS",
    "DriftResult",
    "chi2",
    "hellinger",
    "js_distance",
    "ks",
    "linf",
    "psi",
    "wasserstein_norm",
]

Profile = NumericProfile | CategoricalProfile
FloatArray = npt.NDArray[np.float64]

# PSI on ~deciles of the reference: with 100 bins PSI reads ~0.1 on a 1,000-row window with no drift.
PSI_GROUPS = 10
# Share substituted for an empty group in PSI (0.01% of rows): without it one empty group makes PSI
# infinite. It caps one group's contribution at about share * ln(share / 1e-4) (~9.2 for a full shift).
PSI_EPSILON = 1e-4
# Relative tolerance for "all of a bin's rows sit on its left edge" (sum == count * edge).
_POINT_MASS_RTOL = 1e-9


@dataclass(frozen=True)
class DriftResult:
    """One drift value; the exact statistic lies in [lower, upper] (equal when `exact`)."""

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


def _counts(profile: Profile) -> FloatArray:
    if isinstance(profile, NumericProfile):
        return profile.counts.astype(np.float64)
    return profile.category_counts().astype(np.float64)


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


def shares(counts: FloatArray) -> FloatArray:
    """Normalise counts along the last axis (rows summing to 0 stay 0)."""
    total = counts.sum(axis=-1, keepdims=True)
    return np.asarray(np.divide(counts, total, out=np.zeros_like(counts), where=total > 0))


# ---- batched kernels on share arrays (last axis = bins); reused by the null-threshold simulation ----


def ks_kernel(pr: FloatArray, pc: FloatArray) -> FloatArray:
    """Max |ECDF difference| evaluated at the bin edges."""
    return np.asarray(np.abs(np.cumsum(pc - pr, axis=-1)).max(axis=-1))


def js_kernel(pr: FloatArray, pc: FloatArray) -> FloatArray:
    """Jensen-Shannon distance, base 2 (scipy.spatial.distance.jensenshannon semantics)."""
    m = 0.5 * (pr + pc)
    div = 0.5 * (rel_entr(pr, m).sum(axis=-1) + rel_entr(pc, m).sum(axis=-1)) / np.log(2.0)
    return np.asarray(np.sqrt(np.clip(div, 0.0, None)))


def hellinger_kernel(pr: FloatArray, pc: FloatArray) -> FloatArray:
    """Hellinger distance in [0, 1]: ||sqrt(p) - sqrt(q)||_2 / sqrt(2)."""
    return np.asarray(np.sqrt(((np.sqrt(pr) - np.sqrt(pc)) ** 2).sum(axis=-1) / 2.0))


def psi_kernel(pr: FloatArray, pc: FloatArray, eps: float = PSI_EPSILON) -> FloatArray:
    """Population stability index with empty shares replaced by `eps`."""
    r = np.maximum(pr, eps)
    c = np.maximum(pc, eps)
    return np.asarray(((c - r) * np.log(c / r)).sum(axis=-1))


def linf_kernel(pr: FloatArray, pc: FloatArray) -> FloatArray:
    """Largest absolute share difference of any category."""
    return np.asarray(np.abs(pc - pr).max(axis=-1))


def cramers_v_kernel(r: FloatArray, c: FloatArray) -> FloatArray:
    """Cramér's V of the 2 x k table [r; c] of counts, empty columns dropped."""
    col = r + c
    nr = r.sum(axis=-1, keepdims=True)
    nc = c.sum(axis=-1, keepdims=True)
    n = nr + nc
    with np.errstate(divide="ignore", invalid="ignore"):
        er = col * nr / n
        ec = col * nc / n
        terms = np.where(col > 0, (r - er) ** 2 / er + (c - ec) ** 2 / ec, 0.0)
    chi = terms.sum(axis=-1)
    return np.asarray(np.sqrt(chi / n[..., 0]))


def decile_groups(ref_counts: FloatArray, groups: int = PSI_GROUPS) -> npt.NDArray[np.intp]:
    """Group label per numeric bin: tails alone, finite bins merged into ~equal reference mass."""
    finite = ref_counts[1:-1]
    total = finite.sum()
    mid = (np.cumsum(finite) - finite / 2.0) / total if total > 0 else np.zeros_like(finite)
    inner = np.minimum((mid * groups).astype(np.intp), groups - 1) + 1
    return np.concatenate([[0], inner, [groups + 1]]).astype(np.intp)


def regroup(p: FloatArray, labels: npt.NDArray[np.intp]) -> FloatArray:
    """Sum shares of bins sharing a label (works on batched arrays)."""
    onehot = np.zeros((labels.size, int(labels.max()) + 1))
    onehot[np.arange(labels.size), labels] = 1.0
    return np.asarray(p @ onehot)


# ---- numeric bounds ----


def _left_atoms(profile: NumericProfile) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Share of each bin's rows exactly on its left edge (a lower bound), and whether it is exact."""
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
    p = shares(_counts(profile))
    high = np.cumsum(p)
    return high - p + _left_atoms(profile)[0], high


def _sup_per_bin(ref: NumericProfile, cur: NumericProfile) -> FloatArray:
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
    lr, cr = _ecdf_ranges(reference)
    lc, cc = _ecdf_ranges(current)
    # Attained values: at every edge's left limit, and at a left edge whose atoms both samples know.
    both_known = _left_atoms(reference)[1] & _left_atoms(current)[1]
    at_edges = np.abs(lc - lr)[both_known]
    lower = float(max(np.abs(cc - cr).max(), at_edges.max() if at_edges.size else 0.0))
    upper = max(lower, float(np.maximum(cc - lr, cr - lc).max()))
    n_eff = reference.n * current.n / (reference.n + current.n)
    # From the lower bound, so the p-value is conservative (never smaller than the exact one's).
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = float(stats.kstwo.sf(lower, max(1, round(n_eff)))) if lower > 0 else 1.0
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
    sup = _sup_per_bin(reference, current)[1:-1]
    inner_lower = np.abs(diff)
    # Three valid bounds on ∫_bin |D|; the sum-based ones stay tight in wide (heavy-tail) bins:
    # |Fc - Fr| <= (Fc - Fc(a)) + |D(a)| + (Fr - Fr(a)), and likewise from the bin's right edge.
    (c_in_r, c_out_r), (c_in_c, c_out_c) = _bin_moments(reference), _bin_moments(current)
    d_cum = np.cumsum(shares(_counts(current)) - shares(_counts(reference)))
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


def _share_pair(reference: Profile, current: Profile) -> tuple[FloatArray, FloatArray] | None:
    _check_pair(reference, current)
    r, c = _counts(reference), _counts(current)
    if r.sum() == 0 or c.sum() == 0:
        return None
    return shares(r), shares(c)


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
        labels = decile_groups(_counts(reference))
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
    r, c = _counts(reference), _counts(current)
    if r.sum() == 0 or c.sum() == 0:
        return _empty("chi2", "contingency")
    keep = (r + c) > 0
    if keep.sum() < 2:
        return _exact("chi2", 0.0, "contingency", 1.0)
    res = stats.chi2_contingency(np.vstack([r[keep], c[keep]]), correction=False)
    v = float(np.sqrt(res.statistic / (r.sum() + c.sum())))
    return _exact("chi2", v, "contingency", float(res.pvalue))


# ---- decisions: thresholds sized to the window, effect-size floors, FDR across a tick's cells ----


@dataclass(frozen=True)
class DriftMethod:
    """Which metric decides drift for a column kind, which supplies the p-value, which are reported."""

    decide: str
    p_value: str
    report: tuple[str, ...]


# KS is distribution-free and has a rigorous bound from bins; W1 says "how far" in sd units.
# For categories the chi-square test supplies the p-value, and JS distance is the effect size
# (Cramér's V depends on the current/reference size ratio, so it cannot carry a fixed floor).
DEFAULT_METHOD: dict[str, DriftMethod] = {
    "numeric": DriftMethod("ks", "ks", ("wasserstein_norm", "psi", "js_distance")),
    "categorical": DriftMethod("js_distance", "chi2", ("chi2", "psi", "linf", "hellinger")),
}

# Minimum effect sizes that matter whatever the window size; without them a 1M-row window flags
# differences nobody would act on. ks 0.05: 5% of rows crossed some value, about a 0.12 sd mean
# shift of a normal feature. js_distance 0.05: roughly a 4-point move of a 30% category.
# psi 0.1: the conventional "notable change" level. wasserstein_norm 0.1: mean moved 0.1 sd.
# hellinger 0.05 tracks js_distance closely; linf 0.03: one category moved 3 points of share.
DEFAULT_FLOORS: dict[str, float] = {
    "ks": 0.05,
    "js_distance": 0.05,
    "psi": 0.1,
    "wasserstein_norm": 0.1,
    "hellinger": 0.05,
    "linf": 0.03,
    "chi2": 0.0,
}

_NULL_CACHE: dict[tuple[object, ...], float] = {}
_NULL_CACHE_MAX = 4096


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
            labels = decile_groups(_counts(ref))
            return psi_kernel(regroup(pr, labels), regroup(pc, labels))
        return psi_kernel(pr, pc)
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
    counts = _counts(ref_profile)
    n_ref = int(counts.sum())
    if n_ref == 0 or n_current <= 0:
        return float("nan")
    n_sim = _round_sig2(int(n_current))
    key: tuple[object, ...] = (metric_name, type(ref_profile).__name__, counts.tobytes())
    key += (_extra_key(ref_profile), n_sim, quantile, draws, seed)
    cached = _NULL_CACHE.get(key)
    if cached is not None:
        return cached
    p = counts / n_ref
    rng = np.random.default_rng(seed)
    r = rng.multinomial(n_ref, p, size=draws).astype(np.float64)
    c = rng.multinomial(n_sim, p, size=draws).astype(np.float64)
    value = float(np.quantile(_null_stat(metric_name, ref_profile, r, c), quantile))
    if len(_NULL_CACHE) >= _NULL_CACHE_MAX:
        _NULL_CACHE.clear()
    _NULL_CACHE[key] = value
    return value


def _extra_key(profile: Profile) -> bytes:
    if isinstance(profile, NumericProfile):
        return profile.binning.edges.tobytes() + profile.sums.tobytes()
    return b""


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


@dataclass(frozen=True)
class DriftCell:
    """Inputs to `decide` for one (column, segment): effect value, p-value, threshold, floor."""

    metric: str
    value: float
    p_value: float
    threshold: float
    floor: float
    result: DriftResult


def drift_cell(reference: Profile, current: Profile, quantile: float = 0.99) -> DriftCell:
    """Evaluate a column with DEFAULT_METHOD: the deciding value, its p-value and its bars."""
    from duckwatch.metrics.registry import get  # registry lookups keep this generic over metrics

    kind = "numeric" if isinstance(reference, NumericProfile) else "categorical"
    method = DEFAULT_METHOD[kind]
    result: DriftResult = get(method.decide).fn(reference, current)  # type: ignore[misc]
    p_res = result if method.p_value == method.decide else get(method.p_value).fn(reference, current)  # type: ignore[misc]
    p_value = p_res.p_value if p_res.p_value is not None else float("nan")
    n_cur = current.n
    threshold = null_threshold(method.decide, reference, n_cur, quantile) if n_cur else float("nan")
    return DriftCell(method.decide, result.value, p_value, threshold, DEFAULT_FLOORS[method.decide], result)
