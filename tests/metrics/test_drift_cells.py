"""Every window's deciding cells at once equal `drift_cell` pair by pair, bitwise."""

from __future__ import annotations

import numpy as np

from duckwatch.metrics.drift import drift_cell
from duckwatch.metrics.drift_cells import drift_cells, screen_p_values
from duckwatch.metrics.drift_exact import ambiguous
from duckwatch.metrics.profile import (
    CategoricalVocabulary,
    NumericBinning,
    profile_categorical,
    profile_numeric,
)
from duckwatch.metrics.registry import load_builtins


def test_many_pairs_equal_drift_cell_one_by_one(rng: np.random.Generator) -> None:
    load_builtins()
    ref_x = rng.normal(size=20_000)
    binning = NumericBinning.from_reference(ref_x)
    ref = profile_numeric(ref_x, binning)
    cats = np.array(list("abcde"))
    vocab = CategoricalVocabulary.from_reference(cats[rng.integers(0, 5, 5_000)])
    ref_c = profile_categorical(cats[rng.integers(0, 5, 5_000)], vocab)
    pairs = []
    for size, shift in [
        (30, 0.0),
        (150, 0.3),
        (800, 0.0),
        (800, 0.15),
        (5_000, 0.05),
        (40_000, 0.02),
        (3, 1.0),
    ]:
        pairs.append((ref, profile_numeric(rng.normal(shift, 1.0, size), binning)))
        pairs.append((ref_c, profile_categorical(cats[rng.integers(0, 4, size)], vocab)))
    pairs.append((ref, profile_numeric(np.array([], dtype=float), binning)))
    want = [drift_cell(r, c) for r, c in pairs]
    got = drift_cells(pairs)
    assert repr(got) == repr(want)  # every field; a float repr round-trips, so bit for bit (NaN too)
    assert [c.metric for c in got].count("ks") == 8
    sizes = [(r.n, c.n) for r, c in pairs]
    screened = screen_p_values(got, sizes)
    assert np.array_equal(ambiguous(got, sizes), ambiguous(got, sizes, p_upper=screened))
