"""Where a performance metric of an n-row window lands when the model performs as on its reference.

The reference has labels, so the sampling distribution of every metric at a window's size is known
before the first production window: a window of n rows drawn from the reference's distribution gives
the reference value ± ``unit_se / sqrt(n)``. The unit standard error comes from the metric's own pinned
interval on the reference (Wilson for proportions, DeLong for ROC AUC, the delta method for F1, the
logit interval for PR AUC, t-intervals for mean losses, the seeded bootstrap for the rest), scaled by
the square root of the metric's n: every one of them shrinks as 1/sqrt(n). Estimated performance
(CBPE) gets the same from a seeded bootstrap of the estimator over the reference's scores.

The window is compared with a reference that is itself a sample, so the spread of window − reference
is ``unit_se * sqrt(1/n + 1/n_reference)`` (`Band.se`). Pure numpy: arrays in, bands out.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from duckwatch.metrics.estimate import Calibrator, expected_auc_sorted
from duckwatch.metrics.performance_core import Z95, MetricValue

__all__ = ["ESTIMATE_RESAMPLES", "Band", "estimate_bands", "metric_bands"]

ESTIMATE_RESAMPLES = 200  # bootstrap resamples of the estimator: ~5% relative error on its spread
ESTIMATE_SAMPLE_ROWS = 5_000  # rows per resample (the spread is scaled to any window size after)


@dataclass(frozen=True)
class Band:
    """A metric on the reference: its value, standard error of one row (se at n rows: unit_se/sqrt(n)),
    and the reference's own n for it."""

    center: float
    unit_se: float
    n_reference: int

    def se(self, n: float) -> float:
        """Standard error of (window value − reference value) for a window whose metric counts ``n``."""
        if not n or n <= 0 or self.n_reference <= 0:
            return math.nan
        return self.unit_se * math.sqrt(1.0 / n + 1.0 / self.n_reference)

    def as_dict(self) -> dict[str, float | int]:
        return {"center": self.center, "unit_se": self.unit_se, "n": self.n_reference}


def metric_bands(metrics: Mapping[str, MetricValue]) -> dict[str, Band]:
    """Bands of realised metrics computed on the reference (``compute_classification`` and friends):
    the wider half of each 95% interval is 1.96 standard errors at the metric's n (the wider half: the
    side towards the middle of a bounded metric, where a drop goes, is the honest one)."""
    out: dict[str, Band] = {}
    for name, mv in metrics.items():
        if mv.status != "ok" or mv.n <= 0 or not all(map(math.isfinite, (mv.value, mv.lower, mv.upper))):
            continue
        half = max(mv.value - mv.lower, mv.upper - mv.value)
        if half > 0:
            out[name] = Band(float(mv.value), half / Z95 * math.sqrt(mv.n), int(mv.n))
    return out


def _estimates(
    s_sorted: NDArray[np.float64], prob: NDArray[np.float64], threshold: float
) -> dict[str, float]:
    """Estimated accuracy, precision, recall, F1 and ROC AUC of sorted scores (as `estimate_binary`)."""
    n = s_sorted.size
    first = int(np.searchsorted(s_sorted, threshold, side="left"))
    pos, neg = prob[first:], prob[:first]
    tp, fp = float(pos.sum()), float(pos.size - pos.sum())
    fn, tn = float(neg.sum()), float(neg.size - neg.sum())
    nan = math.nan
    return {
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp > 0 else nan,
        "recall": tp / (tp + fn) if tp + fn > 0 else nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else nan,
        "roc_auc": expected_auc_sorted(s_sorted, prob),
    }


def estimate_bands(
    scores: NDArray[np.float64], calibrator: Calibrator, *, threshold: float = 0.5, key: str = ""
) -> dict[str, Band]:
    """Bands of the estimated metrics (named ``estimated_<metric>``): the estimate on the reference's
    scores, and its spread over resamples of them, seeded by ``key`` (the model): the same reference
    gives the same bands in every process."""
    s = np.sort(scores[np.isfinite(scores)])
    n = int(s.size)
    if n < 100:
        return {}
    center = _estimates(s, calibrator.transform(s), threshold)
    size = min(n, ESTIMATE_SAMPLE_ROWS)
    rng = np.random.default_rng(zlib.crc32(f"reference-band:{key}".encode()))
    draws: dict[str, list[float]] = {name: [] for name in center}
    for _ in range(ESTIMATE_RESAMPLES):
        sample = np.sort(s[rng.integers(0, n, size)])
        for name, value in _estimates(sample, calibrator.transform(sample), threshold).items():
            draws[name].append(value)
    out: dict[str, Band] = {}
    for name, value in center.items():
        values = np.asarray(draws[name])
        values = values[np.isfinite(values)]
        if math.isfinite(value) and values.size >= ESTIMATE_RESAMPLES // 2:
            spread = float(values.std(ddof=1))
            if spread > 0:
                out[f"estimated_{name}"] = Band(value, spread * math.sqrt(size), n)
    return out
