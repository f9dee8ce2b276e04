"""All windows at once equals compute_classification window by window (values, reasons, n; intervals
except ECE's), on windows built to hit every branch: too few labels, one class, rare classes, no
predicted positives, scores outside [0, 1], missing scores, ties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from duckwatch.metrics.classification_batch import classification_by_window, window_seed
from duckwatch.metrics.performance import compute_classification


def _window(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = int(rng.integers(1, 400))
    s = rng.beta(2, 3, n)
    y = (rng.random(n) < s).astype(float)
    if kind == "ties":
        s = np.round(s, 1)
    elif kind == "few":
        n = 20
        s, y = s[:20], y[:20] if len(y) >= 20 else np.resize(y, 20)
        s = np.resize(s, 20)
    elif kind == "one_class":
        y[:] = 1.0
    elif kind == "rare":
        y[:] = 0.0
        y[: int(rng.integers(1, 9))] = 1.0
    elif kind == "no_flagged":
        s = s * 0.4
    elif kind == "outside":
        s = s * 1.5
    elif kind == "missing_score":
        s[0] = np.nan
    labels = y.copy()
    labels[rng.random(labels.size) < 0.2] = np.nan
    pred = (s >= 0.5).astype(float)
    return labels, s, pred


KINDS = ["plain", "ties", "few", "one_class", "rare", "no_flagged", "outside", "missing_score"]


@pytest.mark.parametrize("use_pred", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_window_equals_compute_classification(seed: int, use_pred: bool) -> None:
    rng = np.random.default_rng(seed)
    windows = [_window(rng, KINDS[i % len(KINDS)]) for i in range(40)]
    group = np.concatenate([np.full(w[0].size, i) for i, w in enumerate(windows)]).astype(np.int64)
    labels, score, pred = (np.concatenate([w[j] for w in windows]) for j in range(3))
    seeds = [window_seed("m", i, "ece") for i in range(len(windows))]
    got = classification_by_window(group, len(windows), labels, score, pred if use_pred else None, seeds)
    for i, (lab, s, p) in enumerate(windows):
        want = compute_classification(lab, s, p if use_pred else None)
        for name, column in got.items():
            w = want[name]
            assert column.reason[i] == (w.reason if w.status != "ok" else ""), (i, name)
            assert column.n[i] == w.n, (i, name)
            for attr in ("value", "lower", "upper"):
                if name == "ece" and attr != "value":
                    continue
                a, b = float(getattr(column, attr)[i]), getattr(w, attr)
                assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), (
                    i,
                    name,
                    attr,
                    a,
                    b,
                )


def test_ece_band_is_seeded_by_the_window_and_brackets_the_value() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    s = rng.random(n)
    labels = (rng.random(n) < np.clip(s + 0.05, 0, 1)).astype(float)
    group = np.zeros(n, dtype=np.int64)
    first = classification_by_window(group, 1, labels, s, None, [window_seed("a")])["ece"]
    again = classification_by_window(group, 1, labels, s, None, [window_seed("a")])["ece"]
    other = classification_by_window(group, 1, labels, s, None, [window_seed("b")])["ece"]
    assert (first.lower[0], first.upper[0]) == (again.lower[0], again.upper[0])
    assert first.lower[0] != other.lower[0]
    assert first.lower[0] < first.value[0] < first.upper[0]


def test_perfect_separation_gives_no_interval_and_no_warning() -> None:
    """AP = 1 (every positive above every negative): the logit interval is undefined, not a warning."""
    s = np.r_[np.linspace(0.0, 0.4, 50), np.linspace(0.6, 1.0, 50)]
    labels = np.r_[np.zeros(50), np.ones(50)]
    got = classification_by_window(np.zeros(100, dtype=np.int64), 1, labels, s, None, [1])
    want = compute_classification(labels, s)["pr_auc"]
    assert got["pr_auc"].value[0] == want.value == 1.0
    assert np.isnan(got["pr_auc"].lower[0]) and math.isnan(want.lower)


def test_rows_in_any_group_order_give_the_same_metrics() -> None:
    """Grouped rows take the per-group sort, shuffled rows the lexsort: the same numbers."""
    rng = np.random.default_rng(9)
    group = np.sort(rng.integers(0, 12, 5000)).astype(np.int64)
    s = np.round(rng.random(5000), 2)
    labels = (rng.random(5000) < s).astype(float)
    seeds = list(range(12))
    grouped = classification_by_window(group, 12, labels, s, None, seeds)
    shuffle = rng.permutation(5000)
    mixed = classification_by_window(group[shuffle], 12, labels[shuffle], s[shuffle], None, seeds)
    for name in ("roc_auc", "pr_auc"):
        np.testing.assert_allclose(grouped[name].value, mixed[name].value, rtol=1e-12)
        np.testing.assert_allclose(grouped[name].lower, mixed[name].lower, rtol=1e-12)
