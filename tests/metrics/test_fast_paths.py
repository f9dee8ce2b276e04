"""The import-light and cached fast paths return exactly what scipy.stats and the plain paths return."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from duckwatch.loading import profile_scan
from duckwatch.metrics import drift_decision
from duckwatch.metrics._kstwo import kstwo_sf, kstwo_sf_bounded
from duckwatch.metrics.drift_kernels import Profile
from duckwatch.metrics.performance import rankdata
from duckwatch.metrics.profile import (
    CategoricalVocabulary,
    NumericBinning,
    profile_categorical,
    profile_numeric,
)
from duckwatch.metrics.quality import _binom_quantile
from duckwatch.store.catalog import ColumnInfo


def test_kstwo_sf_is_scipys_on_every_branch(rng: np.random.Generator) -> None:
    for n in [*range(1, 160, 13), 1000, 100_001]:
        grid = np.concatenate(
            [rng.uniform(0, 1, 8), rng.uniform(0, 5 / np.sqrt(n), 8), [0.5 / n, 1 / n, 0.5, 1.0]]
        )
        for x in grid:
            assert kstwo_sf(float(x), n) == float(stats.kstwo.sf(x, n))


def test_bounded_kstwo_tail_is_conservative_and_close() -> None:
    """Massart's bound replaces the O(n) exact tail of large n: never below it, and close."""
    for n in (5_000, 10_001, 66_666, 400_000):
        for s in np.linspace(0.2, 19.0, 40):
            x = float(s / np.sqrt(n))
            exact, fast = float(stats.kstwo.sf(x, n)), kstwo_sf_bounded(x, n)
            if n <= 10_000 or s * s < 2.2:
                assert fast == kstwo_sf(x, n)
            elif exact > 1e-300:
                assert exact <= fast
                assert np.log(fast) <= 0.98 * np.log(exact)  # far tail: the exponent within 2%
                if exact > 1e-6:  # where decisions are made: the value within 2%
                    assert fast <= exact * 1.02


def test_binomial_quantile_ranks_and_ppfs_are_scipys(rng: np.random.Generator) -> None:
    for _ in range(500):
        n, p = int(rng.integers(1, 10**6)), float(rng.choice([rng.uniform(), 0.0, 1.0, rng.uniform() * 1e-4]))
        for q in (0.999, 0.001, float(rng.uniform())):
            assert _binom_quantile(q, n, p) == float(stats.binom.ppf(q, n, p))
    for _ in range(50):
        x = rng.integers(0, 20, int(rng.integers(0, 300))).astype(float)
        assert np.array_equal(rankdata(x), stats.rankdata(x))
    assert np.isnan(rankdata([1.0, np.nan])).all()


def test_null_threshold_reuses_reference_draws_without_changing_values(rng: np.random.Generator) -> None:
    x = rng.normal(size=3000)
    ref = profile_numeric(x, NumericBinning.from_reference(x))
    drift_decision._NULL_CACHE.clear()
    drift_decision._REF_DRAWS.clear()
    warm = [drift_decision.null_threshold("ks", ref, n) for n in (300, 2000)]
    drift_decision._NULL_CACHE.clear()
    drift_decision._REF_DRAWS.clear()
    assert drift_decision.null_threshold("ks", ref, 2000) == warm[1]


def test_columns_with_equal_reference_counts_share_a_null_simulation(rng: np.random.Generator) -> None:
    """Two numeric references with the same bin counts but other values: every null that depends on
    the counts alone is one simulation, equal to each column's own; Wasserstein's is not shared."""
    x = rng.normal(size=4000)
    a = profile_numeric(x, NumericBinning.from_reference(x))
    y = np.exp(rng.normal(size=4000))
    b = profile_numeric(y, NumericBinning.from_reference(y))
    assert np.array_equal(drift_decision.bin_counts(a), drift_decision.bin_counts(b))

    def fresh(metric: str, ref: Profile) -> float:
        drift_decision._NULL_CACHE.clear()
        drift_decision._REF_DRAWS.clear()
        return drift_decision.null_threshold(metric, ref, 1500)

    for metric in ("ks", "psi", "js_distance", "hellinger", "wasserstein_norm"):
        own_a, own_b = fresh(metric, a), fresh(metric, b)
        drift_decision._NULL_CACHE.clear()
        drift_decision.drain_new_null_thresholds()
        shared = (
            drift_decision.null_threshold(metric, a, 1500),
            drift_decision.null_threshold(metric, b, 1500),
        )
        simulated = len(drift_decision.drain_new_null_thresholds())
        assert shared == (own_a, own_b)
        if metric == "wasserstein_norm":
            assert simulated == 2 and own_a != own_b
        else:
            assert simulated == 1 and own_a == own_b


def test_arrow_profiles_equal_the_plain_profiles(rng: np.random.Generator) -> None:
    n = 20_000
    x = rng.normal(size=n)
    x[rng.uniform(size=n) < 0.05] = np.nan
    xs = pa.array(x, mask=rng.uniform(size=n) < 0.1)
    cs = pa.array(
        rng.choice(["a", "b", "", *[f"z{i}" for i in range(300)]], n), mask=rng.uniform(size=n) < 0.1
    )
    day = np.datetime64("2026-01-01", "us")
    ws = pa.array(day + rng.integers(0, 3, n) * np.timedelta64(1, "D"), pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {"_version": rng.choice(["", "v2"], n), "_experiment": [""] * n, "ws": ws, "x": xs, "c": cs}
    )
    cols = [
        ColumnInfo("x", "x", "feature", "numeric", None),
        ColumnInfo("c", "c", "feature", "categorical", None),
    ]
    arrays = profile_scan.columns_frame(table, cols)
    xv = xs.fill_null(0.0).to_numpy(zero_copy_only=False)
    xn = xs.is_null().to_numpy(zero_copy_only=False)
    cv = np.asarray(cs.fill_null("").to_pylist(), dtype=object)
    cn = cs.is_null().to_numpy(zero_copy_only=False)
    ref_x = profile_numeric(xv, NumericBinning.from_reference(xv[~xn]), xn)
    ref_c = profile_categorical(cv, CategoricalVocabulary.from_reference(cv, cn), cn)
    assert json.dumps(profile_scan.profile_column(arrays["x"], None).to_dict()) == json.dumps(ref_x.to_dict())
    assert json.dumps(profile_scan.profile_column(arrays["c"], None).to_dict()) == json.dumps(ref_c.to_dict())
    groups = profile_scan.group_rows(table)
    assert len(groups) == 6 and sum(len(i) for i in groups.values() if i is not None) == n
    for (v, _e, _ws), idx in groups.items():
        assert idx is not None and (table.column("_version").to_numpy()[idx] == v).all()
        assert np.all(np.diff(idx) > 0)
        plain = profile_numeric(xv[idx], ref_x.binning, xn[idx]).to_dict()
        assert json.dumps(profile_scan.profile_column(arrays["x"], ref_x, idx).to_dict()) == json.dumps(plain)
        plain = profile_categorical(cv[idx], ref_c.vocabulary, cn[idx]).to_dict()
        assert json.dumps(profile_scan.profile_column(arrays["c"], ref_c, idx).to_dict()) == json.dumps(plain)


@pytest.mark.parametrize("rows", [1, 5])
def test_one_group_means_all_rows(rows: int) -> None:
    ts = pa.array(np.full(rows, np.datetime64("2026-01-01", "us")), pa.timestamp("us", tz="UTC"))
    table = pa.table({"_version": [""] * rows, "_experiment": [""] * rows, "ws": ts})
    assert list(profile_scan.group_rows(table).values()) == [None]
