"""A window's label-free drift and data-quality rows against the reference (and, opt-in, against the
previous window): the rows a labels-only tick keeps from the window's last full computation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.calculators.details import details_json
from duckwatch.calculators.drift_raw import RawRows
from duckwatch.calculators.drift_rolling import OUTPUT_ROLES, baseline_rows
from duckwatch.loading.profiling import window_profiles
from duckwatch.metrics import quality
from duckwatch.metrics.drift import DEFAULT_METHOD, DriftCell, decide
from duckwatch.metrics.drift_cells import drift_cells, screen_p_values
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import get
from duckwatch.store import catalog, profile_queries
from duckwatch.store.warehouse import Warehouse

__all__ = ["drift_and_quality_rows", "drift_and_quality_rows_many", "previous_window_rows"]


Profiles = dict[str, NumericProfile | CategoricalProfile]
Window = tuple[str, str, datetime, datetime]


def drift_and_quality_rows(
    reference: Profiles,
    profiles: Profiles,
    by_id: dict[str, catalog.ColumnInfo],
    raw: RawRows | None = None,
    window: Window | None = None,
) -> list[dict[str, Any]]:
    """One window's drift and quality rows (`drift_and_quality_rows_many` of one window)."""
    return drift_and_quality_rows_many(
        reference, [profiles], by_id, raw, None if window is None else [window]
    )[0]


def drift_and_quality_rows_many(
    reference: Profiles,
    windows_profiles: Sequence[Profiles],
    by_id: dict[str, catalog.ColumnInfo],
    raw: RawRows | None = None,
    windows: Sequence[Window] | None = None,
) -> list[list[dict[str, Any]]]:
    """Each window's drift rows (the report statistics, then the deciding one with its status) and
    quality rows, against the reference. The deciding cells of all windows are evaluated together
    (their KS p-values in one array call: metrics/drift_cells.py); each window decides on its own."""
    out: list[list[dict[str, Any]]] = []
    pairs: list[tuple[NumericProfile | CategoricalProfile, NumericProfile | CategoricalProfile]] = []
    owners: list[list[tuple[catalog.ColumnInfo, str]]] = []  # per window: the (column, family) of its cells
    for profiles in windows_profiles:
        rows: list[dict[str, Any]] = []
        mine: list[tuple[catalog.ColumnInfo, str]] = []
        for col_id, cur in profiles.items():
            ref = reference.get(col_id)
            col = by_id.get(col_id)
            if ref is None or col is None or type(ref) is not type(cur):
                continue
            family = "output" if col.role in OUTPUT_ROLES else "drift"
            if cur.n > 0 and ref.n > 0:
                pairs.append((ref, cur))
                mine.append((col, family))
                kind = "numeric" if isinstance(ref, NumericProfile) else "categorical"
                for name in DEFAULT_METHOD[kind].report:
                    res = get(name).fn(ref, cur)  # type: ignore[misc]
                    rows.append(
                        {"family": family, "metric": name, "col": col.name, "value": res.value, "lower": res.lower,
                         "upper": res.upper, "exact": res.exact, "method": res.method, "n": cur.n, "status": "ok",
                         "details": details_json({"p_value": res.p_value}) if res.p_value is not None else ""}
                    )  # fmt: skip
            rows += _quality_rows(ref, cur, col)
        out.append(rows)
        owners.append(mine)
    all_cells = drift_cells(pairs)
    sizes = [(ref.n, cur.n) for ref, cur in pairs]
    screened = screen_p_values(all_cells, sizes) if raw is not None and windows is not None else None
    start = 0
    for w, (profiles, mine) in enumerate(zip(windows_profiles, owners, strict=True)):
        cells = all_cells[start : start + len(mine)]
        p_upper = None if screened is None else screened[start : start + len(mine)]
        start += len(mine)
        if cells:
            out[w] += _decided_rows(
                reference, profiles, mine, cells, raw, None if windows is None else windows[w], p_upper
            )
    return out


def _decided_rows(
    reference: Profiles,
    profiles: Profiles,
    owners: list[tuple[catalog.ColumnInfo, str]],
    cells: list[DriftCell],
    raw: RawRows | None,
    window: Window | None,
    p_upper: list[float] | None,
) -> list[dict[str, Any]]:
    """A window's deciding rows: undecided bounds resolved from raw rows, then one BH step."""
    final = cells
    if raw is not None and window is not None:
        # Where the bounds cannot decide, raw rows can (calculators.drift_raw); they feed the same BH step.
        final = raw.resolve(
            [(col, c) for (col, _), c in zip(owners, cells, strict=True)],
            reference,
            profiles,
            window,
            p_upper,
        )
    flagged = decide(
        [c.value for c in final],
        [c.p_value for c in final],
        [c.threshold for c in final],
        [c.floor for c in final],
    )
    rows: list[dict[str, Any]] = []
    for (col, family), binned, cell, flag in zip(owners, cells, final, flagged, strict=True):
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
