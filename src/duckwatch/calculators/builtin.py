"""The built-in calculators the compute stage loops over, and the batch of windows they all read.

Order is the order of a window's rows in ``metric_results``: first what reads no labels (kept for a
window whose labels alone change), then what does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import pandas as pd

from duckwatch.calculators import drift_rows
from duckwatch.calculators.base import (
    Calculator,
    FittedStates,
    MetricRow,
    Read,
    WindowKey,
    register,
    registered,
)
from duckwatch.calculators.custom import custom_rows
from duckwatch.calculators.drift_persistence import Record, persistence_windows, records_of
from duckwatch.calculators.drift_raw import RawRows
from duckwatch.calculators.drift_rolling import rolling_rows
from duckwatch.calculators.duplicate_ids import duplicate_id_rows
from duckwatch.calculators.labels import reference_cache_key
from duckwatch.calculators.outcomes import fit_calibrator, label_free_rows, performance_rows
from duckwatch.calculators.output_lists import list_output_rows
from duckwatch.calculators.perf_batch import WindowLabels
from duckwatch.calculators.reference_bands import (
    attach,
    fit_estimate_bands,
    fit_performance_bands,
    kept_bands,
)
from duckwatch.calculators.volume import volume_rows
from duckwatch.metrics.estimate import Calibrator
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.reference_band import Band
from duckwatch.store import catalog, window_results
from duckwatch.store.warehouse import Warehouse

__all__ = ["WindowBatch", "calculate_all"]

Profiles = dict[str, NumericProfile | CategoricalProfile]


@dataclass
class WindowBatch:
    """Every dirty window of one model in a tick, with what the loader read for all of them."""

    wh: Warehouse
    info: catalog.ModelInfo
    columns: list[catalog.ColumnInfo]
    now: datetime
    windows: list[WindowKey]
    volumes: list[tuple[int, list[float], str]]  # row count, earlier windows' counts, basis
    frames: dict[int, pd.DataFrame]  # window index -> predictions joined with their latest labels
    labels: dict[int, WindowLabels]  # window index -> what was computed for all windows at once
    profiles: dict[int, Profiles]  # window index -> stored profiles (windows computed in full)
    reference: Profiles
    raw: RawRows
    rolling: int  # K of the opt-in rolling baseline (0: off)
    # Windows holding rows profiled elsewhere (a Spark pass): calculators that need rows skip them.
    elsewhere: frozenset[int] = frozenset()
    by_id: dict[str, catalog.ColumnInfo] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {c.col_id: c for c in self.columns}


def calculate_all(
    batch: WindowBatch, full: list[bool], states: FittedStates
) -> tuple[list[tuple[WindowKey, MetricRow]], list[tuple[WindowKey, MetricRow]]]:
    """All windows' rows (window by window, calculators in order) and the label-free ones among them.

    ``full[i]``: window i is computed in full; otherwise its labels alone changed and only the
    calculators that read labels or the row count run for it.
    """
    per_calc: list[tuple[bool, list[list[MetricRow]]]] = []
    for calc in registered():
        label_free = not ({"labels", "row_count"} & calc.reads)
        key = (calc.name, batch.info.model, "", *reference_cache_key(batch.wh, batch.info, batch.columns))
        state = states.get(key, lambda c=calc: c.fit(batch))  # type: ignore[misc]
        wanted = [i for i, f in enumerate(full) if f or not label_free]
        skipped = [i for i in wanted if calc.needs_rows and i in batch.elsewhere]
        picked = [i for i in wanted if i not in skipped]
        out = calc.calculate(_subset(batch, picked), state) if picked else []
        rows: list[list[MetricRow]] = [[] for _ in batch.windows]
        for i, r in zip(picked, out, strict=True):
            rows[i] = r
        for i in skipped:
            rows[i] = [_not_available(calc.name)]
        per_calc.append((label_free, rows))
    everything: list[tuple[WindowKey, MetricRow]] = []
    fresh: list[tuple[WindowKey, MetricRow]] = []
    for i, w in enumerate(batch.windows):
        for label_free, rows in per_calc:
            everything += [(w, r) for r in rows[i]]
            if label_free and full[i]:
                fresh += [(w, r) for r in rows[i]]
    return everything, fresh


def _subset(batch: WindowBatch, picked: list[int]) -> WindowBatch:
    if len(picked) == len(batch.windows):
        return batch
    pos = {old: new for new, old in enumerate(picked)}
    return WindowBatch(
        batch.wh, batch.info, batch.columns, batch.now, [batch.windows[i] for i in picked],
        [batch.volumes[i] for i in picked],
        {pos[i]: f for i, f in batch.frames.items() if i in pos},
        {pos[i]: lab for i, lab in batch.labels.items() if i in pos},
        {pos[i]: p for i, p in batch.profiles.items() if i in pos},
        batch.reference, batch.raw, batch.rolling, frozenset(pos[i] for i in batch.elsewhere if i in pos),
    )  # fmt: skip


def _not_available(calculator: str) -> MetricRow:
    """What a calculator that needs rows says for a window holding rows the warehouse never saw."""
    return MetricRow(
        family="quality", metric="not_available", value=math.nan, col=calculator, exact=False,
        method="needs the window's rows",
        details=f"{calculator}: not available for this window: part of its rows were profiled on Spark "
        "(duckwatch ingest profiles) and only their profiles are here, not the rows this metric reads",
    )  # fmt: skip


def _rows(rows: list[dict[str, Any]]) -> list[MetricRow]:
    return [MetricRow.of(r) for r in rows]


class _PerWindow:
    """A calculator whose metric code still runs window by window, for the windows with predictions."""

    def fit(self, batch: WindowBatch) -> None:
        return None

    def calculate(self, batch: WindowBatch, state: None) -> list[list[MetricRow]]:
        return [
            _rows(self.window_rows(batch, i, w)) if i in batch.frames else []
            for i, w in enumerate(batch.windows)
        ]

    def window_rows(self, batch: WindowBatch, i: int, w: WindowKey) -> list[dict[str, Any]]:
        raise NotImplementedError


class DuplicateIds(_PerWindow):
    """Share of a window's predictions whose id was seen before (quality)."""

    name: ClassVar[str] = "duplicate_ids"
    reads: ClassVar[frozenset[Read]] = frozenset({"store"})
    needs_rows: ClassVar[bool] = True

    def window_rows(self, batch: WindowBatch, i: int, w: WindowKey) -> list[dict[str, Any]]:
        return duplicate_id_rows(batch.wh, batch.info, batch.columns, w.as_tuple(), batch.volumes[i][0])


class LabelFree:
    """Estimated performance (a binary model's calibrated scores), latency, error share and cost."""

    name: ClassVar[str] = "label_free"
    reads: ClassVar[frozenset[Read]] = frozenset({"rows", "reference"})
    needs_rows: ClassVar[bool] = True

    def fit(self, batch: WindowBatch) -> tuple[Calibrator | None, dict[str, Band]]:
        b = batch
        cal = fit_calibrator(b.wh, b.info, b.columns)
        bands = kept_bands(
            b.wh, b.info, b.columns, "estimate", lambda: fit_estimate_bands(b.wh, b.info, b.columns, cal)
        )
        return cal, bands

    def calculate(
        self, batch: WindowBatch, state: tuple[Calibrator | None, dict[str, Band]]
    ) -> list[list[MetricRow]]:
        cal, bands = state
        return [
            attach(_rows(label_free_rows(batch.info, batch.columns, batch.frames[i], cal)), "estimate", bands)
            if i in batch.frames
            else []
            for i in range(len(batch.windows))
        ]


class Drift:
    """Drift and data quality of every column against the reference; opt-in: against the previous
    window and the K windows before."""

    name: ClassVar[str] = "drift"
    reads: ClassVar[frozenset[Read]] = frozenset({"profiles", "reference"})
    needs_rows: ClassVar[bool] = False  # raw rows only refine undecided bounds, within a budget

    def fit(self, batch: WindowBatch) -> None:
        return None

    def calculate(self, batch: WindowBatch, state: None) -> list[list[MetricRow]]:
        if not batch.reference:
            return [[] for _ in batch.windows]
        b = batch
        out = drift_rows.drift_and_quality_rows_many(
            b.reference, [b.profiles.get(i, {}) for i in range(len(b.windows))], b.by_id, b.raw,
            [w.as_tuple() for w in b.windows], b.info.meta, _earlier_decisions(b),
        )  # fmt: skip
        for i, w in enumerate(b.windows):
            profiles = b.profiles.get(i, {})
            if b.info.meta.get("compare_previous_window"):
                out[i] += drift_rows.previous_window_rows(
                    b.wh, b.info, w.version, w.experiment, w.start, profiles, b.by_id
                )
            if b.rolling:
                out[i] += rolling_rows(
                    b.wh, b.info, (w.version, w.experiment, w.start), b.rolling, profiles, b.by_id
                )
        return [_rows(r) for r in out]


def _earlier_decisions(batch: WindowBatch) -> dict[tuple[str, str], list[Record]]:
    """Stored drift decisions persistence looks back on, per (version, experiment) of the batch: the
    R - 1 windows before its first window, and the stored windows between its windows."""
    runs = persistence_windows(batch.info.meta)
    out: dict[tuple[str, str], list[Record]] = {}
    if runs < 2:
        return out
    spans: dict[tuple[str, str], list[datetime]] = {}
    for w in batch.windows:
        spans.setdefault((w.version, w.experiment), []).append(w.start)
    for (version, experiment), starts in spans.items():
        rows = window_results.drift_decisions_before(
            batch.wh, batch.info.model, version, experiment, min(starts), max(starts), runs - 1
        )
        out[(version, experiment)] = records_of(rows)
    return out


class Volume(_PerWindow):
    """The window's row count against the usual volume."""

    name: ClassVar[str] = "volume"
    reads: ClassVar[frozenset[Read]] = frozenset({"row_count"})
    needs_rows: ClassVar[bool] = False

    def window_rows(self, batch: WindowBatch, i: int, w: WindowKey) -> list[dict[str, Any]]:
        return volume_rows(*batch.volumes[i])


class Performance:
    """Label coverage, realised performance, label drift, business value, fairness, segments."""

    name: ClassVar[str] = "performance"
    reads: ClassVar[frozenset[Read]] = frozenset({"rows", "labels", "reference"})
    needs_rows: ClassVar[bool] = True

    def fit(self, batch: WindowBatch) -> dict[str, Band]:
        b = batch
        return kept_bands(
            b.wh, b.info, b.columns, "performance", lambda: fit_performance_bands(b.wh, b.info, b.columns)
        )

    def calculate(self, batch: WindowBatch, state: dict[str, Band]) -> list[list[MetricRow]]:
        b = batch
        return [
            attach(
                _rows(
                    performance_rows(
                        b.wh, b.info, b.columns, *w.as_tuple(), b.now, b.frames[i], b.labels.get(i)
                    )
                ),
                "performance",
                state,
            )
            if i in b.frames
            else []
            for i, w in enumerate(b.windows)
        ]


class ListOutputs(_PerWindow):
    """Ranking and list outputs (recommendations): coverage, diversity, hits."""

    name: ClassVar[str] = "list_outputs"
    reads: ClassVar[frozenset[Read]] = frozenset({"store", "labels"})
    needs_rows: ClassVar[bool] = True

    def window_rows(self, batch: WindowBatch, i: int, w: WindowKey) -> list[dict[str, Any]]:
        return list_output_rows(batch.wh, batch.info, batch.columns, *w.as_tuple())


class Custom(_PerWindow):
    """Metrics users register in Python (``@metric``, DUCKWATCH_PLUGINS) or SQL (``sql_metrics``)."""

    name: ClassVar[str] = "custom"
    reads: ClassVar[frozenset[Read]] = frozenset({"store", "labels"})
    needs_rows: ClassVar[bool] = True

    def window_rows(self, batch: WindowBatch, i: int, w: WindowKey) -> list[dict[str, Any]]:
        return custom_rows(batch.wh, batch.info, batch.columns, *w.as_tuple())


BUILTIN: list[Calculator] = [
    DuplicateIds(),
    LabelFree(),
    Drift(),
    Volume(),
    Performance(),
    ListOutputs(),
    Custom(),
]
for _calc in BUILTIN:
    register(_calc)
