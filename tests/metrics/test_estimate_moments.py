"""Big-window estimate band (exact moments + normal limit) against a brute-force simulation of all rows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import binom, rankdata
from sklearn.metrics import roc_auc_score

from duckwatch.metrics import estimate
from duckwatch.metrics.estimate import Calibrator, estimate_binary

NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")
BRUTE_DRAWS = 2_000
BAND_DRAWS = 20_000


def _calibrator(rng: np.random.Generator, ref: np.ndarray, truth: np.ndarray) -> Calibrator:
    return Calibrator.fit(ref, (rng.random(ref.size) < truth).astype(float))


def _windows() -> dict[str, tuple[np.ndarray, Calibrator, float]]:
    """(scores, calibrator, threshold) for windows of 30k-60k rows, all above SIM_MAX_ROWS."""
    rng = np.random.default_rng(11)
    ref = rng.random(50_000)
    cal = _calibrator(rng, ref, ref**1.5)
    rare_ref = rng.beta(1, 30, 50_000)
    rare_cal = _calibrator(rng, rare_ref, np.minimum(1.0, 0.5 * rare_ref))
    return {
        "balanced": (rng.beta(2, 2, 60_000), cal, 0.5),
        "rare_positives": (rng.beta(1, 30, 40_000), rare_cal, 0.06),  # ~1.6% positives
        "tied_scores": (np.round(rng.beta(2, 3, 30_000), 2), cal, 0.5),  # 101 distinct scores
        "almost_all_predicted": (rng.beta(5, 1, 30_000), cal, 0.2),  # ~5 rows predicted negative
    }


def _brute_force(scores: np.ndarray, prob: np.ndarray, threshold: float) -> np.ndarray:
    """(draws x 3) sums (TP, positives, rank sum of positives) of labels drawn for ALL rows, in row order."""
    rng = np.random.default_rng(5)
    pred = scores >= threshold
    ranks = rankdata(scores)  # scipy's average-tie ranks, independent of the module's own
    out = np.empty((BRUTE_DRAWS, 3))
    for start in range(0, BRUTE_DRAWS, 100):
        y = rng.random((100, scores.size), dtype=np.float32) < prob
        yf = y.astype(np.float64)
        out[start : start + 100] = np.column_stack([yf @ pred, yf.sum(axis=1), yf @ ranks])
        if start == 0:  # the rank-sum AUC is sklearn's AUC of the same labels
            for row in range(3):
                _, pos, rank_sum = out[row]
                got = (rank_sum - pos * (pos + 1) / 2) / (pos * (scores.size - pos))
                assert got == pytest.approx(roc_auc_score(y[row], scores), abs=1e-12)
    return out


def _brute_metrics(sums: np.ndarray, n: int, predicted: int) -> dict[str, np.ndarray]:
    tp, pos, rank_sum = sums.T
    fp, fn = predicted - tp, pos - tp
    tn = (n - predicted) - fn
    return {
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "roc_auc": (rank_sum - pos * (pos + 1) / 2) / (pos * (n - pos)),
    }


@pytest.mark.parametrize("case", list(_windows()))
def test_big_window_band_matches_brute_force_simulation(case: str) -> None:
    scores, cal, threshold = _windows()[case]
    n = scores.size
    assert n > estimate.SIM_MAX_ROWS
    prob = cal.transform(scores)
    predicted = int((scores >= threshold).sum())
    sums = _brute_force(scores, prob, threshold)

    # Moments: exact sums in row order with scipy ranks (rounding only), and the brute-force sample.
    s_sorted = np.sort(scores)
    first = int(np.searchsorted(s_sorted, threshold, side="left"))
    mean, cov = estimate._sufficient_moments(s_sorted, cal.transform(s_sorted), first)
    a = np.column_stack([scores >= threshold, np.ones(n), rankdata(scores)]).astype(np.float64)
    assert mean == pytest.approx(a.T @ prob, rel=1e-12)
    assert cov == pytest.approx(a.T @ (a * (prob * (1 - prob))[:, None]), rel=1e-10)
    # Sample mean: 5 standard errors sqrt(var/M); sample covariance of near-normal sums: 5 standard
    # errors sqrt((var_j var_k + cov_jk^2) / M).
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(sums.mean(axis=0) - mean) <= 5 * sd / np.sqrt(BRUTE_DRAWS))
    cov_se = np.sqrt((np.outer(sd, sd) ** 2 + cov**2) / BRUTE_DRAWS)
    assert np.all(np.abs(np.cov(sums.T) - cov) <= 5 * cov_se)

    # Band: the 5%/95% quantile of M draws has standard error sqrt(0.05*0.95/M)/density; for a
    # near-normal metric that is 0.047 sd = 1.44% of the 5-95 width (3.29 sd) at M = 2000 brute-force
    # draws, 0.46% at the band's 20000 draws: 1.5% combined, so allow 4 of them (6% of the width).
    # A metric moves by whole labels (1/n for accuracy, 1/predicted for precision, ~1/positives for
    # recall and F1), a lattice a continuous normal cannot follow: add half a step.
    expected_pos = float(prob.sum())
    step = {
        "accuracy": 1 / n,
        "precision": 1 / predicted,
        "recall": 1 / expected_pos,
        "f1": 2 / (predicted + expected_pos),
        "roc_auc": 1 / (expected_pos * (n - expected_pos)),
    }
    got = estimate_binary(scores, cal, threshold, draws=BAND_DRAWS)
    for name, realised in _brute_metrics(sums, n, predicted).items():
        lo, hi = np.quantile(realised, [0.05, 0.95])
        mv = got.metrics[name]
        tol = 0.06 * (hi - lo) + 0.5 * step[name]
        assert mv.status == "ok", (case, name)
        assert mv.lower == pytest.approx(lo, abs=tol), (case, name, mv, lo, hi)
        assert mv.upper == pytest.approx(hi, abs=tol), (case, name, mv, lo, hi)


def _quiet(scores: np.ndarray, cal: Calibrator, threshold: float = 0.5) -> estimate.BinaryEstimate:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimate_binary(scores, cal, threshold, draws=BAND_DRAWS)


def test_all_scores_equal_gives_binomial_band() -> None:
    n = 25_000
    got = _quiet(np.full(n, 0.7), Calibrator.identity())
    # Every row predicted positive with p = 0.7: positives ~ Binomial(n, 0.7), accuracy = precision =
    # positives / n, recall is 1 and every pair is tied (AUC exactly 0.5).
    # Tolerance: the band's quantiles from 20000 draws have standard error 0.46% of the width; the
    # binomial's skew moves its 5%/95% points by ~0.05% of the width from the normal's; ppf is on the
    # 1/n lattice.
    lo, hi = binom.ppf([0.05, 0.95], n, 0.7) / n
    width = hi - lo
    for name in ("accuracy", "precision"):
        mv = got.metrics[name]
        assert mv.value == pytest.approx(0.7)
        assert (mv.lower, mv.upper) == pytest.approx((lo, hi), abs=0.03 * width + 1 / n)
    for name, value in (("recall", 1.0), ("roc_auc", 0.5)):
        mv = got.metrics[name]
        assert (mv.value, mv.lower, mv.upper) == pytest.approx((value, value, value), abs=1e-12)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_certain_labels_give_exact_or_insufficient_metrics(p: float) -> None:
    scores = np.random.default_rng(3).random(30_000)
    predicted = float((scores >= 0.5).mean())
    got = _quiet(scores, Calibrator(knots_x=np.array([0.0, 1.0]), knots_y=np.array([p, p])))
    # Labels are known, so the band collapses on the labelled value; undefined metrics say so.
    expected: dict[str, float]
    undefined: tuple[str, ...]
    if p == 0.0:
        expected = {"accuracy": 1 - predicted, "precision": 0.0, "f1": 0.0}
        undefined = ("recall", "roc_auc")
    else:
        expected = {
            "accuracy": predicted,
            "precision": 1.0,
            "recall": predicted,
            "f1": 2 * predicted / (1 + predicted),
        }
        undefined = ("roc_auc",)
    for name, value in expected.items():
        mv = got.metrics[name]
        assert (mv.value, mv.lower, mv.upper) == pytest.approx((value, value, value), abs=1e-12), name
    for name in undefined:
        assert got.metrics[name].status == "insufficient"
        assert np.isnan(got.metrics[name].lower)


def test_nothing_predicted_positive() -> None:
    rng = np.random.default_rng(4)
    scores = rng.random(30_000)
    got = _quiet(scores, Calibrator.identity(), threshold=1.5)
    assert got.metrics["precision"].status == "insufficient"
    for name in ("recall", "f1"):
        assert (got.metrics[name].lower, got.metrics[name].upper) == (0.0, 0.0)
    # Accuracy is the share of negatives: mean of 1 - p, variance sum p(1-p) / n^2, and normal (30k
    # independent rows, skew ~0.003). The band's quantiles from 20000 draws have standard error 0.015
    # sd, so 0.1 sd is ~7 of them.
    sd = np.sqrt(np.sum(scores * (1 - scores))) / scores.size
    acc = got.metrics["accuracy"]
    assert acc.value == pytest.approx(1 - scores.mean())
    assert (acc.lower, acc.upper) == pytest.approx(
        (acc.value - 1.645 * sd, acc.value + 1.645 * sd), abs=0.1 * sd
    )
    auc = got.metrics["roc_auc"]
    assert auc.status == "ok" and 0.0 <= auc.lower < auc.value < auc.upper <= 1.0


def test_big_window_band_is_deterministic_and_ignores_row_order() -> None:
    rng = np.random.default_rng(6)
    scores = np.round(rng.beta(2, 3, 50_000), 3)
    ref = rng.random(20_000)
    cal = _calibrator(rng, ref, ref**2)
    first = estimate_binary(scores, cal)
    assert estimate_binary(scores, cal) == first
    assert estimate_binary(rng.permutation(scores), cal) == first
    other_seed = estimate_binary(scores, cal, seed=1)
    assert other_seed.metrics["accuracy"].value == first.metrics["accuracy"].value
    assert other_seed.metrics["accuracy"].lower != first.metrics["accuracy"].lower
