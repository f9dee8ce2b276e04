"""Confidence-based estimation: band coverage under covariate shift and the value of calibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from duckwatch.metrics.estimate import Calibrator, estimate_binary, expected_auc
from duckwatch.metrics.registry import get


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _window(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """True probabilities from a shifted latent feature; labels drawn from them (P(y | p) is fixed)."""
    p = _sigmoid(rng.normal(shift, 1.5, n))
    y = (rng.random(n) < p).astype(int)
    return p, y


def test_pav_matches_sklearn_isotonic() -> None:
    rng = np.random.default_rng(0)
    s = np.round(rng.random(2000), 3)
    y = (rng.random(2000) < s**2).astype(float)
    cal = Calibrator.fit(s, y)
    iso = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    # Knots sit at block centres, where the isotonic fit is flat, so both must agree there.
    assert np.allclose(cal.transform(cal.knots_x), iso.predict(cal.knots_x), atol=1e-9)
    grid = np.linspace(0, 1, 501)
    assert np.all(np.diff(cal.transform(grid)) >= 0)
    assert np.mean(np.abs(cal.transform(grid) - grid**2)) < 0.05


def test_expected_auc_by_hand() -> None:
    # Two rows: score 0.2 (p=0) and 0.8 (p=1) -> the positive is surely ranked above: AUC 1.
    assert expected_auc(np.array([0.2, 0.8]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    # Certain labels: expected AUC equals the realised AUC, ties included.
    s = np.array([0.1, 0.4, 0.4, 0.6, 0.9, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1], dtype=float)
    assert expected_auc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_band_covers_realised_metrics_under_covariate_shift() -> None:
    rng = np.random.default_rng(1)
    ref_p, ref_y = _window(rng, 20_000, 0.0)
    cal = Calibrator.fit(ref_p, ref_y)
    hits = {"accuracy": 0, "roc_auc": 0}
    windows = 150
    for shift in np.linspace(-1.0, 1.0, windows):
        p, y = _window(rng, 1_000, float(shift))
        est = estimate_binary(p, cal, seed=int(rng.integers(1 << 30)))
        realised = {"accuracy": float(np.mean((p >= 0.5) == y)), "roc_auc": roc_auc_score(y, p)}
        for name, value in realised.items():
            mv = est.metrics[name]
            hits[name] += mv.lower <= value <= mv.upper
    for name, count in hits.items():
        assert 0.80 <= count / windows <= 0.98, (name, count)


def test_calibration_is_what_makes_the_estimate_right() -> None:
    rng = np.random.default_rng(2)
    ref_p, ref_y = _window(rng, 20_000, 0.0)
    # Overconfident model: same ranking and decisions as p, but scores pushed towards 0 and 1.
    cal = Calibrator.fit(_sigmoid(2 * _logit(ref_p)), ref_y)
    errors: dict[str, list[float]] = {"calibrated": [], "identity": []}
    for shift in np.linspace(-1.0, 1.0, 20):
        p, y = _window(rng, 2_000, float(shift))
        scores = _sigmoid(2 * _logit(p))
        realised = float(np.mean((scores >= 0.5) == y))
        for label, c in (("calibrated", cal), ("identity", Calibrator.identity())):
            errors[label].append(
                abs(estimate_binary(scores, c, draws=20).metrics["accuracy"].value - realised)
            )
    mae_cal, mae_id = float(np.mean(errors["calibrated"])), float(np.mean(errors["identity"]))
    assert mae_cal < 0.015
    assert mae_id > 0.04 and mae_id > 3 * mae_cal


def test_expected_confusion_counts_and_small_window() -> None:
    scores = np.array([0.9, 0.8, 0.3, 0.1] * 10)
    est = estimate_binary(scores, Calibrator.identity())
    assert est.tp == pytest.approx(10 * (0.9 + 0.8))
    assert est.fp == pytest.approx(10 * (0.1 + 0.2))
    assert est.fn == pytest.approx(10 * (0.3 + 0.1))
    assert est.tn == pytest.approx(10 * (0.7 + 0.9))
    assert est.metrics["accuracy"].value == pytest.approx((est.tp + est.tn) / 40)
    tiny = estimate_binary(scores[:5], Calibrator.identity())
    assert tiny.metrics["accuracy"].status == "insufficient"
    assert get("estimated_accuracy").family == "estimate"
