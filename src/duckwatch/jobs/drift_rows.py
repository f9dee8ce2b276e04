"""A window's label-free drift and data-quality rows against the reference (and, opt-in, against the
previous window): the rows a labels-only tick keeps from the window's last full computation."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.jobs.details import details_json
from duckwatch.jobs.drift_raw import RawRows
from duckwatch.jobs.drift_rolling import OUTPUT_ROLES, baseline_rows
from duckwatch.jobs.profiling import window_profiles
from duckwatch.metrics import quality
from duckwatch.metrics.drift import DEFAULT_METHOD, decide, drift_cell
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import get
from duckwatch.store import catalog, profile_queries
from duckwatch.store.warehouse import Warehouse

__all__ = ["drift_and_quality_rows", "previous_window_rows"]


def drift_and_quality_rows(
    reference: dict[str, NumericProfile | CategoricalProfile],
    profiles: dict[str, NumericProfile | CategoricalProfile],
    by_id: dict[str, catalog.ColumnInfo],
    raw: RawRows | None = None,
    window: tuple[str, str, datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cells = []
    for col_id, cur in profiles.items():
        ref = reference.get(col_id)
        col = by_id.get(col_id)
        if ref is None or col is None or type(ref) is not type(cur):
            continue
        family = "output" if col.role in OUTPUT_ROLES else "drift"
        if cur.n > 0 and ref.n > 0:
            cell = drift_cell(ref, cur)
            cells.append((col, family, cell))
            kind = "numeric" if isinstance(ref, NumericProfile) else "categorical"
            for name in DEFAULT_METHOD[kind].report:
                res = get(name).fn(ref, cur)  # type: ignore[misc]
                rows.append(
                    {"family": family, "metric": name, "col": col.name, "value": res.value, "lower": res.lower,
                     "upper": res.upper, "exact": res.exact, "method": res.method, "n": cur.n, "status": "ok",
                     "details": details_json({"p_value": res.p_value}) if res.p_value is not None else ""}
                )  # fmt: skip
        rows += _quality_rows(ref, cur, col)
    if cells:
        # Where the bounds cannot decide, raw rows can (jobs.drift_raw); they feed the same BH step.
        final = [c for _, _, c in cells]
        if raw is not None and window is not None:
            final = raw.resolve([(col, c) for col, _, c in cells], reference, profiles, window)
        flagged = decide(
            [c.value for c in final],
            [c.p_value for c in final],
            [c.threshold for c in final],
            [c.floor for c in final],
        )
        for (col, family, binned), cell, flag in zip(cells, final, flagged, strict=True):
            res = cell.result
            extra = {} if cell is binned else {"binned_bound": [binned.result.lower, binned.result.upper]}
            rows.append(
                {"family": family, "metric": cell.metric, "col": col.name, "value": res.value, "lower": res.lower,
                 "upper": res.upper, "exact": res.exact, "method": res.method,
                 "threshold": max(cell.threshold, cell.floor) if not math.isnan(cell.threshold) else cell.floor,
                 "status": "warning" if flag else "ok", "n": profiles[col.col_id].n,
                 "details": details_json({"p_value": cell.p_value, "null_threshold": cell.threshold, "floor": cell.floor,
                                        "decides": True, **extra})}
            )  # fmt: skip
    return rows


def previous_window_rows(
    wh: Warehouse,
    info: catalog.ModelInfo,
    version: str,
    experiment: str,
    ws: Any,
    profiles: dict[str, NumericProfile | CategoricalProfile],
    by_id: dict[str, catalog.ColumnInfo],
) -> list[dict[str, Any]]:
    """Drift of each column against the previous window (opt-in: meta.compare_previous_window).

    Both windows share the reference's bins, so the KS bounds stay rigorous (they use both samples'
    bin masses); the no-drift band is resampled from the previous window at this window's size. These
    rows explain sudden day-to-day changes and never decide a status on their own.
    """
    prev = profile_queries.previous_profile_start(wh, info.model, version, experiment, ws)
    if prev is None:
        return []
    before = window_profiles(wh, info.model, version, experiment, prev)
    method = f"vs window {pd.Timestamp(prev):%Y-%m-%d %H:%M}"
    return baseline_rows(
        before, profiles, by_id, "_vs_previous", method, lambda _: {"previous_window": str(prev)}
    )


def _quality_rows(
    ref: NumericProfile | CategoricalProfile,
    cur: NumericProfile | CategoricalProfile,
    col: catalog.ColumnInfo,
) -> list[dict[str, Any]]:
    results: list[quality.QualityResult] = [quality.null_share(ref, cur), quality.constant_column(ref, cur)]
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
        results += [
            quality.nan_share(ref, cur),
            quality.inf_share(ref, cur),
            quality.out_of_range_share(ref, cur),
        ]
        specials = quality.special_share(ref, cur)
        if specials:  # one row per column: the special value whose share moved most
            results.append(max(specials, key=lambda q: (q.flagged, abs(q.value - (q.reference or 0.0)))))
    elif isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
        results.append(quality.unseen_share(ref, cur))
    rows = []
    for q in results:
        rows.append(
            {"family": "quality", "metric": q.metric, "col": col.name, "value": q.value,
             "threshold": q.threshold if q.threshold is not None else math.nan,
             "status": "warning" if q.flagged else "ok", "n": cur.n_rows, "method": "share vs reference",
             "details": details_json({"reference": q.reference, "detail": q.detail})}
        )  # fmt: skip
    return rows
