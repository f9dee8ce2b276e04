"""A window's label-free drift and data-quality rows against the reference (and, opt-in, against the
previous window): the rows a labels-only tick keeps from the window's last full computation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.calculators.details import details_json
from duckwatch.calculators.drift_persistence import Record, floors_for, persistence_windows, persistent
from duckwatch.calculators.drift_raw import RawRows
from duckwatch.calculators.drift_rolling import OUTPUT_ROLES, baseline_rows
from duckwatch.loading.profiling import window_profiles
from duckwatch.metrics import quality
from duckwatch.metrics.drift import DEFAULT_METHOD, DriftCell, decide
from duckwatch.metrics.drift_cells import drift_cells, screen_p_values
from duckwatch.metrics.drift_decision import significant
from duckwatch.metrics.drift_tests import also_cells
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
    meta: Mapping[str, Any] | None = None,
    earlier: Mapping[tuple[str, str], Sequence[Record]] | None = None,
) -> list[list[dict[str, Any]]]:
    """Each window's drift rows (the report statistics, then the deciding tests with their status) and
    quality rows, against the reference. The deciding cells of all windows are evaluated together
    (their KS p-values in one array call: metrics/drift_cells.py); each window decides on its own, then
    persistence (calculators/drift_persistence.py) looks at the windows before it: ``earlier`` holds
    the stored ones per (version, experiment), ``meta`` the model's floors and run length."""
    meta = meta or {}
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
                method = DEFAULT_METHOD["numeric" if isinstance(ref, NumericProfile) else "categorical"]
                for name in method.report:
                    if name in method.also:
                        continue  # it decides: its row comes with the deciding ones
                    res = get(name).fn(ref, cur)  # type: ignore[misc]
                    rows.append(
                        {"family": family, "metric": name, "col": col.name, "value": res.value, "lower": res.lower,
                         "upper": res.upper, "exact": res.exact, "method": res.method, "n": cur.n, "status": "ok",
                         "details": details_json({"p_value": res.p_value}) if res.p_value is not None else ""}
                    )  # fmt: skip
            rows += _quality_rows(ref, cur, col)
        out.append(rows)
        owners.append(mine)
    primary = drift_cells(pairs)
    also = also_cells(pairs)
    sizes = [(ref.n, cur.n) for ref, cur in pairs]
    screened = screen_p_values(primary, sizes) if raw is not None and windows is not None else None
    floors = {col.name: floors_for(meta, col.name) for col in by_id.values()}
    decided: list[list[dict[str, Any]]] = []
    start = 0
    for w, (profiles, mine) in enumerate(zip(windows_profiles, owners, strict=True)):
        k = len(mine)
        # Every test of the window, column by column (primary, then its further test): one BH step.
        cells: list[DriftCell] = []
        owned: list[tuple[catalog.ColumnInfo, str]] = []
        p_upper: list[float] | None = None if screened is None else []
        for j, (col, family) in enumerate(mine):
            for cell in (primary[start + j], also[start + j]):
                cells.append(replace(cell, floor=floors[col.name][cell.metric]))
                owned.append((col, family))
                if p_upper is not None and screened is not None:
                    p_upper.append(screened[start + j] if cell is primary[start + j] else math.nan)
        start += k
        window = None if windows is None else windows[w]
        decided.append(
            _decided_rows(reference, profiles, owned, cells, raw, window, p_upper) if cells else []
        )
    _persist(decided, windows, earlier or {}, persistence_windows(meta))
    for w, rows in enumerate(decided):
        for row in rows:
            row["details"] = details_json(row["details"])
        out[w] += rows
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
    """A window's deciding rows: undecided bounds resolved from raw rows, then one BH step over all
    its tests. ``details`` stays a dict here (persistence may still add to it)."""
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
    values, p_values = [c.value for c in final], [c.p_value for c in final]
    thresholds = [c.threshold for c in final]
    flagged = decide(values, p_values, thresholds, [c.floor for c in final])
    sig = significant(values, p_values, thresholds)
    by_col: dict[str, list[str]] = {}
    for (col, _), cell, flag in zip(owners, final, flagged, strict=True):
        if flag:
            by_col.setdefault(col.name, []).append(cell.metric)
    rows: list[dict[str, Any]] = []
    for (col, family), binned, cell, flag, s in zip(owners, cells, final, flagged, sig, strict=True):
        res = cell.result
        extra = {} if cell is binned else {"binned_bound": [binned.result.lower, binned.result.upper]}
        bar = max(cell.threshold, cell.floor) if not math.isnan(cell.threshold) else cell.floor
        rows.append(
            {"family": family, "metric": cell.metric, "col": col.name, "value": res.value, "lower": res.lower,
             "upper": res.upper, "exact": res.exact, "method": res.method, "threshold": bar,
             "status": "warning" if flag else "ok", "n": profiles[col.col_id].n,
             "details": {"p_value": cell.p_value, "null_threshold": cell.threshold, "floor": cell.floor,
                         "decides": True, "significant": bool(s), "direction": cell.direction if s else "",
                         "decided_by": "window" if flag else "", "column_flagged_by": ",".join(by_col.get(col.name, [])),
                         "reason": _reason(cell, bool(flag), bool(s), len(final)), **extra}}
        )  # fmt: skip
    return rows


def _reason(cell: DriftCell, flag: bool, sig: bool, tests: int) -> str:
    """Why this test flagged or did not, in one line (the app and the export show it)."""
    v, thr, floor = cell.value, cell.threshold, cell.floor
    if flag:
        return (f"{cell.metric} {v:.3g} >= {max(thr, floor):.3g} (99% no-drift value {thr:.3g}, minimum effect "
                f"{floor:.3g}); p {cell.p_value:.2g} significant after Benjamini-Hochberg over {tests} tests")  # fmt: skip
    if sig:
        return (
            f"{cell.metric} {v:.3g} significant ({cell.direction}) but below the minimum effect {floor:.3g}"
        )
    if math.isnan(v):
        return "no value"
    return f"{cell.metric} {v:.3g}: not significant after Benjamini-Hochberg over {tests} tests, or within no-drift {thr:.3g}"


def _persist(
    decided: list[list[dict[str, Any]]],
    windows: Sequence[Window] | None,
    earlier: Mapping[tuple[str, str], Sequence[Record]],
    runs: int,
) -> None:
    """Flag significant, below-floor tests that were significant the same way in the R - 1 windows
    before (stored ones from ``earlier``, or computed in this call), oldest window first."""
    if windows is None or runs < 2:
        return
    groups: dict[tuple[str, str], list[int]] = {}
    for w, win in enumerate(windows):
        if decided[w]:  # windows without deciding rows are no part of a run (as stored)
            groups.setdefault((win[0], win[1]), []).append(w)
    for key, idx in groups.items():
        mine = {pd.Timestamp(windows[w][2]) for w in idx}
        timeline: list[tuple[pd.Timestamp, dict[tuple[str, str], tuple[bool, str]], int]] = [
            (pd.Timestamp(start), facts, -1)
            for start, facts in earlier.get(key, ())
            if pd.Timestamp(start) not in mine
        ]
        for w in idx:
            facts = {
                (r["col"], r["metric"]): (r["details"]["significant"], r["details"]["direction"])
                for r in decided[w]
            }
            timeline.append((pd.Timestamp(windows[w][2]), facts, w))
        timeline.sort(key=lambda t: t[0])
        records = [(start, facts) for start, facts, _ in timeline]
        for at, (_start, _facts, w) in enumerate(timeline):
            if w < 0:
                continue
            for row in decided[w]:
                d = row["details"]
                if row["status"] != "ok" or not d["significant"]:
                    continue
                if persistent(records, at, (row["col"], row["metric"]), d["direction"], runs):
                    row["status"] = "warning"
                    d["decided_by"] = "persistence"
                    d["reason"] = (f"{row['metric']} significant and {d['direction']} in {runs} windows in a row, "
                                   f"below the minimum effect {d['floor']:.3g}: a persistent change")  # fmt: skip
        for w in idx:  # the column's flagging tests, persistence included
            flagged: dict[str, list[str]] = {}
            for row in decided[w]:
                if row["status"] != "ok":
                    flagged.setdefault(row["col"], []).append(row["metric"])
            for row in decided[w]:
                row["details"]["column_flagged_by"] = ",".join(flagged.get(row["col"], []))


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
