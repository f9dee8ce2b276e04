"""Which segments degraded? Per-segment two-proportion tests with Benjamini-Hochberg control.

Each segment is compared with ITSELF in the reference, so a change in segment mix (more traffic from a
weaker segment) moves the overall metric but reports no degraded segment.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from duckwatch.metrics.special import ndtr

__all__ = ["SegmentReport", "SegmentResult", "benjamini_hochberg", "rank_degraded_segments"]


@dataclass(frozen=True)
class SegmentResult:
    """One segment's reference and current rate, test statistics and ranking score."""

    segment: Hashable
    ref_rate: float
    cur_rate: float
    ref_n: int
    cur_n: int
    degradation: float
    z: float
    p_value: float
    q_value: float
    significant: bool
    score: float


@dataclass(frozen=True)
class SegmentReport:
    """Tested segments (worst first), the significant ones, and how many were skipped and why."""

    ranked: list[SegmentResult]
    skipped_small: int
    skipped_levels: int

    @property
    def degraded(self) -> list[SegmentResult]:
        """Segments whose degradation survives the false-discovery control, worst first."""
        return [r for r in self.ranked if r.significant]


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), same order as the input."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    # Enforce monotonicity from the largest p downwards, as in the step-up procedure.
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    return q


def _one_sided_test(
    s_ref: int, n_ref: int, s_cur: int, n_cur: int, higher_is_better: bool
) -> tuple[float, float]:
    """Pooled two-proportion z statistic (positive = worse) and its one-sided p-value."""
    pooled = (s_ref + s_cur) / (n_ref + n_cur)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    diff = s_ref / n_ref - s_cur / n_cur
    worse = diff if higher_is_better else -diff
    if se == 0:
        # Both windows all-success or all-failure: identical rates, nothing to detect.
        return 0.0, 1.0
    z = worse / se
    return z, ndtr(-z)


def rank_degraded_segments(
    ref: Mapping[Hashable, tuple[int, int]],
    cur: Mapping[Hashable, tuple[int, int]],
    min_n: int = 100,
    top_levels: int = 20,
    q: float = 0.05,
    *,
    higher_is_better: bool = True,
) -> SegmentReport:
    """Rank segments by degradation of a proportion metric, given (successes, n) per segment.

    Only degradation is tested (one-sided), at false discovery rate ``q`` across the tested segments.
    Segments with fewer than ``min_n`` rows in either window are skipped; of the rest only the
    ``top_levels`` largest by current volume are tested, so rare levels cannot flood the list.
    Score = degradation (rate points) x -log10(p): large AND clear drops come first.
    """
    eligible = [seg for seg in cur if seg in ref and ref[seg][1] >= min_n and cur[seg][1] >= min_n]
    skipped_small = len(set(cur) | set(ref)) - len(eligible)
    eligible.sort(key=lambda seg: (-cur[seg][1], str(seg)))
    tested, skipped_levels = eligible[:top_levels], max(0, len(eligible) - top_levels)
    rows = [_one_sided_test(*ref[seg], *cur[seg], higher_is_better) for seg in tested]
    q_values = benjamini_hochberg(np.array([p for _, p in rows]))
    results: list[SegmentResult] = []
    for seg, (z, p), q_value in zip(tested, rows, q_values, strict=True):
        ref_rate, cur_rate = ref[seg][0] / ref[seg][1], cur[seg][0] / cur[seg][1]
        degradation = ref_rate - cur_rate if higher_is_better else cur_rate - ref_rate
        score = degradation * -math.log10(max(p, 1e-300))
        results.append(
            SegmentResult(
                segment=seg,
                ref_rate=ref_rate,
                cur_rate=cur_rate,
                ref_n=ref[seg][1],
                cur_n=cur[seg][1],
                degradation=degradation,
                z=z,
                p_value=p,
                q_value=float(q_value),
                significant=bool(q_value <= q and degradation > 0),
                score=score,
            )
        )
    results.sort(key=lambda r: -r.score)
    return SegmentReport(ranked=results, skipped_small=skipped_small, skipped_levels=skipped_levels)
