"""Group fairness for a sensitive column: per-group rates and pass/fail rules with their numbers.

Rates: positive rate (share predicted positive), TPR (recall among actual positives) and FPR (share of
actual negatives predicted positive). A group is judged on a rate only if the rows behind that rate
(all rows, actual positives, actual negatives) reach ``min_group_size``; otherwise it is listed as
"too small to judge" rather than silently passing or failing the rule.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["GroupRates", "RuleResult", "evaluate_fairness", "four_fifths", "group_rates", "max_gap"]

RATES = ("positive_rate", "tpr", "fpr")


@dataclass(frozen=True)
class GroupRates:
    """Rates of one group, with the row counts behind each."""

    group: Hashable
    n: int
    n_pos: int
    n_neg: int
    positive_rate: float
    tpr: float
    fpr: float

    def base(self, rate: str) -> int:
        """Rows behind ``rate``: all rows, actual positives or actual negatives."""
        return {"positive_rate": self.n, "tpr": self.n_pos, "fpr": self.n_neg}[rate]


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one fairness rule; ``passed`` is None when fewer than two groups can be judged."""

    rule: str
    rate: str
    passed: bool | None
    value: float
    limit: float
    best_group: Hashable | None
    worst_group: Hashable | None
    per_group: dict[Hashable, float] = field(default_factory=dict)
    too_small: list[Hashable] = field(default_factory=list)
    reason: str = ""


def group_rates(
    groups: ArrayLike, y_pred: ArrayLike, y_true: ArrayLike | None = None
) -> dict[Hashable, GroupRates]:
    """Per-group positive rate, TPR and FPR (NaN where a group has no rows of that kind)."""
    g = np.asarray(groups, dtype=object)
    pred = np.asarray(y_pred).astype(np.float64) > 0.5
    truth = None if y_true is None else np.asarray(y_true, dtype=np.float64)
    out: dict[Hashable, GroupRates] = {}
    for level in dict.fromkeys(g.tolist()):
        mask = g == level
        p = pred[mask]
        if truth is None:
            n_pos = n_neg = 0
            tpr = fpr = math.nan
        else:
            t = truth[mask]
            pos, neg = t == 1, t == 0  # NaN (unlabelled) rows are neither
            n_pos, n_neg = int(pos.sum()), int(neg.sum())
            tpr = float(p[pos].mean()) if n_pos else math.nan
            fpr = float(p[neg].mean()) if n_neg else math.nan
        out[level] = GroupRates(level, int(mask.sum()), n_pos, n_neg, float(p.mean()), tpr, fpr)
    return out


def _judgeable(
    rates: Mapping[Hashable, GroupRates], rate: str, min_group_size: int
) -> tuple[dict[Hashable, float], list[Hashable]]:
    values: dict[Hashable, float] = {}
    too_small: list[Hashable] = []
    for group, r in rates.items():
        if r.base(rate) < min_group_size or math.isnan(getattr(r, rate)):
            too_small.append(group)
        else:
            values[group] = float(getattr(r, rate))
    return values, too_small


def four_fifths(
    rates: Mapping[Hashable, GroupRates],
    rate: str = "positive_rate",
    threshold: float = 0.8,
    min_group_size: int = 30,
) -> RuleResult:
    """Disparate-impact rule: the lowest group's rate divided by the highest must be at least ``threshold``."""
    values, too_small = _judgeable(rates, rate, min_group_size)
    if len(values) < 2:
        return RuleResult(
            "four_fifths",
            rate,
            None,
            math.nan,
            threshold,
            None,
            None,
            values,
            too_small,
            "fewer than two groups large enough to judge",
        )
    best = max(values, key=values.__getitem__)
    worst = min(values, key=values.__getitem__)
    ratio = values[worst] / values[best] if values[best] > 0 else 1.0  # all zero: nobody favoured
    return RuleResult(
        "four_fifths", rate, ratio >= threshold, ratio, threshold, best, worst, values, too_small
    )


def max_gap(
    rates: Mapping[Hashable, GroupRates], rate: str = "tpr", limit: float = 0.1, min_group_size: int = 30
) -> RuleResult:
    """Absolute-gap rule: highest minus lowest group rate must be at most ``limit``."""
    values, too_small = _judgeable(rates, rate, min_group_size)
    if len(values) < 2:
        return RuleResult(
            f"{rate}_gap",
            rate,
            None,
            math.nan,
            limit,
            None,
            None,
            values,
            too_small,
            "fewer than two groups large enough to judge",
        )
    best = max(values, key=values.__getitem__)
    worst = min(values, key=values.__getitem__)
    gap = values[best] - values[worst]
    return RuleResult(f"{rate}_gap", rate, gap <= limit, gap, limit, best, worst, values, too_small)


def evaluate_fairness(
    groups: ArrayLike,
    y_pred: ArrayLike,
    y_true: ArrayLike | None = None,
    *,
    min_group_size: int = 30,
    gap_limit: float = 0.1,
) -> list[RuleResult]:
    """Default rules: four-fifths on positive rate, and TPR/FPR gaps when labels are given."""
    rates = group_rates(groups, y_pred, y_true)
    results = [four_fifths(rates, min_group_size=min_group_size)]
    if y_true is not None:
        results.append(max_gap(rates, "tpr", gap_limit, min_group_size))
        results.append(max_gap(rates, "fpr", gap_limit, min_group_size))
    return results
