"""The array KS survival function equals the scalar one bitwise, on every branch, in any batch."""

from __future__ import annotations

import numpy as np

from duckwatch.metrics._kstwo import kstwo_sf_bounded
from duckwatch.metrics.kstwo_many import kstwo_sf_bounded_many


def _scalar(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.array([kstwo_sf_bounded(float(v), int(m)) for v, m in zip(x, n, strict=True)])


def test_equal_to_the_scalar_function_bitwise(rng: np.random.Generator) -> None:
    # sizes across the branch cut-offs (140, 10,000, 100,000) and statistics around sqrt(n) scale,
    # where the Pelz-Good, Durbin-matrix, exact-tail and bounded-tail branches meet
    n = np.concatenate(
        [rng.integers(1, 300, 300), rng.integers(141, 3_000, 900), rng.integers(9_000, 120_000, 300)]
    )
    x = np.concatenate(
        [rng.uniform(0, 1, 300), rng.uniform(0.02, 2.2, 1200) / np.sqrt(n[300:]), [0.0, 1.0, np.nan]]
    )
    n = np.concatenate([n, [500, 500, 500]])
    got, want = kstwo_sf_bounded_many(x, n), _scalar(x, n)
    assert np.array_equal(got, want, equal_nan=True)


def test_a_value_does_not_depend_on_its_batch(rng: np.random.Generator) -> None:
    n = rng.integers(141, 2_000, 400)
    x = rng.uniform(0.4, 1.4, 400) / np.sqrt(n)
    whole = kstwo_sf_bounded_many(x, n)
    parts = np.concatenate([kstwo_sf_bounded_many(x[i : i + 7], n[i : i + 7]) for i in range(0, 400, 7)])
    assert np.array_equal(whole, parts)
    assert kstwo_sf_bounded_many([], []).size == 0
