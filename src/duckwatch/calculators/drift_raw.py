"""Raw rows where a drift bound is too wide to decide: read the few bins that matter, decide exactly.

A window's KS from profiles is an interval. When the decision (null bar, floor and Benjamini-Hochberg
across the window's columns) differs between the interval's two ends, the rows of the bins whose
inside could still move the statistic are read from the raw tables (one column, the window's rows
and the reference's), at most `MAX_RAW_ROWS` per side, whole bins only, largest bound first. Windows
decided by their bounds never touch raw rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from duckwatch.loading.inputs import input_columns
from duckwatch.loading.profile_scan import window_key
from duckwatch.loading.profiling import (
    auto_reference_rows,
    available_columns,
    first_full_window,
    unprofiled_ticks,
)
from duckwatch.loading.windows_rows import is_row_window, window_where
from duckwatch.metrics.drift_decision import DriftCell
from duckwatch.metrics.drift_exact import MAX_RAW_ROWS, ambiguous, bins_to_read, refine_cell, refine_ks
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.store import raw_sources, raw_values
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.raw_sources import TIME_RANGE, VERSION_IS
from duckwatch.store.warehouse import Warehouse

__all__ = ["RawRows", "raw_rows_budget"]

Profile = NumericProfile | CategoricalProfile
_UNSET: Any = object()
REFERENCE_CACHE_ROWS = 2_000_000  # references up to this size are read whole, once per column and tick
PREFETCH_CELLS = 20_000_000  # window values read ahead at most (160 MB of doubles)


@dataclass
class RawRows:
    """Raw-row access for one model's compute stage (the reference's source is looked up once)."""

    wh: Warehouse
    info: ModelInfo
    now: datetime
    max_rows: int = MAX_RAW_ROWS
    reads: int = 0  # columns whose raw rows were read (for tests and benchmarks)
    # Reference values per column, read once per tick: every window of the tick compares with the same
    # reference, and re-reading its bins for each ambiguous cell was half of an hourly backfill's reads.
    # Kept sorted by (bin, value) with each bin's start and count: a window's bins are slices.
    _ref_values: dict[
        str, tuple[npt.NDArray[np.float64], npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]]
    ] = field(default_factory=dict, repr=False)
    # Window values per (window key, column), read ahead for many small windows (prefetch).
    _window_cache: dict[tuple[Any, ...], dict[str, npt.NDArray[np.float64]]] = field(
        default_factory=dict, repr=False
    )
    _ref_version: Any = field(default=_UNSET, repr=False)
    _auto_window: Any = field(default=_UNSET, repr=False)
    _auto_inputs: Any = field(default=_UNSET, repr=False)

    def _stream(self, col: ColumnInfo) -> str:
        """Where the column's window profiles come from (loading/inputs.py): predictions or inputs."""
        if not self.wh.has_table(self.info.model_key, "inputs"):
            return "predictions"
        return (
            "inputs"
            if input_columns(self.wh, self.info, [col], unprofiled_ticks(self.wh, self.info))
            else "predictions"
        )

    def prefetch(
        self, windows: Sequence[tuple[str, str, Any, Any]], sizes: Sequence[int], cols: Sequence[ColumnInfo]
    ) -> None:
        """Read the numeric prediction columns of many windows in a few queries, before they are decided.

        An hourly backfill asks for raw rows in hundreds of windows, one query each (892 of them, 14 s,
        in a 720-window tick). Up to ``PREFETCH_CELLS`` values are read ahead instead; windows of N rows,
        input-only columns and bigger backfills keep the per-window read.
        """
        key = self.info.model_key
        if self.max_rows <= 0 or not windows or is_row_window(self.info.window):
            return
        if not self.wh.has_table(key, "predictions"):
            return
        have = available_columns(self.wh, key, "predictions")
        numeric = [
            c for c in cols if c.dtype == "numeric" and c.col_id in have and self._stream(c) == "predictions"
        ]
        if not numeric or sum(sizes) * len(numeric) > PREFETCH_CELLS:
            return
        table = raw_values.windows_columns(self.wh, key, windows, [c.col_id for c in numeric])
        cuts = np.searchsorted(table.column("_w").to_numpy(), np.arange(len(windows) + 1))
        columns = {c.col_id: table.column(c.col_id).to_numpy(zero_copy_only=False) for c in numeric}
        for i, (v, e, ws, _we) in enumerate(windows):
            a, b = int(cuts[i]), int(cuts[i + 1])
            self._window_cache[window_key((v, e, ws))] = {c: x[a:b] for c, x in columns.items()}

    def resolve(
        self,
        cells: Sequence[tuple[ColumnInfo, DriftCell]],
        reference: dict[str, Profile],
        profiles: dict[str, Profile],
        window: tuple[str, str, datetime, datetime],
        p_upper: Sequence[float] | None = None,
    ) -> list[DriftCell]:
        """The cells to decide on: ambiguous KS cells recomputed from raw rows, the rest unchanged.
        ``p_upper``: the KS p-values at the cells' upper bounds, if computed already."""
        out = [cell for _col, cell in cells]
        if self.max_rows <= 0:
            return out
        sizes = [(reference[col.col_id].n, profiles[col.col_id].n) for col, _cell in cells]
        for i in np.flatnonzero(ambiguous(out, sizes, p_upper=p_upper)).tolist():
            col, cell = cells[i]
            ref, cur = reference[col.col_id], profiles[col.col_id]
            if (
                cell.metric != "ks"
                or not isinstance(ref, NumericProfile)
                or not isinstance(cur, NumericProfile)
            ):
                continue
            bins = bins_to_read(ref, cur, cell.result.lower, self.max_rows)
            if not bins:
                continue
            cur_values = self._window_values(col, cur, bins, window)
            ref_values = self._reference_values(col, ref, bins) if cur_values is not None else None
            if cur_values is None or ref_values is None:
                continue  # rows changed since profiling, or the source is gone: keep the bound
            self.reads += 1
            out[i] = refine_cell(cell, refine_ks(ref, cur, ref_values, cur_values), ref.n, cur.n)
        return out

    def _window_values(
        self,
        col: ColumnInfo,
        cur: NumericProfile,
        bins: list[int],
        window: tuple[str, str, datetime, datetime],
    ) -> dict[int, npt.NDArray[np.float64]] | None:
        stream = self._stream(col)
        if col.col_id not in available_columns(self.wh, self.info.model_key, stream):
            return None
        version, experiment, ws, we = window
        ahead = self._window_cache.get(window_key((version, experiment, ws)), {}).get(col.col_id)
        if ahead is not None:
            values = ahead[np.isfinite(ahead)].astype(np.float64, copy=False)
            return _split_bins(values, cur.binning.bin_index(values), cur, bins)
        where, params = window_where(self.wh, self.info, version, experiment, ws, we)
        return _read_bins(self.wh, self.info.model_key, stream, where, params, col.col_id, cur, bins)

    def _reference_values(
        self, col: ColumnInfo, ref: NumericProfile, bins: list[int]
    ) -> dict[int, npt.NDArray[np.float64]] | None:
        # Mirrors profiling.build_reference: the reference stream's latest version for the columns it
        # has, else the first full production windows. The bin counts are checked against the profile.
        key = self.info.model_key
        if self._ref_version is _UNSET:
            has = self.wh.has_table(key, "reference")
            rows = raw_sources.latest_reference_version(self.wh, key) if has else []
            self._ref_version = (rows[0][0],) if rows else None
        if self._ref_version is not None and col.col_id in available_columns(self.wh, key, "reference"):
            stream, where, params = "reference", VERSION_IS, [self._ref_version[0]]
        elif self._stream(col) == "inputs":  # the first full windows of input rows (profiling.py)
            if self._auto_inputs is _UNSET:
                self._auto_inputs = first_full_window(self.wh, self.info, self.now, "inputs")
            if self._auto_inputs is None:
                return None
            stream, where, params = "inputs", TIME_RANGE, list(self._auto_inputs)
        else:
            if self._auto_window is _UNSET:
                self._auto_window = auto_reference_rows(self.wh, self.info, self.now)
            if self._auto_window is None or col.col_id not in available_columns(self.wh, key, "predictions"):
                return None
            stream, where, params = "predictions", self._auto_window[1], self._auto_window[2]
        if ref.n > REFERENCE_CACHE_ROWS:  # a very large reference: read only the bins asked for
            return _read_bins(self.wh, key, stream, where, params, col.col_id, ref, bins)
        if col.col_id not in self._ref_values:
            values = raw_values.finite_values(self.wh, key, stream, where, params, col.col_id)
            # Sorted by bin, then value, once: every window then takes its bins as slices.
            idx = ref.binning.bin_index(values)
            order = np.lexsort((values, idx))
            per_bin = np.bincount(idx, minlength=ref.binning.n_bins)
            self._ref_values[col.col_id] = (values[order], np.concatenate([[0], np.cumsum(per_bin)]), per_bin)
        ordered, starts, found = self._ref_values[col.col_id]
        if any(int(found[j]) != int(ref.counts[j]) for j in bins):
            return None
        return {j: ordered[starts[j] : starts[j + 1]] for j in bins}


def raw_rows_budget(meta: dict[str, Any]) -> int:
    """Rows per side the fallback may read: model meta ``drift_raw_max_rows`` (0 = off), else the default."""
    value = meta.get("drift_raw_max_rows", MAX_RAW_ROWS)
    try:
        return max(0, int(value)) if not isinstance(value, bool) else MAX_RAW_ROWS
    except (TypeError, ValueError):
        return MAX_RAW_ROWS


def _read_bins(
    wh: Warehouse,
    model_key: int,
    stream: str,
    where: str,
    params: list[Any],
    col_id: str,
    profile: NumericProfile,
    bins: list[int],
) -> dict[int, npt.NDArray[np.float64]] | None:
    """Finite values of ``col_id`` in the given bins, per bin; None when counts differ from the profile."""
    values = raw_values.finite_values_in_bins(
        wh, model_key, stream, where, params, col_id, profile.binning.edges, bins
    )
    return _split_bins(values, profile.binning.bin_index(values), profile, bins)


def _split_bins(
    values: npt.NDArray[np.float64],
    idx: npt.NDArray[np.integer[Any]],
    profile: NumericProfile,
    bins: list[int],
) -> dict[int, npt.NDArray[np.float64]] | None:
    """``values`` (bin ``idx`` each) of the given bins, per bin; None when their counts differ from the profile."""
    wanted = np.isin(idx, bins)
    values, idx = values[wanted], idx[wanted]
    found = np.bincount(idx, minlength=profile.binning.n_bins)
    if any(int(found[j]) != int(profile.counts[j]) for j in bins):
        return None
    order = np.argsort(idx, kind="stable")
    starts = np.searchsorted(idx[order], bins, side="left")
    return {j: values[order[s : s + int(found[j])]] for j, s in zip(bins, starts, strict=True)}
