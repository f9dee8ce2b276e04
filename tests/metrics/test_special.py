"""metrics/special.py against scipy.special / scipy.stats on wide grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats
from scipy.special._ufuncs import _binom_ppf

from duckwatch.metrics.special import binom_ppf, chi2_sf, ndtr, rel_entr


def _rel_err(ours: float, ref: float) -> float:
    return abs(ours - ref) / ref


def test_chi2_sf_matches_chdtrc_on_a_wide_grid() -> None:
    xs = np.concatenate([np.geomspace(1e-6, 1e4, 300), np.linspace(0.5, 400.0, 200)])
    worst = 0.0
    for df in range(1, 301):
        ref = special.chdtrc(df, xs)
        for x, r in zip(xs, ref, strict=True):
            ours = chi2_sf(df, float(x))
            if r > 1e-300:
                worst = max(worst, _rel_err(ours, float(r)))
            else:  # scipy underflows: so do we (at most to a subnormal)
                assert ours < 1e-290
    assert worst <= 1e-12, worst


def test_chi2_sf_large_df_and_deep_tails(rng: np.random.Generator) -> None:
    for _ in range(3000):
        df = int(rng.integers(1, 3000))
        x = float(df * np.exp(rng.normal(0.0, 0.6)))
        r = float(special.chdtrc(df, x))
        if r > 1e-300:
            assert _rel_err(chi2_sf(df, x), r) <= 1e-11  # ~1e-12 worst seen; long ratio chains
    # tails down to 1e-300 at both parities
    for df in (1, 2, 3, 50, 51, 299, 300):
        for target in (1e-20, 1e-100, 1e-200, 1e-299):
            x = float(special.chdtri(df, target))
            assert _rel_err(chi2_sf(df, x), float(special.chdtrc(df, x))) <= 1e-12


def test_chi2_sf_edges_are_scipys() -> None:
    assert math.isnan(chi2_sf(0, 0.0))
    for df, x in [(0, 1.0), (1, 0.0), (3, math.inf), (5, 1e-300), (2, 1e-320)]:
        assert chi2_sf(df, x) == float(special.chdtrc(df, x))
    assert math.isnan(chi2_sf(1, math.nan)) and math.isnan(chi2_sf(1, -1.0))


def test_binom_ppf_is_scipys_exactly(rng: np.random.Generator) -> None:
    for _ in range(600):
        n = int(10 ** rng.uniform(0.0, 7.0))
        u = float(rng.uniform())
        p = float(rng.choice([u, 0.0, 1.0, u * 1e-4, u * 1e-9, 1.0 - u * 1e-6, u * 1e-2]))
        for q in (0.999, 1.0 - 0.999, 0.001, float(rng.uniform()), 1e-10, 1.0 - 1e-10):
            assert binom_ppf(q, n, p) == float(_binom_ppf(q, n, p)), (q, n, p)
    assert binom_ppf(0.5, 0, 0.3) == float(stats.binom.ppf(0.5, 0, 0.3))
    assert all(math.isnan(binom_ppf(q, 10, p)) for q, p in [(0.0, 0.5), (1.0, 0.5), (0.5, 1.5)])


@pytest.mark.parametrize("x", [-40.0, -38.5, -8.0, -1.2, -0.7, -1e-9, 0.0, 0.3, 0.9999, 1.0, 5.0, 9.0, 40.0])
def test_ndtr_is_scipys(x: float) -> None:
    # libm's erfc vs cephes' erfc, both off by ~2 x^2 ulp in the far tail from rounding x / sqrt(2)
    assert ndtr(x) == pytest.approx(float(special.ndtr(x)), rel=1e-13, abs=0.0)


def test_rel_entr_is_scipys(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(50, 20)) * (rng.uniform(size=(50, 20)) > 0.3)
    y = rng.uniform(size=(50, 20)) * (rng.uniform(size=(50, 20)) > 0.3)
    special_x = np.array([0.0, 0.0, 1.0, -1.0, np.nan, 0.5])
    special_y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, np.nan])
    for a, b in [(x, y), (special_x, special_y)]:
        # Within a few ulps: numpy's vectorised log/log1p round the last bit differently on some CPUs.
        np.testing.assert_allclose(rel_entr(a, b), special.rel_entr(a, b), rtol=1e-14, atol=0.0)
