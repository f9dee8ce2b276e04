"""Drift metrics from profiles against scipy on raw rows, bounds, properties, thresholds and decisions."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from scipy.spatial.distance import jensenshannon

from duckwatch.metrics import drift
from duckwatch.metrics.profile import (
    CategoricalVocabulary,
    NumericBinning,
    profile_categorical,
    profile_numeric,
)

SEED = 7
B = 100
# Bound widths promised for B = 100 reference-quantile bins (measured ~0.01 and <= 0.1 sd).
KS_BOUND_WIDTH = 2.5 / B
W_BOUND_WIDTH_SD = 0.15

Pair = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]
PAIRS: dict[str, Pair] = {
    "normal_same": lambda r: (r.normal(size=50_000), r.normal(size=20_000)),
    "normal_shift_0.3sd": lambda r: (r.normal(size=50_000), r.normal(0.3, size=20_000)),
    "integers_ties": lambda r: (r.poisson(4, 50_000).astype(float), r.poisson(4.4, 20_000).astype(float)),
    "lognormal_heavy": lambda r: (r.lognormal(0, 1, 50_000), r.lognormal(0.1, 1, 20_000)),
    "pareto_heavy": lambda r: (r.pareto(1.5, 50_000), r.pareto(1.3, 20_000)),
    "unit_change_x1000": lambda r: (r.normal(10, 2, 50_000), 1000 * r.normal(10, 2, 20_000)),
    "zero_inflated": lambda r: (
        np.where(r.random(50_000) < 0.4, 0.0, r.exponential(size=50_000)),
        np.where(r.random(20_000) < 0.5, 0.0, r.exponential(size=20_000)),
    ),
}


def profiles(ref: np.ndarray, cur: np.ndarray) -> tuple[drift.NumericProfile, drift.NumericProfile]:
    binning = NumericBinning.from_reference(ref, bins=B)
    return profile_numeric(ref, binning), profile_numeric(cur, binning)


def rel_tol(x: float) -> float:
    return 1e-9 * max(1.0, abs(x)) + 1e-12


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_ks_and_wasserstein_bounds_contain_scipy(name: str) -> None:
    ref, cur = PAIRS[name](np.random.default_rng(SEED))
    pr, pc = profiles(ref, cur)
    res = drift.ks(pr, pc)
    exact = stats.ks_2samp(ref, cur).statistic
    assert res.lower - rel_tol(exact) <= exact <= res.upper + rel_tol(exact)
    assert res.value == res.lower
    assert res.upper - res.lower <= KS_BOUND_WIDTH
    w = drift.wasserstein_norm(pr, pc)
    w_exact = stats.wasserstein_distance(ref, cur) / ref.std()
    assert w.lower - rel_tol(w_exact) <= w_exact <= w.upper + rel_tol(w_exact)
    assert w.upper - w.lower <= W_BOUND_WIDTH_SD


def test_ties_and_unit_change_are_exact_or_nearly() -> None:
    ref, cur = PAIRS["integers_ties"](np.random.default_rng(SEED))
    res = drift.ks(*profiles(ref, cur))
    assert res.exact  # every bin is an atom at its left edge, so the binned ECDF is the ECDF
    assert res.value == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    ref, cur = PAIRS["unit_change_x1000"](np.random.default_rng(SEED))
    w = drift.wasserstein_norm(*profiles(ref, cur))
    assert (w.upper - w.lower) / w.lower < 1e-3  # the open tail is exact from the stored sums


def test_ks_p_value_is_conservative_asymptotic() -> None:
    ref, cur = PAIRS["lognormal_heavy"](np.random.default_rng(SEED))
    pr, pc = profiles(ref, cur[:2_000])
    res = drift.ks(pr, pc)
    n_eff = round(pr.n * pc.n / (pr.n + pc.n))
    assert res.p_value == pytest.approx(stats.kstwo.sf(res.lower, n_eff))
    assert res.p_value is not None
    assert res.p_value >= stats.ks_2samp(ref, cur[:2_000], method="asymp").pvalue * (1 - 1e-6)


@pytest.mark.parametrize("name", ["normal_shift_0.3sd", "pareto_heavy", "zero_inflated"])
def test_js_hellinger_psi_match_hand_computation(name: str) -> None:
    ref, cur = PAIRS[name](np.random.default_rng(SEED))
    pr, pc = profiles(ref, cur)
    p, q = pr.counts / pr.n, pc.counts / pc.n
    assert drift.js_distance(pr, pc).value == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert drift.hellinger(pr, pc).value == pytest.approx(np.sqrt(1 - np.sqrt(p * q).sum()), abs=1e-7)
    # PSI by hand: groups of ~10% reference mass, tails alone, empty shares -> 1e-4.
    cum = np.cumsum(pr.counts[1:-1]) - pr.counts[1:-1] / 2
    group = np.concatenate([[0], np.minimum((cum / pr.n * 10).astype(int), 9) + 1, [11]])
    gp = np.maximum(np.bincount(group, weights=p, minlength=12), 1e-4)
    gq = np.maximum(np.bincount(group, weights=q, minlength=12), 1e-4)
    assert drift.psi(pr, pc).value == pytest.approx(((gq - gp) * np.log(gq / gp)).sum(), rel=1e-12)


def test_psi_on_continuous_data_equals_decile_psi() -> None:
    ref, cur = PAIRS["normal_shift_0.3sd"](np.random.default_rng(SEED))
    deciles = np.quantile(ref, np.linspace(0, 1, 11), method="inverted_cdf")

    def share(x: np.ndarray) -> np.ndarray:
        inner = np.histogram(x, bins=deciles)[0]
        return np.maximum(
            np.concatenate([[np.sum(x < deciles[0])], inner, [np.sum(x > deciles[-1])]]) / x.size, 1e-4
        )

    gp, gq = share(ref), share(cur)
    assert drift.psi(*profiles(ref, cur)).value == pytest.approx(
        ((gq - gp) * np.log(gq / gp)).sum(), abs=2e-3
    )


CATS = np.array(["a", "b", "c", "d", "e", "rare"], dtype=object)


def cat_profiles(seed: int = SEED) -> tuple[drift.CategoricalProfile, drift.CategoricalProfile]:
    rng = np.random.default_rng(seed)
    ref = rng.choice(CATS, size=30_000, p=[0.3, 0.25, 0.2, 0.15, 0.0999, 0.0001])
    cur = np.concatenate(
        [rng.choice(CATS[:5], size=5_000, p=[0.2, 0.35, 0.2, 0.15, 0.1]), ["brand_new"] * 20]
    )
    vocab = CategoricalVocabulary.from_reference(ref)
    return profile_categorical(ref, vocab), profile_categorical(cur, vocab)


def test_categorical_metrics_match_scipy_and_hand() -> None:
    pr, pc = cat_profiles()
    r, c = pr.category_counts().astype(float), pc.category_counts().astype(float)
    keep = (r + c) > 0
    expected = stats.chi2_contingency(np.vstack([r[keep], c[keep]]), correction=False)
    res = drift.chi2(pr, pc)
    assert res.value == pytest.approx(np.sqrt(expected.statistic / (r.sum() + c.sum())))
    assert res.p_value == pytest.approx(expected.pvalue)
    p, q = r / r.sum(), c / c.sum()
    assert drift.js_distance(pr, pc).value == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert drift.linf(pr, pc).value == pytest.approx(np.abs(p - q).max())
    assert drift.hellinger(pr, pc).value == pytest.approx(np.sqrt(1 - np.sqrt(p * q).sum()), abs=1e-7)
    pe, qe = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert drift.psi(pr, pc).value == pytest.approx(((qe - pe) * np.log(qe / pe)).sum())
    # vectorised Cramér's V used by the null simulation agrees with scipy too
    assert float(drift.cramers_v_kernel(r, c)) == pytest.approx(res.value)


values = hnp.arrays(
    np.float64, st.integers(1, 400), elements=st.floats(-1e4, 1e4) | st.sampled_from([0.0, 1.0])
)
HBIN = NumericBinning.from_reference(np.random.default_rng(3).normal(0, 100, 4_000))
NUMERIC_METRICS = [drift.ks, drift.wasserstein_norm, drift.psi, drift.js_distance, drift.hellinger]


@settings(max_examples=50, deadline=None)
@given(x=values, seed=st.integers(0, 2**32 - 1))
def test_distance_to_self_is_zero_and_order_free(x: np.ndarray, seed: int) -> None:
    p = profile_numeric(x, HBIN)
    shuffled = profile_numeric(np.random.default_rng(seed).permutation(x), HBIN)
    for fn in NUMERIC_METRICS:
        same = fn(p, p)
        assert same.lower <= 1e-9 <= same.upper + 1e-9  # the bound contains 0
        assert same.value == pytest.approx(0.0, abs=1e-9)
        assert fn(p, shuffled).value == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(x=values, y=values)
def test_ks_bound_contains_scipy_on_arbitrary_data(x: np.ndarray, y: np.ndarray) -> None:
    res = drift.ks(profile_numeric(x, HBIN), profile_numeric(y, HBIN))
    with warnings.catch_warnings():
        # scipy's own asymptotic p-value divides by zero when D == 0; only its statistic is used.
        warnings.simplefilter("ignore", RuntimeWarning)
        exact = stats.ks_2samp(x, y, method="asymp").statistic
    assert res.lower - 1e-9 <= exact <= res.upper + 1e-9


def test_empty_current_gives_nan_not_warning() -> None:
    ref = profile_numeric(np.arange(100.0), HBIN)
    empty = profile_numeric(np.array([]), HBIN)
    assert np.isnan(drift.ks(ref, empty).value) and np.isnan(drift.js_distance(ref, empty).value)


def test_null_threshold_shrinks_with_window_size_and_is_cached() -> None:
    rng = np.random.default_rng(SEED)
    ref = rng.normal(size=200_000)
    pr = profile_numeric(ref, NumericBinning.from_reference(ref))
    small = drift.null_threshold("ks", pr, 1_000)
    big = drift.null_threshold("ks", pr, 100_000)
    assert 0.03 < small < 0.07  # asymptotic 99% KS critical value at n_eff ~ 995 is ~0.052
    assert big < small / 3
    assert drift.null_threshold("ks", pr, 1_004) == small  # 1,004 rounds to 1,000: cached result
    for name in ("psi", "js_distance", "hellinger", "wasserstein_norm"):
        assert 0 < drift.null_threshold(name, pr, 1_000) < 1
    pc, _ = cat_profiles()
    assert 0 < drift.null_threshold("chi2", pc, 1_000) < drift.null_threshold("linf", pc, 100)


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.random.default_rng(SEED).uniform(size=50) ** 3
    p[3] = np.nan
    expected = stats.false_discovery_control(np.where(np.isnan(p), 1.0, p)) <= 0.05
    np.testing.assert_array_equal(drift.benjamini_hochberg(p, 0.05), expected)
    assert drift.benjamini_hochberg([], 0.05).size == 0


def test_decide_needs_significance_and_effect() -> None:
    flags = drift.decide(
        values=[0.2, 0.2, 0.01, np.nan],
        p_values=[1e-9, 0.5, 1e-9, 1e-9],
        thresholds=[0.05, 0.05, 0.005, 0.05],
        floors=0.05,
    )
    np.testing.assert_array_equal(flags, [True, False, False, False])


def test_default_method_and_floors_cover_kinds() -> None:
    assert set(drift.DEFAULT_METHOD) == {"numeric", "categorical"}
    for method in drift.DEFAULT_METHOD.values():
        assert method.decide in drift.DEFAULT_FLOORS


def test_tail_h_sees_rows_beyond_the_reference_maximum() -> None:
    ref_values = np.arange(1000, dtype=np.float64)
    binning = NumericBinning.from_reference(ref_values)
    ref = profile_numeric(ref_values, binning)
    cur = profile_numeric(np.concatenate([ref_values, np.full(20, 5000.0)]), binning)
    res = drift.tail_h(ref, cur)
    # Hand calculation: the widest gap on Cohen's h scale is at the top cut (the reference's maximum),
    # where the window has 1000/1020 of its rows at or below it and the reference all of them.
    expected = np.pi - 2 * np.arcsin(np.sqrt(1000 / 1020))
    assert res.value == pytest.approx(expected, rel=1e-12) and res.exact
    assert drift.ks(ref, cur).value == pytest.approx(20 / 1020, abs=1e-12)  # KS: under 2%
    # The p-value bounds the exact one: Bonferroni over the cuts of the exact hypergeometric tail.
    n, m = ref.n, cur.n
    exact = stats.hypergeom.sf(19, n + m, 20, m)  # all 20 rows above the maximum come from the window
    cuts = binning.edges.size
    assert exact <= res.p_value <= 2 * cuts * exact * 1.1 < 1e-3  # tight up to the two sides and cuts


def test_tail_h_p_value_is_conservative_with_no_drift() -> None:
    rng = np.random.default_rng(3)
    binning = NumericBinning.from_reference(rng.normal(size=20_000))
    ref = profile_numeric(rng.normal(size=20_000), binning)
    p = [drift.tail_h(ref, profile_numeric(rng.normal(size=2_000), binning)).p_value for _ in range(300)]
    assert np.mean(np.asarray(p) <= 0.05) <= 0.05
