"""Known-answer tests for performance metrics against scikit-learn, plus empty/one-class windows."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from duckwatch.metrics import performance as perf
from duckwatch.metrics.registry import get


def _binary_data(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < p).astype(int)
    # Round scores so ties occur, exercising tie handling in AUC and average precision.
    score = np.clip(np.round(p + rng.normal(0, 0.15, n), 2), 0.0, 1.0)
    return y, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_matches_sklearn(seed: int) -> None:
    y, score = _binary_data(seed)
    pred = (score >= 0.5).astype(int)
    got = perf.compute_classification(y, score)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, score),
        "pr_auc": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, y_proba=score, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, score),
        "positive_rate": pred.mean(),
        "prevalence": y.mean(),
    }
    for name, value in expected.items():
        mv = got[name]
        assert mv.status == "ok", name
        assert mv.value == pytest.approx(value, abs=1e-12), name
        assert mv.lower <= mv.value <= mv.upper, name
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (got["tp"].value, got["fp"].value, got["tn"].value, got["fn"].value) == (tp, fp, tn, fn)


def test_log_loss_clips_like_sklearn() -> None:
    y = np.array([0, 1] * 20)
    score = np.where(y == 1, 0.0, 1.0)  # confidently wrong everywhere: needs clipping
    got = perf.compute_classification(y, score)["log_loss"].value
    assert got == pytest.approx(skm.log_loss(y, y_proba=score, labels=[0, 1]))


def test_explicit_predictions_override_threshold() -> None:
    y, score = _binary_data(3)
    pred = (score >= 0.3).astype(int)
    got = perf.compute_classification(y, score, pred)
    assert got["recall"].value == pytest.approx(skm.recall_score(y, pred))
    assert perf.compute_classification(y, score, threshold=0.3)["recall"].value == got["recall"].value


def test_ece_by_hand() -> None:
    # Bin [0.1, 0.2): probs 0.15 x 4, observed 1 of 4 -> gap 0.1; bin [0.9, 1.0]: 1.0 x 2, observed 2 -> 0.
    y = np.array([1, 0, 0, 0, 1, 1])
    p = np.array([0.15, 0.15, 0.15, 0.15, 1.0, 1.0])
    assert perf.expected_calibration_error(y, p) == pytest.approx(4 / 6 * 0.1)


def test_average_precision_matches_sklearn_with_heavy_ties() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 4, 300) / 4
    assert perf.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("prevalence", [0.002, 0.3, 0.97])
def test_ranked_metrics_match_sklearn(ties: bool, prevalence: float) -> None:
    """AUC and AP from the two sorted halves equal sklearn's, with ties and lopsided classes."""
    rng = np.random.default_rng(int(prevalence * 1000) + ties)
    y = rng.uniform(size=20_000) < prevalence
    s = rng.normal(size=y.size) + 0.7 * y
    if ties:
        s = np.round(s, 1)
    auc, _, ap = perf.ranked_metrics(y, s)
    assert auc == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
    assert ap == pytest.approx(skm.average_precision_score(y, s), rel=1e-12)


def test_single_class_window_is_insufficient_without_warnings() -> None:
    y = np.zeros(50, dtype=int)
    score = np.linspace(0.0, 0.9, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = perf.compute_classification(y, score)
    assert got["roc_auc"].status == "insufficient"
    assert "only one class present" in got["roc_auc"].reason
    assert math.isnan(got["roc_auc"].value)
    assert got["recall"].status == "insufficient"
    assert got["accuracy"].status == "ok"
    assert got["accuracy"].value == pytest.approx(skm.accuracy_score(y, score >= 0.5))


def test_unlabelled_window_is_insufficient() -> None:
    y = np.full(100, np.nan)
    y[:3] = [0, 1, 1]
    got = perf.compute_classification(y, np.full(100, 0.7))
    assert got["accuracy"].status == "insufficient"
    assert got["accuracy"].reason == "not enough labels: 3 labelled rows, need 30"
    # Positive rate needs no labels, so it is still available.
    assert got["positive_rate"].status == "ok" and got["positive_rate"].value == 1.0
    empty = perf.compute_classification(np.array([]), np.array([]))
    assert all(v.status == "insufficient" for v in empty.values())
    assert perf.compute_regression([], [])["mae"].status == "insufficient"


def test_min_labelled_is_configurable() -> None:
    y, score = _binary_data(0, n=10)
    assert perf.compute_classification(y, score, min_labelled=5)["accuracy"].status == "ok"


def test_wilson_coverage() -> None:
    rng = np.random.default_rng(42)
    true_p, n = 0.3, 200
    hits = 0
    for successes in rng.binomial(n, true_p, size=500):
        lo, hi = perf.wilson_interval(int(successes), n)
        hits += lo <= true_p <= hi
    assert 0.92 <= hits / 500 <= 0.98


def test_delong_interval_covers_true_auc() -> None:
    # Binormal model: positives ~ N(1, 1), negatives ~ N(0, 1), true AUC = Phi(1 / sqrt(2)).
    from scipy.stats import norm

    true_auc = float(norm.cdf(1 / math.sqrt(2)))
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(300):
        y = np.r_[np.ones(60), np.zeros(90)]
        s = np.r_[rng.normal(1, 1, 60), rng.normal(0, 1, 90)]
        mv = perf.compute_classification(y, s)["roc_auc"]
        hits += mv.lower <= true_auc <= mv.upper
    assert 0.90 <= hits / 300 <= 0.98


@pytest.mark.parametrize("ties", [False, True])
def test_delong_auc_and_error_are_the_textbook_formulas(ties: bool) -> None:
    """AUC = sklearn's; the DeLong standard error from placement values ranked in row order with scipy."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(21)
    y = (rng.uniform(size=5000) < 0.3).astype(float)
    s = rng.normal(size=5000) + y
    if ties:
        s = np.round(s, 1)
    auc, se = perf.delong_auc(y, s)
    assert auc == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
    pos, neg = s[y == 1], s[y == 0]
    m, n = pos.size, neg.size
    combined = rankdata(np.concatenate([pos, neg]))
    v10 = (combined[:m] - rankdata(pos)) / n
    v01 = 1.0 - (combined[m:] - rankdata(neg)) / m
    assert se == pytest.approx(math.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n), rel=1e-9)


def test_multiclass_matches_sklearn() -> None:
    rng = np.random.default_rng(11)
    classes = ["cat", "dog", "eel"]
    logits = rng.normal(size=(500, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(classes, p=row) for row in proba])
    pred = np.array(classes)[proba.argmax(axis=1)]
    got = perf.compute_multiclass(y, proba=proba, classes=classes)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision_macro": skm.precision_score(y, pred, average="macro"),
        "recall_macro": skm.recall_score(y, pred, average="macro"),
        "f1_macro": skm.f1_score(y, pred, average="macro"),
        "f1_weighted": skm.f1_score(y, pred, average="weighted"),
        "log_loss": skm.log_loss(y, y_proba=proba, labels=classes),
        "roc_auc_ovr": skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes),
    }
    for name, value in expected.items():
        assert got[name].status == "ok", name
        assert got[name].value == pytest.approx(value, abs=1e-12), name
        assert got[name].lower <= got[name].value <= got[name].upper, name


def test_multiclass_int_labels_and_missing_class() -> None:
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 200)  # class 2 never appears in the labels
    proba = rng.dirichlet([1, 1, 1], size=200)
    got = perf.compute_multiclass(y, proba=proba, classes=[0, 1, 2])
    assert got["roc_auc_ovr"].status == "insufficient"
    assert "absent" in got["roc_auc_ovr"].reason
    pred = proba.argmax(axis=1)
    assert got["accuracy"].value == pytest.approx(skm.accuracy_score(y, pred))
    labels = [0, 1, 2]
    assert got["log_loss"].value == pytest.approx(skm.log_loss(y, y_proba=proba, labels=labels))
    few = perf.compute_multiclass([None, "a", "b"], y_pred=["a", "a", "b"])
    assert few["accuracy"].reason == "not enough labels: 2 labelled rows, need 30"


def test_regression_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(10, 3, 300)
    y[:7] = 0.0
    pred = y + rng.normal(0.5, 1.0, 300)
    got = perf.compute_regression(y, pred)
    nz = y != 0
    expected = {
        "mae": skm.mean_absolute_error(y, pred),
        "rmse": math.sqrt(skm.mean_squared_error(y, pred)),
        "mape": skm.mean_absolute_percentage_error(y[nz], pred[nz]),
        "r2": skm.r2_score(y, pred),
        "mean_error": float(np.mean(pred - y)),
    }
    for name, value in expected.items():
        assert got[name].value == pytest.approx(value, rel=1e-12), name
        assert got[name].lower <= got[name].value <= got[name].upper, name
    assert got["mape"].note == "skipped 7 rows with zero target"
    assert got["mape"].n == 293
    constant = perf.compute_regression(np.ones(40), np.ones(40))
    assert constant["r2"].status == "insufficient" and constant["mae"].value == 0.0


def test_business_value_and_value_at_stake() -> None:
    counts = perf.ConfusionCounts(tp=10, fp=5, tn=80, fn=5)
    assert perf.business_value(counts, {"tp": 100, "fp": -10, "fn": -50}) == 1000 - 50 - 250
    total = perf.row_value_sum([1.0, 2.0, np.nan, 3.0])
    assert total.value == 6.0 and total.n == 3 and total.lower < 6.0 < total.upper
    assert perf.value_at_stake(0.90, 0.88, 10_000, 0.5) == pytest.approx(10_000)
    assert perf.value_at_stake(0.88, 0.90, 10_000, 0.5) == 0.0
    assert perf.value_at_stake(0.30, 0.35, 100, 1.0, higher_is_better=False) == pytest.approx(500)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=30, max_size=80))
def test_row_order_does_not_matter(rows: list[tuple[bool, float]]) -> None:
    y = np.array([r[0] for r in rows], dtype=int)
    s = np.array([r[1] for r in rows])
    perm = np.random.default_rng(len(rows)).permutation(len(rows))
    a = perf.compute_classification(y, s)
    b = perf.compute_classification(y[perm], s[perm])
    for name in ("accuracy", "roc_auc", "pr_auc", "log_loss", "brier", "ece"):
        if a[name].status == "ok":
            assert a[name].value == pytest.approx(b[name].value, abs=1e-9), name
        else:
            assert b[name].status == "insufficient"


def test_metrics_are_registered() -> None:
    spec = get("roc_auc")
    assert spec.family == "performance" and spec.shape == "scalar_series" and spec.kinds == ("model",)
    assert spec.fn is not None
    y, score = _binary_data(0)
    assert spec.fn(y, score).value == pytest.approx(skm.roc_auc_score(y, score))


def test_every_table_metric_is_registered_and_computes() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=60)
    assert get("mae").fn is not None
    assert get("mae").fn(y, y + 1.0).value == pytest.approx(1.0)
    labels = ["a", "b"] * 30
    assert get("f1_macro").fn(labels, y_pred=labels).value == 1.0
    assert get("log_loss").higher_is_worse and not get("accuracy").higher_is_worse


@pytest.mark.parametrize(
    ("y", "score"),
    [
        (np.ones(40), np.full(40, 0.2)),  # no predicted positives, one class
        (np.r_[np.ones(20), np.zeros(20)], np.r_[np.full(39, 0.5), np.nan]),  # a missing score
        (np.r_[np.ones(20), np.zeros(20)], np.linspace(-3, 3, 40)),  # margins, not probabilities
    ],
)
def test_degenerate_windows_never_raise_or_warn(y: np.ndarray, score: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = perf.compute_classification(y, score)
    for mv in got.values():
        assert (mv.status == "ok") == (not math.isnan(mv.value)), mv
        assert mv.status == "ok" or mv.reason


def test_rare_class_metrics_need_enough_rows_of_that_class() -> None:
    rng = np.random.default_rng(3)
    y = np.zeros(500)
    y[:4] = 1  # four frauds in a day
    score = np.clip(rng.uniform(size=500) * 0.6 + y * 0.3, 0, 1)
    out = perf.compute_classification(y, score)
    for name in ("recall", "f1", "roc_auc", "pr_auc"):
        assert out[name].status == "insufficient" and "need 10" in out[name].reason, name
    assert out["accuracy"].status == "ok"
    enough = perf.compute_classification(y, score, min_class=2)
    assert enough["recall"].status == "ok"


def test_bootstrap_on_a_subsample_matches_the_full_bootstrap_width(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    n = 60_000
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < p).astype(float)
    fast = perf.compute_classification(y, p)["brier"]
    monkeypatch.setattr(perf, "BOOT_MAX_ROWS", 10**9)  # the full bootstrap, for comparison
    full = perf.compute_classification(y, p)["brier"]
    assert fast.value == pytest.approx(full.value)
    width_fast, width_full = fast.upper - fast.lower, full.upper - full.lower
    assert 0.8 < width_fast / width_full < 1.25
    assert fast.lower < fast.value < fast.upper
