"""Profiles from the Spark aggregation's rows: per (window key, column, bucket) counts and moments.

A numeric column's buckets are its reference bins (0 below, 1..K, K+1 above) split by special value,
plus -1 NULL, -2 NaN and -3 infinite; a categorical column's are its values (-1: NULL). Rows are
assembled in a fixed order, so the result does not depend on the order Spark returned them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from duckwatch.loading.profile_scan import Profile
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile, profile_category_counts
from duckwatch.store.catalog import ColumnInfo

__all__ = ["INF", "NAN", "NULL", "ROWS", "VALUE", "AggRow", "assemble"]

NULL, NAN, INF, VALUE = -1, -2, -3, -4  # bucket codes besides the bins
ROWS = -1  # the column index of the per-row counter
# (version, experiment, window start in µs UTC, column index, bucket, special index, value,
#  rows, sum, mean, population variance, min, max)
AggRow = tuple[Any, Any, Any, int, int, int, Any, int, Any, Any, Any, Any, Any]
Key = tuple[str, str, int]


def assemble(
    rows: Iterable[AggRow], columns: Sequence[ColumnInfo], reference: dict[str, Profile]
) -> tuple[dict[Key, tuple[int, dict[str, Profile]]], int]:
    """Per (version, experiment, window start µs): (rows, profile per column id); and the rows left out
    because their time, version or experiment was missing."""
    grouped: dict[Key, dict[int, list[AggRow]]] = {}
    dropped = 0
    for row in rows:
        if row[0] is None or row[1] is None or row[2] is None:
            if row[3] == ROWS:
                dropped += int(row[7])
            continue
        grouped.setdefault((str(row[0]), str(row[1]), int(row[2])), {}).setdefault(int(row[3]), []).append(
            row
        )
    out: dict[Key, tuple[int, dict[str, Profile]]] = {}
    for key in sorted(grouped):
        per_col = grouped[key]
        n_rows = sum(int(r[7]) for r in per_col.get(ROWS, []))
        profiles: dict[str, Profile] = {}
        for i, col in enumerate(columns):
            found = sorted(per_col.get(i, []), key=lambda r: (r[4], r[5], "" if r[6] is None else str(r[6])))
            ref = reference[col.col_id]
            if isinstance(ref, NumericProfile):
                profiles[col.col_id] = _numeric(found, ref)
            elif isinstance(ref, CategoricalProfile):
                profiles[col.col_id] = _categorical(found, ref)
        out[key] = (n_rows, profiles)
    return out, dropped


def _numeric(rows: list[AggRow], ref: NumericProfile) -> NumericProfile:
    binning = ref.binning
    counts = np.zeros(binning.n_bins, dtype=np.int64)
    sums = np.zeros(binning.n_bins, dtype=np.float64)
    special_counts = np.zeros(len(binning.specials), dtype=np.int64)
    n_null = n_nan = n_inf = 0
    n, mean, m2, lo, hi = 0, 0.0, 0.0, float("nan"), float("nan")
    for _v, _e, _ws, _c, bucket, special, _t, rows_, total, part_mean, var, mn, mx in rows:
        k = int(rows_)
        if bucket == NULL:
            n_null += k
        elif bucket == NAN:
            n_nan += k
        elif bucket == INF:
            n_inf += k
        else:
            counts[bucket] += k
            sums[bucket] += float(total)
            if special >= 0:
                special_counts[special] += k
            # Chan et al.: the parts' means and M2 combine exactly as profiles merge (metrics/profile.py).
            part_m2 = float(var) * k
            if n == 0:
                n, mean, m2, lo, hi = k, float(part_mean), part_m2, float(mn), float(mx)
            else:
                delta = float(part_mean) - mean
                total_n = n + k
                mean += delta * k / total_n
                m2 += part_m2 + delta * delta * n * k / total_n
                n, lo, hi = total_n, min(lo, float(mn)), max(hi, float(mx))
    return NumericProfile(binning, counts, sums, special_counts, n_null, n_nan, n_inf, n, mean, m2, lo, hi)


def _categorical(rows: list[AggRow], ref: CategoricalProfile) -> CategoricalProfile:
    counts: dict[str, int] = {}
    n_null = 0
    for row in rows:
        if row[4] == NULL or row[6] is None:
            n_null += int(row[7])
        else:
            counts[str(row[6])] = counts.get(str(row[6]), 0) + int(row[7])
    return profile_category_counts(counts, ref.vocabulary, n_null)
