"""Fairness rules checked by hand calculation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from duckwatch.metrics.fairness import evaluate_fairness, four_fifths, group_rates, max_gap


def _rows() -> tuple[list[str], list[int], list[int]]:
    # Group A: 100 rows, 50 positives of which 40 predicted positive, 50 negatives of which 10 predicted.
    # Group B: 100 rows, 50 positives of which 30 predicted positive, 50 negatives of which 5 predicted.
    groups, y_true, y_pred = [], [], []
    for name, tp, fp in (("A", 40, 10), ("B", 30, 5)):
        groups += [name] * 100
        y_true += [1] * 50 + [0] * 50
        y_pred += [1] * tp + [0] * (50 - tp) + [1] * fp + [0] * (50 - fp)
    return groups, y_true, y_pred


def test_group_rates_by_hand() -> None:
    rates = group_rates(*_rows()[::2], _rows()[1])
    a, b = rates["A"], rates["B"]
    assert (a.positive_rate, a.tpr, a.fpr) == pytest.approx((0.5, 0.8, 0.2))
    assert (b.positive_rate, b.tpr, b.fpr) == pytest.approx((0.35, 0.6, 0.1))
    assert (a.n, a.n_pos, a.n_neg) == (100, 50, 50)


def test_rules_by_hand() -> None:
    groups, y_true, y_pred = _rows()
    rates = group_rates(groups, y_pred, y_true)
    ff = four_fifths(rates)
    assert ff.value == pytest.approx(0.35 / 0.5) and ff.passed is False
    assert (ff.best_group, ff.worst_group) == ("A", "B")
    tpr = max_gap(rates, "tpr", 0.1)
    assert tpr.value == pytest.approx(0.2) and tpr.passed is False
    fpr = max_gap(rates, "fpr", 0.1)
    assert fpr.value == pytest.approx(0.1) and fpr.passed is True
    assert four_fifths(rates, threshold=0.7).passed is True


def test_small_groups_are_too_small_to_judge() -> None:
    groups, y_true, y_pred = _rows()
    groups += ["C"] * 10
    y_true += [1] * 10
    y_pred += [0] * 10  # would fail every rule if it were judged
    results = {r.rule: r for r in evaluate_fairness(groups, y_pred, y_true, min_group_size=30)}
    assert results["four_fifths"].too_small == ["C"]
    assert results["four_fifths"].worst_group == "B"
    assert "C" in results["tpr_gap"].too_small and results["tpr_gap"].value == pytest.approx(0.2)
    only_one = four_fifths(group_rates(["A"] * 50 + ["C"] * 5, np.ones(55)))
    assert only_one.passed is None and math.isnan(only_one.value) and only_one.too_small == ["C"]


def test_without_labels_only_positive_rate_rule() -> None:
    groups, _, y_pred = _rows()
    results = evaluate_fairness(groups, y_pred)
    assert [r.rule for r in results] == ["four_fifths"]
