"""The faster paths of profiling and estimation return what the plain formulations return."""

from __future__ import annotations

import numpy as np
import pytest

from duckwatch.metrics import estimate
from duckwatch.metrics.estimate import Calibrator, estimate_binary, expected_auc, expected_auc_sorted
from duckwatch.metrics.profile import (
    MAX_AUTO_SPECIALS,
    SPECIAL_MIN_SHARE,
    NumericBinning,
    profile_numeric,
)


def _plain_binning(values: np.ndarray, bins: int = 100) -> tuple[np.ndarray, tuple[float, ...]]:
    """Edges and specials as np.quantile and np.unique give them (the formulation before the one sort)."""
    x = values[np.isfinite(values)]
    if x.size == 0:
        return np.array([0.0, 1.0]), ()
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, bins + 1), method="inverted_cdf"))
    if edges.size < 2:
        edges = np.array([edges[0], np.nextafter(edges[0], np.inf)])
    uniq, counts = np.unique(x, return_counts=True)
    frequent = np.flatnonzero(counts >= SPECIAL_MIN_SHARE * x.size)
    heaviest = frequent[np.argsort(-counts[frequent], kind="stable")][:MAX_AUTO_SPECIALS]
    return edges, tuple(sorted(float(v) for v in uniq[heaviest]))


def _samples(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [
        rng.normal(size=n),
        rng.integers(0, 5, n).astype(float),
        np.where(rng.uniform(size=n) < 0.3, -1.0, rng.exponential(size=n)),
        np.concatenate([rng.normal(size=n), [np.nan, np.inf, -np.inf, 0.0, -0.0] * 20]),
        np.full(n, 3.5),
        rng.lognormal(0, 4, n),
        np.concatenate([rng.normal(0, 1e-9, n), rng.normal(1e9, 1, n // 3)]),
        np.empty(0),
    ]


def test_reference_binning_equals_quantile_and_unique(rng: np.random.Generator) -> None:
    for n in (1, 7, 999, 20_000):
        for x in _samples(rng, n):
            edges, specials = _plain_binning(x)
            binning = NumericBinning.from_reference(x)
            assert np.array_equal(binning.edges, edges)
            assert [repr(s) for s in binning.specials] == [repr(s) for s in specials]


def test_blocked_bin_index_equals_searchsorted(rng: np.random.Generator) -> None:
    crowded = 0
    for ref in _samples(rng, 4_000)[:-1]:
        binning = NumericBinning.from_reference(ref)
        crowded += binning._crowded
        e = binning.edges
        x = np.concatenate(
            [
                rng.choice(ref[np.isfinite(ref)], 150_000),
                rng.normal(size=50_000) * np.abs(e).max(),
                e,
                np.nextafter(e, -np.inf),
            ]
        )
        expected = np.searchsorted(e, x, side="right")
        expected[x == e[-1]] = e.size - 1
        assert np.array_equal(binning.bin_index(x), expected)
        # Merging block-wise binned parts never differs from profiling the whole array at once.
        whole = profile_numeric(x, binning)
        assert np.array_equal(whole.counts, np.bincount(expected, minlength=binning.n_bins))
    assert crowded  # both lookup paths ran


def _pav_lists(values: np.ndarray, weights: np.ndarray) -> tuple[list[float], list[float], list[int]]:
    """Pool-adjacent-violators merging list tails (the formulation before the locals)."""
    means: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        means.append(v)
        wts.append(w)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            total = wts[-2] + wts[-1]
            means[-2] = (means[-2] * wts[-2] + means[-1] * wts[-1]) / total
            wts[-2] = total
            sizes[-2] += sizes[-1]
            del means[-1], wts[-1], sizes[-1]
    return means, wts, sizes


def test_pav_is_bit_identical_to_merging_list_tails(rng: np.random.Generator) -> None:
    for trial in range(300):
        n = int(rng.integers(1, 400))
        values = [rng.random(n), np.round(rng.random(n), 1), (rng.random(n) < 0.3).astype(float)][trial % 3]
        weights = rng.integers(1, 5, n).astype(float) if trial % 2 else rng.random(n) * 3
        assert estimate._pav(values, weights) == _pav_lists(values, weights)


def _row_order_point(s: np.ndarray, cal: Calibrator, threshold: float = 0.5) -> tuple[float, ...]:
    """tp, fp, fn, tn and expected AUC summed in row order (the formulation before sorting)."""
    prob = cal.transform(s)
    pred = s >= threshold
    return (
        float(prob[pred].sum()),
        float((1 - prob[pred]).sum()),
        float(prob[~pred].sum()),
        float((1 - prob[~pred]).sum()),
        expected_auc(s, prob),
    )


@pytest.mark.parametrize("ties", [False, True])
def test_large_window_estimate_differs_from_row_order_by_rounding_only(
    rng: np.random.Generator, ties: bool
) -> None:
    ref = rng.random(30_000)
    cal = Calibrator.fit(ref, (rng.random(30_000) < ref**1.5).astype(float))
    s = rng.beta(2, 3, 300_000)
    if ties:
        s = np.round(s, 3)
    got = estimate_binary(s, cal)
    tp, fp, fn, tn, auc = _row_order_point(s, cal)
    assert (got.tp, got.fp, got.fn, got.tn) == pytest.approx((tp, fp, fn, tn), rel=1e-12)
    assert got.metrics["roc_auc"].value == pytest.approx(auc, rel=1e-12)
    assert got.metrics["accuracy"].value == pytest.approx((tp + tn) / s.size, rel=1e-12)
    s_sorted = np.sort(s)
    assert expected_auc_sorted(s_sorted, cal.transform(s_sorted)) == pytest.approx(auc, rel=1e-12)


def test_small_window_estimate_is_bit_identical_to_row_order(rng: np.random.Generator) -> None:
    ref = rng.random(5_000)
    cal = Calibrator.fit(ref, (rng.random(5_000) < ref).astype(float))
    s = np.round(rng.random(estimate.SIM_MAX_ROWS), 2)
    got = estimate_binary(s, cal)
    tp, fp, fn, tn, auc = _row_order_point(s, cal)
    assert (got.tp, got.fp, got.fn, got.tn) == (tp, fp, fn, tn)
    assert got.metrics["roc_auc"].value == auc


def test_expected_auc_sorted_by_hand() -> None:
    s = np.array([0.1, 0.4, 0.4, 0.6, 0.9, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1], dtype=float)
    assert expected_auc_sorted(s, y) == pytest.approx(expected_auc(s, y))
    assert np.isnan(expected_auc_sorted(np.array([0.5, 0.5]), np.array([1.0, 1.0])))
    assert np.isnan(expected_auc_sorted(np.empty(0), np.empty(0)))
