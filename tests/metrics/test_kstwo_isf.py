"""The raw-row KS threshold's quantile without scipy.stats: exact at small n (the inverse of the vendored
survival function), Kolmogorov's limit within its stated error at large n (tests/metrics/test_ks_distribution)."""

from __future__ import annotations

import pytest
from scipy import stats

from duckwatch.metrics._kstwo import kstwo_sf
from duckwatch.metrics.drift_exact import kstwo_isf
from duckwatch.metrics.ks_distribution import ASYMPTOTIC_N, ISF_REL_ERROR


@pytest.mark.parametrize("n", [5, 60, 141, 500, 9_999, 10_000, 66_667, 181_818])
@pytest.mark.parametrize("q", [0.5, 0.05, 0.01, 1e-4])
def test_kstwo_isf_inverts_the_survival_function_and_matches_scipy(n: int, q: float) -> None:
    x = kstwo_isf(q, n)
    if n < ASYMPTOTIC_N:
        assert kstwo_sf(x, n) == pytest.approx(q, rel=1e-9)
        # scipy's isf is a root find with its own tolerance: agreement to 1e-4 relative.
        assert x == pytest.approx(float(stats.kstwo.isf(q, n)), rel=1e-4)
    else:
        assert x == pytest.approx(float(stats.kstwo.isf(q, n)), rel=ISF_REL_ERROR)
