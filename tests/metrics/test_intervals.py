"""Analytic intervals: known answers against scipy/sklearn, and coverage >= 0.90 at nominal 0.95 by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, log_loss

from duckwatch.metrics.intervals import f1_interval, mean_interval, t95
from duckwatch.metrics.performance import compute_classification


@pytest.mark.parametrize("df", [10, 29, 100, 1000, 100_000])
def test_t_quantile_equals_scipy(df: int) -> None:
    assert t95(df) == pytest.approx(float(stats.t.ppf(0.975, df)), abs=2e-4)


def test_values_equal_sklearn(rng: np.random.Generator) -> None:
    score = rng.beta(2, 5, 3000)
    y = rng.random(3000) < score
    out = compute_classification(y.astype(float), score)
    assert out["f1"].value == pytest.approx(f1_score(y, score >= 0.5), rel=1e-12)
    assert out["log_loss"].value == pytest.approx(log_loss(y, score), rel=1e-9)
    assert out["brier"].value == pytest.approx(brier_score_loss(y, score), rel=1e-12)
    assert out["pr_auc"].value == pytest.approx(average_precision_score(y, score), rel=1e-12)
    for name in ("f1", "log_loss", "brier", "pr_auc"):
        assert out[name].lower < out[name].value < out[name].upper


def test_f1_variance_is_the_delta_method_of_the_multinomial() -> None:
    """Known answer: the delta method by hand, with the multinomial covariance of the cell shares."""
    tp, fp, fn, tn = 120, 40, 60, 780
    n = tp + fp + fn + tn
    p = np.array([tp, fp, fn, tn]) / n
    d = 2 * p[0] + p[1] + p[2]
    grad = np.array([2 * (p[1] + p[2]) / d**2, -2 * p[0] / d**2, -2 * p[0] / d**2, 0.0])
    var = grad @ (np.diag(p) - np.outer(p, p)) @ grad / n
    f1, lo, hi = f1_interval(tp, fp, fn)
    assert f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert (hi - lo) / 2 == pytest.approx(1.959963984540054 * np.sqrt(var), rel=1e-12)


@pytest.mark.parametrize("n", [200, 2000])
def test_coverage_at_nominal_95(n: int) -> None:
    rng = np.random.default_rng(2026)
    big = rng.beta(2, 5, 4_000_000)
    big_y = rng.random(big.size) < big
    truth = {
        "f1": f1_score(big_y, big >= 0.5),
        "log_loss": log_loss(big_y, big),
        "brier": brier_score_loss(big_y, big),
        "pr_auc": average_precision_score(big_y, big),
    }
    hits = dict.fromkeys(truth, 0)
    reps = 400
    for _ in range(reps):
        score = rng.beta(2, 5, n)
        y = rng.random(n) < score
        out = compute_classification(y.astype(float), score, min_class=1)
        for name, value in truth.items():
            hits[name] += out[name].lower <= value <= out[name].upper
    coverage = {name: hits[name] / reps for name in truth}
    assert min(coverage.values()) >= 0.90, coverage


def test_mean_interval_of_one_value_is_undefined() -> None:
    mean, lo, hi = mean_interval(np.array([0.3]))
    assert mean == 0.3 and np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize(("a", "b", "n"), [(0.5, 8.0, 2000), (0.3, 20.0, 20_000)])
def test_average_precision_coverage_for_rare_classes(a: float, b: float, n: int) -> None:
    rng = np.random.default_rng(7)
    big = rng.beta(a, b, 3_000_000)
    truth = average_precision_score(rng.random(big.size) < big, big)
    hits = reps = 0
    while reps < 200:
        score = rng.beta(a, b, n)
        y = rng.random(n) < score
        out = compute_classification(y.astype(float), score, min_class=10)["pr_auc"]
        if out.status != "ok":
            continue
        reps += 1
        hits += out.lower <= truth <= out.upper
    assert hits / reps >= 0.90
