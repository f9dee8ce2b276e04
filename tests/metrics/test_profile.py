"""Profiles: binning semantics, exact counts/sums/moments, merge == profile of the union, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from duckwatch.metrics.profile import (
    MAX_UNSEEN_EXAMPLES,
    CategoricalProfile,
    CategoricalVocabulary,
    NumericBinning,
    NumericProfile,
    merge,
    profile_categorical,
    profile_numeric,
)

RNG_SEED = 20261123


def reference_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Independent statement of the bin rule: 0 below, [e_{i-1}, e_i), last finite bin closed, above."""
    idx = np.searchsorted(edges, x, side="right")
    idx[x == edges[-1]] = edges.size - 1
    return idx


DISTRIBUTIONS = {
    "normal": lambda rng, n: rng.normal(size=n),
    "lognormal": lambda rng, n: rng.lognormal(sigma=1.5, size=n),
    "pareto": lambda rng, n: rng.pareto(1.0, size=n),
    "negative_heavy": lambda rng, n: -rng.pareto(1.2, size=n) * 1e6,
    "integers": lambda rng, n: rng.poisson(3, size=n).astype(float),
    "mixed_sign_ties": lambda rng, n: rng.choice([-1.0, 0.0, 0.0, 2.5, 1e9], size=n),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_fast_bin_index_matches_searchsorted(name: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    draw = DISTRIBUTIONS[name]
    binning = NumericBinning.from_reference(draw(rng, 50_000))
    # Current data: same law, a x1000 unit change, and the exact edges themselves.
    for x in (draw(rng, 200_000), 1000 * draw(rng, 200_000), np.repeat(binning.edges, 100)):
        np.testing.assert_array_equal(binning.bin_index(x), reference_bins(x, binning.edges))


def test_profile_counts_sums_moments_match_numpy() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = rng.normal(5, 2, size=20_000)
    binning = NumericBinning.from_reference(ref, bins=100, specials=(-1.0, 0.0))
    x = np.concatenate([rng.normal(5, 2, size=10_000), [np.nan, np.inf, -np.inf, -1.0, 0.0, 0.0, 1e9]])
    null = np.zeros(x.size, dtype=bool)
    null[:7] = True
    p = profile_numeric(x, binning, null_mask=null)
    kept = x[~null]
    finite = kept[np.isfinite(kept)]
    idx = reference_bins(finite, binning.edges)
    assert (p.n_null, p.n_nan, p.n_inf, p.n) == (7, 1, 2, finite.size)
    assert p.n_rows == x.size
    np.testing.assert_array_equal(p.counts, np.bincount(idx, minlength=binning.n_bins))
    np.testing.assert_allclose(p.sums, np.bincount(idx, weights=finite, minlength=binning.n_bins))
    assert p.counts.sum() == p.n  # specials are inside their bins too: the distribution is complete
    np.testing.assert_array_equal(p.special_counts, [1, 2])
    assert p.mean == pytest.approx(finite.mean())
    assert p.m2 == pytest.approx(((finite - finite.mean()) ** 2).sum())
    assert (p.min, p.max) == (finite.min(), finite.max())
    assert p.counts[-1] >= 1  # 1e9 is above the reference range


def test_binning_edges_specials_and_ties() -> None:
    rng = np.random.default_rng(RNG_SEED)
    ref = np.concatenate([np.zeros(3_000), rng.integers(1, 5, size=7_000).astype(float)])
    b = NumericBinning.from_reference(ref, specials=(-999999.0,))
    assert np.all(np.diff(b.edges) > 0)  # ties collapse to unique edges
    assert set(b.edges) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert b.specials == (-999999.0, 0.0, 1.0, 2.0, 3.0, 4.0)  # configured + every value with >= 1%
    constant = NumericBinning.from_reference(np.full(100, 7.0))
    p = profile_numeric(np.full(10, 7.0), constant)
    assert p.counts[1] == 10 and p.counts[0] == p.counts[-1] == 0
    empty = NumericBinning.from_reference(np.array([np.nan]))
    assert empty.edges.size == 2


finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
arrays = hnp.arrays(np.float64, st.integers(0, 300), elements=finite_floats | st.sampled_from([0.0, -1.0]))
BINNING = NumericBinning.from_reference(np.random.default_rng(1).normal(0, 1e3, 5_000), specials=(-1.0, 0.0))


def assert_numeric_close(a: NumericProfile, b: NumericProfile) -> None:
    assert a.binning == b.binning
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.special_counts, b.special_counts)
    assert (a.n, a.n_null, a.n_nan, a.n_inf) == (b.n, b.n_null, b.n_nan, b.n_inf)
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-9, atol=1e-6)
    assert a.mean == pytest.approx(b.mean, rel=1e-9, abs=1e-6)
    assert a.m2 == pytest.approx(b.m2, rel=1e-7, abs=1e-3)
    if a.n:
        assert (a.min, a.max) == (b.min, b.max)


@settings(max_examples=60, deadline=None)
@given(a=arrays, b=arrays, c=arrays)
def test_merge_equals_profile_of_union(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    pa, pb, pc = (profile_numeric(v, BINNING) for v in (a, b, c))
    whole = profile_numeric(np.concatenate([a, b, c]), BINNING)
    assert_numeric_close(merge(merge(pa, pb), pc), whole)  # type: ignore[arg-type]
    assert_numeric_close(merge(pa, merge(pb, pc)), whole)  # type: ignore[arg-type]
    assert_numeric_close(merge(pb, pa), merge(pa, pb))  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(a=arrays, seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(a: np.ndarray, seed: int) -> None:
    shuffled = np.random.default_rng(seed).permutation(a)
    assert_numeric_close(profile_numeric(a, BINNING), profile_numeric(shuffled, BINNING))


@settings(max_examples=40, deadline=None)
@given(a=arrays)
def test_numeric_round_trip_through_json(a: np.ndarray) -> None:
    x = np.concatenate([a, [np.nan, np.inf]])
    p = profile_numeric(x, BINNING, null_mask=np.arange(x.size) == 0)
    back = NumericProfile.from_dict(json.loads(json.dumps(p.to_dict(), allow_nan=False)))
    assert_numeric_close(back, p)


def test_empty_numeric_profile_round_trips_and_merges() -> None:
    empty = profile_numeric(np.array([]), BINNING)
    back = NumericProfile.from_dict(json.loads(json.dumps(empty.to_dict(), allow_nan=False)))
    assert back.n == 0 and np.isnan(back.min)
    full = profile_numeric(np.array([1.0, 2.0]), BINNING)
    assert_numeric_close(merge(empty, full), full)  # type: ignore[arg-type]


def test_merge_rejects_different_binnings() -> None:
    other = NumericBinning.from_reference(np.arange(10.0))
    with pytest.raises(ValueError, match="different binnings"):
        merge(profile_numeric(np.ones(3), BINNING), profile_numeric(np.ones(3), other))


# ---- categorical ----

VOCAB_REF = np.array([f"c{i}" for i in range(250) for _ in range(250 - i)], dtype=object)
VOCAB = CategoricalVocabulary.from_reference(VOCAB_REF)


def test_vocabulary_top_200_other_and_unseen() -> None:
    assert len(VOCAB.values) == 200 and VOCAB.values[:3] == ("c0", "c1", "c2")
    assert "c249" in VOCAB.other_values
    p = profile_categorical(np.array(["c0", "c0", "c249", "new", "new", "new2", None], dtype=object), VOCAB)
    assert p.counts[0] == 2 and p.other == 1 and p.unseen == 3 and p.n_null == 1
    assert p.unseen_examples == {"new": 2, "new2": 1}
    assert p.n == 6 and p.n_rows == 7
    masked = profile_categorical(np.array(["c0", "c1"], dtype=object), VOCAB, null_mask=[False, True])
    assert masked.n_null == 1 and masked.n == 1
    ref_profile = profile_categorical(VOCAB_REF, VOCAB)
    assert ref_profile.unseen == 0 and ref_profile.other == sum(range(1, 51))


cats = st.lists(st.sampled_from([*(f"c{i}" for i in range(5)), "c230", "u1", "u2", "u3", None]), max_size=200)


def assert_categorical_equal(a: CategoricalProfile, b: CategoricalProfile) -> None:
    np.testing.assert_array_equal(a.counts, b.counts)
    assert (a.other, a.unseen, a.n_null) == (b.other, b.unseen, b.n_null)


@settings(max_examples=60, deadline=None)
@given(a=cats, b=cats)
def test_categorical_merge_order_and_round_trip(a: list[str | None], b: list[str | None]) -> None:
    pa = profile_categorical(np.array(a, dtype=object), VOCAB)
    pb = profile_categorical(np.array(b, dtype=object), VOCAB)
    whole = profile_categorical(np.array(a + b, dtype=object), VOCAB)
    merged = merge(pa, pb)
    assert isinstance(merged, CategoricalProfile)
    assert_categorical_equal(merged, whole)
    assert merged.unseen_examples == whole.unseen_examples  # exact while fewer than 20 unseen values
    assert_categorical_equal(profile_categorical(np.array(b + a, dtype=object), VOCAB), whole)
    back = CategoricalProfile.from_dict(json.loads(json.dumps(whole.to_dict())))
    assert_categorical_equal(back, whole)
    assert back.unseen_examples == whole.unseen_examples and back.vocabulary == VOCAB


def test_unseen_examples_keep_top_20_after_merge() -> None:
    a = np.array([f"x{i}" for i in range(30) for _ in range(i + 1)], dtype=object)
    b = np.array([f"x{i}" for i in range(30)], dtype=object)
    merged = merge(profile_categorical(a, VOCAB), profile_categorical(b, VOCAB))
    assert isinstance(merged, CategoricalProfile)
    assert len(merged.unseen_examples) == MAX_UNSEEN_EXAMPLES
    assert merged.unseen == a.size + b.size  # the total stays exact; only the examples are approximate
    assert next(iter(merged.unseen_examples)) == "x29"
