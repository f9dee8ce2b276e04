"""Segments where the model got worse: accuracy per segment level (and per pair of segment columns)
in a window against the same level in the labelled reference, one-sided tests with BH control."""

from __future__ import annotations

import itertools
import json
from collections.abc import Hashable, Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from duckwatch.calculators.labels import binary, reference_cache_key, remember
from duckwatch.metrics.drift_decision import DriftCell
from duckwatch.metrics.profile import NumericProfile
from duckwatch.metrics.segments import rank_degraded_segments
from duckwatch.store import reference_rows
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

MIN_CELL = 100
TOP_LEVELS = 20
_REFERENCE: dict[tuple[str, ...], dict[str, dict[str, tuple[int, int]]]] = {}


def _correct(labels: pd.Series, decisions: np.ndarray, positive: str) -> tuple[np.ndarray, np.ndarray]:
    """(labelled mask, correct mask) for binary labels against 0/1 decisions."""
    y = binary(labels, positive)
    labelled = ~np.isnan(y)
    return labelled, labelled & ((y > 0.5) == (decisions > 0.5))


def _keys(df: pd.DataFrame, cols: list[ColumnInfo]) -> dict[str, pd.Series]:
    """Segment keys per column and per pair of columns: 'region=north' or 'region=north & age=18-30'."""
    single = {
        c.name: c.name + "=" + df[c.col_id].astype("string").fillna("(missing)")
        for c in cols
        if c.col_id in df
    }
    out = dict(single)
    for a, b in itertools.combinations(sorted(single), 2):
        out[f"{a} & {b}"] = single[a] + " & " + single[b]
    return out


def _counts(keys: pd.Series, labelled: np.ndarray, correct: np.ndarray) -> dict[str, tuple[int, int]]:
    frame = pd.DataFrame({"k": keys.to_numpy()[labelled], "c": correct[labelled]})
    grouped = frame.groupby("k")["c"].agg(["sum", "count"])
    return {str(k): (int(r["sum"]), int(r["count"])) for k, r in grouped.iterrows()}


def _decisions(
    df: pd.DataFrame, score: ColumnInfo | None, pred: ColumnInfo | None, positive: str
) -> np.ndarray | None:
    if pred is not None and pred.col_id in df:
        return np.asarray(np.nan_to_num(binary(df[pred.col_id], positive), nan=0.0), dtype=float)
    if score is not None and score.col_id in df:
        return (pd.to_numeric(df[score.col_id], errors="coerce").to_numpy(dtype=float) >= 0.5).astype(float)
    return None


def _reference_counts(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo]
) -> dict[str, dict[str, tuple[int, int]]]:
    if not wh.has_table(info.model_key, "reference"):
        return {}
    table = raw_table(info.model_key, "reference")
    have = wh.table_columns(table)
    key = reference_cache_key(wh, info, columns)
    if key in _REFERENCE:
        return _REFERENCE[key]
    segs = [c for c in columns if c.role == "segment" and c.col_id in have]
    label = next((c for c in columns if c.role == "label" and c.col_id in have), None)
    score = next((c for c in columns if c.role == "score" and c.col_id in have), None)
    pred = next((c for c in columns if c.role == "prediction" and c.col_id in have), None)
    result: dict[str, dict[str, tuple[int, int]]] = {}
    if segs and label is not None and (score or pred):
        wanted = {c.col_id for c in [*segs, label, score, pred] if c is not None}
        df = reference_rows.reference_columns(wh, info.model_key, sorted(wanted)).to_pandas()
        decisions = _decisions(df, score, pred, info.positive_label)
        if decisions is not None:
            labelled, correct = _correct(df[label.col_id], decisions, info.positive_label)
            result = {name: _counts(keys, labelled, correct) for name, keys in _keys(df, segs).items()}
    remember(_REFERENCE, key, result)
    return result


def segment_rows(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], df: pd.DataFrame, provisional: bool
) -> list[dict[str, Any]]:
    """One row per tested segment: the accuracy drop vs reference, flagged when BH-significant."""
    reference = _reference_counts(wh, info, columns)
    if not reference or "_label" not in df:
        return []
    segs = [c for c in columns if c.role == "segment" and c.col_id in df]
    score = next((c for c in columns if c.role == "score"), None)
    pred = next((c for c in columns if c.role == "prediction"), None)
    decisions = _decisions(df, score, pred, info.positive_label)
    if decisions is None:
        return []
    labelled, correct = _correct(df["_label"], decisions, info.positive_label)
    rows: list[dict[str, Any]] = []
    for name, keys in _keys(df, segs).items():
        ref = reference.get(name)
        if not ref:
            continue
        cur = _counts(keys, labelled, correct)
        report = rank_degraded_segments(
            cast(Mapping[Hashable, tuple[int, int]], ref),
            cast(Mapping[Hashable, tuple[int, int]], cur),
            min_n=MIN_CELL,
            top_levels=TOP_LEVELS,
        )
        for rank, r in enumerate(report.ranked, start=1):
            rows.append(
                {"family": "segment", "metric": "accuracy_drop", "col": name, "segment": str(r.segment),
                 "value": r.degradation, "n": r.cur_n, "provisional": provisional,
                 "status": "warning" if r.significant else "ok", "method": "one-sided two-proportion z-test, BH",
                 "details": json.dumps({"rank": rank, "ref_rate": r.ref_rate, "cur_rate": r.cur_rate,
                                        "p_value": r.p_value, "q_value": r.q_value, "score": r.score,
                                        "skipped_small": report.skipped_small})}
            )  # fmt: skip
    return rows


_REF_SCORES: dict[tuple[str, ...], dict[str, pd.DataFrame]] = {}


def segment_drift_rows(
    wh: Warehouse, info: ModelInfo, columns: list[ColumnInfo], df: pd.DataFrame
) -> list[dict[str, Any]]:
    """Output drift per segment level: the score of each level (largest levels, min cell size) against
    the same level in the reference, on the reference's bins, with BH across the levels tested."""
    from duckwatch.loading.profiling import load_reference
    from duckwatch.metrics.drift import decide, drift_cell
    from duckwatch.metrics.profile import profile_numeric

    score = next((c for c in columns if c.role == "score" and c.col_id in df), None)
    segs = [c for c in columns if c.role == "segment" and c.col_id in df]
    if score is None or not segs or not wh.has_table(info.model_key, "reference"):
        return []
    ref_profile = load_reference(wh, info.model).get(score.col_id)
    if not isinstance(ref_profile, NumericProfile):
        return []
    table = raw_table(info.model_key, "reference")
    have = wh.table_columns(table)
    key = reference_cache_key(wh, info, columns)
    if key not in _REF_SCORES:
        wanted = [c for c in segs if c.col_id in have]
        ref = (
            reference_rows.reference_columns(
                wh, info.model_key, [score.col_id, *(c.col_id for c in wanted)]
            ).to_pandas()
            if wanted and score.col_id in have
            else pd.DataFrame()
        )
        frames = {c.col_id: ref[[score.col_id, c.col_id]] for c in wanted} if not ref.empty else {}
        remember(_REF_SCORES, key, frames)
    cells, labels, raws = [], [], []
    for col in segs:
        ref = _REF_SCORES[key].get(col.col_id)
        if ref is None:
            continue
        levels = df[col.col_id].astype("string").value_counts()
        for level in [lv for lv, n in levels.items() if n >= MIN_CELL][:TOP_LEVELS]:
            r = ref[ref[col.col_id].astype("string") == level][score.col_id].to_numpy(dtype=float)
            c = df[df[col.col_id].astype("string") == level][score.col_id].to_numpy(dtype=float)
            if r.size < MIN_CELL:
                continue
            binning = ref_profile.binning
            pr, pc = profile_numeric(r, binning, np.isnan(r)), profile_numeric(c, binning, np.isnan(c))
            cells.append(drift_cell(pr, pc))
            labels.append((col, f"{col.name}={level}", int(c.size)))
            raws.append((pr, pc, r, c))
    if not cells:
        return []
    cells = refine_from_rows(cells, raws)
    flagged = decide([c.value for c in cells], [c.p_value for c in cells], [c.threshold for c in cells],
                     [c.floor for c in cells])  # fmt: skip
    return [
        {"family": "segment", "metric": f"score_{cell.metric}", "col": col.name, "segment": seg,
         "value": cell.value, "lower": cell.result.lower, "upper": cell.result.upper, "n": n,
         "threshold": max(cell.threshold, cell.floor), "status": "warning" if flag else "ok",
         "method": "score distribution vs the same segment in the reference (BH across segments)"
                   + ("; exact KS from raw rows" if "raw rows" in cell.result.method else "")}
        for (col, seg, n), cell, flag in zip(labels, cells, flagged, strict=True)
    ]  # fmt: skip


def refine_from_rows(
    cells: list[DriftCell], raws: list[tuple[NumericProfile, NumericProfile, np.ndarray, np.ndarray]]
) -> list[DriftCell]:
    """KS cells whose decision differs between the two ends of their bound (BH included), decided on
    the exact statistic instead: a segment's raw scores are in memory already, so every bin that could
    change the answer is read (as the job does for whole columns, within its row budget)."""
    from duckwatch.metrics.drift_exact import MAX_RAW_ROWS, ambiguous, bins_to_read, refine_cell, refine_ks

    out = list(cells)
    sizes = [(pr.n, pc.n) for pr, pc, _r, _c in raws]
    for i in np.flatnonzero(ambiguous(out, sizes)).tolist():
        pr, pc, r, c = raws[i]
        if out[i].metric != "ks":
            continue
        bins = bins_to_read(pr, pc, out[i].result.lower, MAX_RAW_ROWS)
        if bins:
            found = refine_ks(pr, pc, _per_bin(pr, r, bins), _per_bin(pc, c, bins))
            out[i] = refine_cell(out[i], found, pr.n, pc.n)
    return out


def _per_bin(profile: NumericProfile, values: np.ndarray, bins: list[int]) -> dict[int, np.ndarray]:
    """The finite values of ``values`` (the rows ``profile`` counted) in each of ``bins``."""
    x = values[np.isfinite(values)]
    idx = profile.binning.bin_index(x)
    return {j: x[idx == j] for j in bins}
