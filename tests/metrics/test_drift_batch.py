"""Categorical drift of many windows at once equals each metric's one-window function."""

from __future__ import annotations

import math

import numpy as np
import pytest

from duckwatch.metrics.drift_batch import categorical_batch
from duckwatch.metrics.drift_decision import DEFAULT_METHOD, drift_cell
from duckwatch.metrics.profile import CategoricalVocabulary, profile_category_counts
from duckwatch.metrics.registry import get, load_builtins


@pytest.mark.parametrize("categories", [2, 5])
def test_every_window_equals_the_registered_functions(categories: int) -> None:
    load_builtins()
    rng = np.random.default_rng(categories)
    vocab = CategoricalVocabulary(tuple(str(c) for c in range(categories)))
    reference = profile_category_counts(
        {str(c): int(rng.integers(50, 500)) for c in range(categories)}, vocab
    )
    windows = []
    for i in range(30):
        counts = {str(c): int(rng.integers(0, 300)) for c in range(categories)}
        if i == 0:
            counts = {str(c): 0 for c in range(categories)}  # an empty window
        elif i == 1:
            counts = {"0": 40}  # one category only
        elif i == 2:
            counts["unseen-value"] = 25  # a category the reference never had
        windows.append(profile_category_counts(counts, vocab))
    reported, cells = categorical_batch(reference, windows)
    assert list(reported) == list(DEFAULT_METHOD["categorical"].report)
    for i, cur in enumerate(windows):
        for name, results in reported.items():
            want = get(name).fn(reference, cur)  # type: ignore[misc]
            got = results[i]
            assert (got.metric, got.method, got.exact) == (want.metric, want.method, want.exact), (i, name)
            for a, b in ((got.value, want.value), (got.p_value, want.p_value)):
                assert (
                    (a is None and b is None)
                    or (math.isnan(a) and math.isnan(b))
                    or a == pytest.approx(b, rel=1e-12, abs=1e-15)
                ), (i, name)
        if cur.n:
            want_cell = drift_cell(reference, cur)
            assert cells[i].threshold == want_cell.threshold and cells[i].floor == want_cell.floor
            assert cells[i].value == pytest.approx(want_cell.value, rel=1e-12, abs=1e-15)
            assert cells[i].p_value == pytest.approx(want_cell.p_value, rel=1e-12, abs=1e-15)
