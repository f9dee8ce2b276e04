"""Rolling baseline: each window against the merged profiles of its K previous windows (explanatory)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.loading.profiling import profile_from_json
from duckwatch.metrics.drift import drift_cell
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile, merge
from duckwatch.store import catalog, profile_queries
from duckwatch.store.warehouse import Warehouse

__all__ = [
    "MAX_ROLLING_WINDOWS",
    "OUTPUT_ROLES",
    "ROLLING_SUFFIX",
    "baseline_rows",
    "rolling_rows",
    "rolling_windows",
]

Profile = NumericProfile | CategoricalProfile
# A baseline is merged from stored profiles each time a window is computed; 60 keeps that under ~0.1 s.
MAX_ROLLING_WINDOWS = 60
ROLLING_SUFFIX = "_vs_rolling"
OUTPUT_ROLES = ("score", "prediction")


def rolling_windows(meta: Mapping[str, Any]) -> int:
    """K from model meta ``rolling_baseline_windows`` (0 = off; capped at MAX_ROLLING_WINDOWS)."""
    k = meta.get("rolling_baseline_windows")
    if isinstance(k, bool) or not isinstance(k, int | float | str):
        return 0
    try:
        value = int(k)
    except ValueError:
        return 0
    return max(0, min(value, MAX_ROLLING_WINDOWS))


def rolling_rows(
    wh: Warehouse,
    info: catalog.ModelInfo,
    window: tuple[str, str, datetime],
    k: int,
    profiles: dict[str, Profile],
    by_id: dict[str, catalog.ColumnInfo],
) -> list[dict[str, Any]]:
    """Drift of each column against the K most recent earlier windows (same version/experiment) merged.

    Windows without rows have no profiles and are skipped, so the baseline is the last K windows that
    saw traffic. Like the previous-window rows these explain, with status always "ok"; the no-drift
    band is resampled from the baseline at this window's size.
    """
    version, experiment, ws = window
    starts = profile_queries.earlier_profile_starts(wh, info.model, version, experiment, ws, k)
    if not starts:
        return []
    baseline: dict[str, Profile] = {}
    for col_id, kind, text in profile_queries.profiles_at_starts(wh, info.model, version, experiment, starts):
        part = profile_from_json(kind, text)
        old = baseline.get(col_id)
        baseline[col_id] = part if old is None else merge(old, part)
    first, last = pd.Timestamp(min(starts)), pd.Timestamp(max(starts))
    count = f"{len(starts)} window" if len(starts) == 1 else f"{len(starts)} windows"
    label = f"vs last {count} ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M})"
    windows = [str(s) for s in sorted(starts)]
    return baseline_rows(
        baseline,
        profiles,
        by_id,
        ROLLING_SUFFIX,
        label,
        lambda base: {"baseline_windows": windows, "baseline_n": base.n},
    )


def baseline_rows(
    baseline: Mapping[str, Profile],
    profiles: Mapping[str, Profile],
    by_id: Mapping[str, catalog.ColumnInfo],
    suffix: str,
    method: str,
    details: Callable[[Profile], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Explanatory drift rows of each column against a baseline profile (status always "ok").

    Shared by the previous-window and the rolling comparisons: the baseline shares the reference's
    bins, so KS bounds stay rigorous; the no-drift band is resampled from the baseline at this
    window's size.
    """
    rows: list[dict[str, Any]] = []
    for col_id, cur in profiles.items():
        base, col = baseline.get(col_id), by_id.get(col_id)
        if base is None or col is None or type(base) is not type(cur) or not (base.n and cur.n):
            continue
        cell = drift_cell(base, cur)
        rows.append(
            {"family": "output" if col.role in OUTPUT_ROLES else "drift",
             "metric": f"{cell.metric}{suffix}", "col": col.name, "value": cell.value,
             "lower": cell.result.lower, "upper": cell.result.upper, "exact": cell.result.exact,
             "threshold": max(cell.threshold, cell.floor), "n": cur.n, "status": "ok", "method": method,
             "details": json.dumps({"p_value": cell.p_value, **details(base)})}
        )  # fmt: skip
    return rows
