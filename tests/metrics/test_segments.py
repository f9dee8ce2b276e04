"""Segment degradation ranking: within-segment tests, BH control, small segments skipped."""

from __future__ import annotations

import numpy as np
import pytest

from duckwatch.metrics.segments import benjamini_hochberg, rank_degraded_segments


def test_benjamini_hochberg_by_hand() -> None:
    # Sorted p = [0.01, 0.02, 0.03, 0.5]; p*m/rank = [0.04, 0.04, 0.04, 0.5].
    q = benjamini_hochberg(np.array([0.03, 0.5, 0.01, 0.02]))
    assert q == pytest.approx([0.04, 0.5, 0.04, 0.04])


def test_only_the_degraded_segment_is_reported_first() -> None:
    ref = {f"region_{i}": (900, 1000) for i in range(8)}
    cur = dict(ref)
    cur["region_3"] = (840, 1000)  # accuracy 0.90 -> 0.84
    cur["region_5"] = (905, 1000)  # slight improvement: never reported
    report = rank_degraded_segments(ref, cur)
    assert report.ranked[0].segment == "region_3"
    assert [r.segment for r in report.degraded] == ["region_3"]
    assert report.ranked[0].degradation == pytest.approx(0.06)


def test_mix_shift_without_degradation_reports_nothing() -> None:
    # Overall accuracy falls from 0.86 to 0.74 only because traffic moves to the weaker segment.
    ref = {"strong": (7200, 8000), "weak": (1400, 2000)}
    cur = {"strong": (1800, 2000), "weak": (5600, 8000)}
    overall_ref = sum(s for s, _ in ref.values()) / 10_000
    overall_cur = sum(s for s, _ in cur.values()) / 10_000
    assert overall_ref - overall_cur > 0.1
    report = rank_degraded_segments(ref, cur)
    assert report.degraded == []
    assert len(report.ranked) == 2


def test_small_segments_and_extra_levels_are_skipped_with_counts() -> None:
    ref = {"big": (900, 1000), "tiny": (9, 10), "new_only_in_ref": (90, 100)}
    cur = {"big": (900, 1000), "tiny": (0, 10)}
    report = rank_degraded_segments(ref, cur, min_n=100)
    assert [r.segment for r in report.ranked] == ["big"]
    assert report.skipped_small == 2
    many = {f"s{i}": (50, 100 + i) for i in range(25)}
    report = rank_degraded_segments(many, many, top_levels=20)
    assert len(report.ranked) == 20 and report.skipped_levels == 5


def test_lower_is_better_metric() -> None:
    ref = {"a": (100, 1000), "b": (100, 1000)}
    cur = {"a": (160, 1000), "b": (100, 1000)}  # error rate rises in "a"
    report = rank_degraded_segments(ref, cur, higher_is_better=False)
    assert [r.segment for r in report.degraded] == ["a"]
