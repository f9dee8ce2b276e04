"""The KS null distribution: exact below ASYMPTOTIC_N, Kolmogorov's limit within its stated error above."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from duckwatch.metrics.ks_distribution import (
    ASYMPTOTIC_N,
    ISF_REL_ERROR,
    SF_REL_ERROR,
    kolmogorov_sf,
    ks_isf,
    ks_sf,
)


@pytest.mark.parametrize("t", [0.05, 0.3, 0.7, 0.99, 1.0, 1.36, 2.0, 3.5, 6.0])
def test_limit_distribution_equals_scipy(t: float) -> None:
    assert kolmogorov_sf(t) == pytest.approx(float(special.kolmogorov(t)), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("n", [ASYMPTOTIC_N, 40_000, 166_667])
@pytest.mark.parametrize("z", [0.5, 1.0, 1.36, 1.63, 1.9])
def test_large_n_survival_is_within_its_stated_error(n: int, z: float) -> None:
    d = z / math.sqrt(n)
    exact = float(stats.kstwo.sf(d, n))
    assert 6e-4 <= exact <= 0.97
    assert ks_sf(d, n) == pytest.approx(exact, rel=SF_REL_ERROR)


@pytest.mark.parametrize("n", [ASYMPTOTIC_N, 66_667, 181_818, 1_000_000])
@pytest.mark.parametrize("q", [0.5, 0.05, 0.01, 1e-4])
def test_large_n_critical_value_is_within_its_stated_error(n: int, q: float) -> None:
    assert ks_isf(q, n) == pytest.approx(float(stats.kstwo.isf(q, n)), rel=ISF_REL_ERROR)


@pytest.mark.parametrize("n", [5, 60, 141, 500, ASYMPTOTIC_N - 1])
@pytest.mark.parametrize("q", [0.5, 0.05, 0.01, 1e-4])
def test_small_n_is_exact(n: int, q: float) -> None:
    x = ks_isf(q, n)
    assert ks_sf(x, n) == pytest.approx(q, rel=1e-9)
    assert x == pytest.approx(float(stats.kstwo.isf(q, n)), rel=1e-4)
    d = np.linspace(0.5 / n, 0.99, 7)
    for v in d:
        assert ks_sf(float(v), n) == pytest.approx(float(stats.kstwo.sf(v, n)), rel=1e-9, abs=1e-300)


def test_no_step_where_the_two_forms_meet() -> None:
    for z in (0.8, 1.36, 1.8):
        below, above = ASYMPTOTIC_N - 1, ASYMPTOTIC_N
        assert ks_sf(z / math.sqrt(above), above) == pytest.approx(
            ks_sf(z / math.sqrt(below), below), rel=SF_REL_ERROR
        )
