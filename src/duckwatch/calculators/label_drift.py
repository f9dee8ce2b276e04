"""Label drift: each window's labels against the reference's labels, decided like a column's drift.

Labels are not profiled with the features (they usually arrive late, through the outcomes stream), so
the window side is built from the labels joined to the window's predictions (``calculators.outcomes``) and
the reference side from the label column of the latest reference version, once per tick.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.calculators import labels as label_rules
from duckwatch.calculators.details import details_json
from duckwatch.metrics.drift import DriftResult
from duckwatch.metrics.drift_batch import categorical_batch
from duckwatch.metrics.drift_decision import DEFAULT_METHOD, DriftCell, decide, drift_cell
from duckwatch.metrics.profile import (
    CategoricalProfile,
    CategoricalVocabulary,
    NumericBinning,
    NumericProfile,
    profile_category_counts,
    profile_numeric,
)
from duckwatch.metrics.registry import get
from duckwatch.store import reference_rows
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = ["MIN_LABELLED", "binary_label_drift_rows", "label_drift_rows", "reference_label_profile"]

# Fewer labelled rows than this in a window: no label drift row (a handful of labels says nothing).
MIN_LABELLED = 30
_TASKS = ("binary", "multiclass", "regression")
_BINARY = CategoricalVocabulary(("0", "1"))  # both classes always present, whatever the reference holds
_METHOD = "window labels vs the reference's labels"

LabelProfile = NumericProfile | CategoricalProfile


def label_drift_rows(
    wh: Warehouse,
    info: ModelInfo,
    columns: list[ColumnInfo],
    df: pd.DataFrame,
    task: str,
    horizon_passed: bool,
) -> list[dict[str, Any]]:
    """Drift of the window's labels (``df["_label"]``) against the reference's, as metric rows.

    No row when the model has no label column, the task is unknown, the reference carries no labels,
    or the window holds fewer than MIN_LABELLED labelled rows. Rows are provisional until the label
    horizon has passed (labels are still arriving).
    """
    label = next((c for c in columns if c.role == "label"), None)
    if label is None or task not in _TASKS or "_label" not in df:
        return []
    y = df["_label"]
    fill_negative = task == "binary" and info.missing_label_is_negative
    if fill_negative:
        # Only positives arrive: before the horizon the labelled rows are all positive (meaningless);
        # after it, a missing label is a negative, as the performance rows count it.
        if not horizon_passed:
            return []
    else:
        known = y.notna()
        if int(known.sum()) < MIN_LABELLED:  # before any reference work: no labels costs one notna()
            return []
        y = y[known]
    if len(y) < MIN_LABELLED:
        return []
    ref = reference_label_profile(wh, info, label, task)
    if ref is None or ref.n == 0:
        return []
    cur = _window_profile(ref, y, info, task, fill_negative)
    if cur.n < MIN_LABELLED:
        return []
    return _rows(ref, cur, label.name, provisional=not horizon_passed)


def binary_label_drift_rows(
    wh: Warehouse,
    info: ModelInfo,
    columns: list[ColumnInfo],
    labelled: Sequence[int],
    y01: Sequence[np.ndarray],
    passed: Sequence[bool],
) -> list[list[dict[str, Any]]]:
    """`label_drift_rows` of many windows of a binary model at once (metrics.drift_batch).

    Per window: its labelled rows, its labels as the performance rows count them (0/1, NaN where
    none; a missing label is a negative after the horizon when only positives arrive), and whether
    its label horizon has passed.
    """
    k = len(y01)
    label = next((c for c in columns if c.role == "label"), None)
    if label is None:
        return [[] for _ in range(k)]
    fill = info.missing_label_is_negative
    # The same gates as label_drift_rows: enough labelled rows (or, when only positives arrive,
    # a passed horizon and enough rows), a reference with labels, enough 0/1 labels.
    live = [
        i
        for i in range(k)
        if (passed[i] and y01[i].size >= MIN_LABELLED if fill else labelled[i] >= MIN_LABELLED)
    ]
    ref = reference_label_profile(wh, info, label, "binary") if live else None
    if ref is None or ref.n == 0 or not isinstance(ref, CategoricalProfile):
        return [[] for _ in range(k)]
    curs = {
        i: profile_category_counts(
            {"0": int((y01[i] == 0.0).sum()), "1": int((y01[i] == 1.0).sum())}, _BINARY
        )
        for i in live
    }
    live = [i for i in live if curs[i].n >= MIN_LABELLED]
    out: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    reported, cells = categorical_batch(ref, [curs[i] for i in live])
    for j, i in enumerate(live):
        results = [reported[name][j] for name in reported]
        out[i] = _rows_of(results, cells[j], label.name, curs[i].n, provisional=not passed[i])
    return out


def reference_label_profile(
    wh: Warehouse, info: ModelInfo, label: ColumnInfo, task: str
) -> LabelProfile | None:
    """Profile of the label column over the latest reference version's rows (None: no labels there).

    Computed at most once per tick per model (``wh.memo``): the reference cannot change within a tick
    once ingestion is done.
    """
    key = ("label_drift_reference", info.model, label.col_id, task, str(info.positive_label),
           str(info.missing_label_is_negative))  # fmt: skip
    if key not in wh.memo:
        wh.memo[key] = _build_reference(wh, info, label, task)
    found: LabelProfile | None = wh.memo[key]
    return found


def _build_reference(wh: Warehouse, info: ModelInfo, label: ColumnInfo, task: str) -> LabelProfile | None:
    if not wh.has_table(info.model_key, "reference"):
        return None
    ref = raw_table(info.model_key, "reference")
    if label.col_id not in wh.table_columns(ref):
        return None
    lab = label.col_id
    # The rows build_reference (loading/profiling.py) profiles: the latest reference version.
    if task == "regression":
        table = reference_rows.latest_numeric_labels(wh, info.model_key, lab)
        x = table.column("v").to_numpy(zero_copy_only=False).astype(np.float64)
        if not np.isfinite(x).any():
            return None
        return profile_numeric(x, NumericBinning.from_reference(x))
    counts = reference_rows.latest_label_counts(wh, info.model_key, lab)
    values = pd.Series([v for v, _ in counts], dtype=object)
    n = [int(c) for _, c in counts]
    if task == "binary":
        # The same 0/1 rule as the window's labels (and the performance rows), per distinct value.
        y01 = label_rules.binary(values, str(info.positive_label))
        if info.missing_label_is_negative:
            y01 = np.where(np.isnan(y01), 0.0, y01)
        tally = {"0": sum(c for v, c in zip(y01, n, strict=True) if v == 0.0),
                 "1": sum(c for v, c in zip(y01, n, strict=True) if v == 1.0)}  # fmt: skip
        profile = profile_category_counts(tally, _BINARY)
    else:
        classes: Counter[str] = Counter()
        for v, c in zip(values, n, strict=True):
            if not _missing(v):
                classes[_class_name(v)] += c
        profile = profile_category_counts(classes, CategoricalVocabulary.from_counts(classes))
    return profile if profile.n else None


def _window_profile(
    ref: LabelProfile, y: pd.Series, info: ModelInfo, task: str, fill_negative: bool
) -> LabelProfile:
    if isinstance(ref, NumericProfile):
        x = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        return profile_numeric(x, ref.binning)
    if task == "binary":
        y01 = label_rules.binary(y, str(info.positive_label))
        if fill_negative:
            y01 = np.where(np.isnan(y01), 0.0, y01)
        return profile_category_counts({"0": int((y01 == 0.0).sum()), "1": int((y01 == 1.0).sum())}, _BINARY)
    classes: Counter[str] = Counter()
    for v, c in y.value_counts(dropna=True).items():
        classes[_class_name(v)] += int(c)
    return profile_category_counts(classes, ref.vocabulary)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float | np.floating) and math.isnan(v))


def _class_name(v: Any) -> str:
    """A class's name, the same whichever stream typed it: 2, 2.0 and "2" are all "2"."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _rows(ref: LabelProfile, cur: LabelProfile, col: str, provisional: bool) -> list[dict[str, Any]]:
    """The deciding row and the reported ones, shaped as jobs/compute.py shapes a column's drift."""
    kind = "numeric" if isinstance(ref, NumericProfile) else "categorical"
    results = [get(name).fn(ref, cur) for name in DEFAULT_METHOD[kind].report]  # type: ignore[misc]
    return _rows_of(results, drift_cell(ref, cur), col, cur.n, provisional)


def _rows_of(
    results: Sequence[DriftResult], cell: DriftCell, col: str, n: int, provisional: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for res in results:
        rows.append(
            {"family": "drift", "metric": res.metric, "col": col, "value": res.value, "lower": res.lower,
             "upper": res.upper, "exact": res.exact, "method": f"{res.method}; {_METHOD}", "n": n,
             "status": "ok", "provisional": provisional,
             "details": details_json({"p_value": res.p_value}) if res.p_value is not None else ""}
        )  # fmt: skip
    flag = bool(decide([cell.value], [cell.p_value], [cell.threshold], [cell.floor])[0])
    res = cell.result
    rows.append(
        {"family": "drift", "metric": cell.metric, "col": col, "value": res.value, "lower": res.lower,
         "upper": res.upper, "exact": res.exact, "method": f"{res.method}; {_METHOD}",
         "threshold": max(cell.threshold, cell.floor) if not math.isnan(cell.threshold) else cell.floor,
         "status": "warning" if flag else "ok", "n": n, "provisional": provisional,
         "details": details_json({"p_value": cell.p_value, "null_threshold": cell.threshold, "floor": cell.floor,
                                "decides": True})}
    )  # fmt: skip
    return rows
