"""Resamples as row counts give the same bootstrap values as gathering the resampled rows (ECE)."""

from __future__ import annotations

import numpy as np
import pytest

from duckwatch.metrics import bootstrap_weighted as bw
from duckwatch.metrics import performance as perf


def _data(rng: np.random.Generator, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = rng.uniform(0.02, 0.98, n)
    if ties:
        p = np.round(p, 1)  # heavy ties: ten distinct scores
    y = rng.uniform(size=n) < p
    return y, p, p >= 0.5


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("n", [37, 2_000, 20_000])
def test_counts_equal_gathered_resamples(n: int, ties: bool) -> None:
    y, p, _ = _data(np.random.default_rng(n + ties), n, ties)
    pairs = [(perf._batch_ece, lambda w, a, b: bw.ece(w, a, b, perf.ECE_BINS), (y, p))]
    for gathered, counted, arrays in pairs:
        old = perf.bootstrap_values(gathered, arrays, 200, seed=5)
        new = bw.weighted_values(counted, arrays, 200, 5, perf.MAX_CHUNK_CELLS)
        assert old.shape == new.shape == (200,)
        assert np.allclose(old, new, rtol=1e-10, atol=1e-13, equal_nan=True), gathered.__name__


def test_one_resample_against_a_gathered_resample() -> None:
    rng = np.random.default_rng(11)
    y, p, _ = _data(rng, 3_000, ties=True)
    idx = rng.integers(0, y.size, y.size)
    w = np.bincount(idx, minlength=y.size).astype(np.float64)[None, :]
    yr, pr = y[idx], p[idx]
    assert bw.ece(w, y, p)[0] == pytest.approx(perf.expected_calibration_error(yr, pr), rel=1e-12)


def test_intervals_are_unchanged_by_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    y, p, _ = _data(np.random.default_rng(2), 50_000, ties=False)
    fast = perf.compute_classification(y.astype(float), p)
    monkeypatch.setattr(bw, "weighted_values", None)  # any use of the counts would fail below
    monkeypatch.setattr(
        perf,
        "boot_metric",
        lambda name, fn, arrays, seed, weighted=None, value=None: perf.MetricValue(
            name, float(fn(*arrays)[0]), *perf.bootstrap_interval(fn, arrays, seed=seed), arrays[0].shape[0]
        ),
    )
    slow = perf.compute_classification(y.astype(float), p)
    for name in ("ece",):
        a, b = fast[name], slow[name]
        assert a.value == pytest.approx(b.value, rel=1e-12), name  # PR AUC: read off the shared sort
        assert a.lower == pytest.approx(b.lower, rel=1e-9) and a.upper == pytest.approx(b.upper, rel=1e-9), (
            name
        )


@pytest.mark.parametrize("dtype", [np.uint16, np.int64])
def test_integer_counts_give_the_float_counts_values(dtype: type) -> None:
    """The kept 16-bit draws and the int64 ones (windows over 65,535 rows) sum exactly as integers."""
    y, p, _ = _data(np.random.default_rng(3), 5_000, ties=True)
    w = np.stack(
        [
            np.bincount(np.random.default_rng(k).integers(0, y.size, y.size), minlength=y.size)
            for k in range(7)
        ]
    )
    want = bw.ece(w.astype(np.float64), y, p)
    assert np.allclose(bw.ece(w.astype(dtype), y, p), want, rtol=1e-12, atol=0)
