"""Reference and window profiles: built once per reference, merged per ingested batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from duckwatch.metrics.profile import (
    CategoricalProfile,
    CategoricalVocabulary,
    NumericBinning,
    NumericProfile,
    merge,
    profile_category_counts,
    profile_numeric,
)
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

Profile = NumericProfile | CategoricalProfile
PROFILED_ROLES = ("feature", "segment", "sensitive", "score", "prediction")
MIN_AUTO_REFERENCE_ROWS = 100
AUTO_REFERENCE_ROWS = 1000
AUTO_REFERENCE_WINDOWS = 14


def profiled_columns(columns: Sequence[ColumnInfo]) -> list[ColumnInfo]:
    """Columns whose distribution is monitored (features, segments, scores, predictions)."""
    return [c for c in columns if c.role in PROFILED_ROLES and c.dtype in ("numeric", "categorical")]


def current_seq(wh: Warehouse) -> int:
    """The tick's ingestion sequence number."""
    rows = wh.rows("SELECT value FROM job_state WHERE key = 'seq'")
    return int(rows[0][0]) if rows else 0


def profiled_seq(wh: Warehouse, model: str) -> int:
    """The last ingestion sequence whose rows are in the model's profiles (default: the previous tick's)."""
    rows = wh.rows("SELECT value FROM job_state WHERE key = ?", [f"profiled_seq:{model}"])
    return int(rows[0][0]) if rows else current_seq(wh) - 1


def mark_profiled(wh: Warehouse, model: str, seq: int) -> None:
    """Record that rows up to ingestion ``seq`` are profiled (in the same transaction as the profiles)."""
    wh.execute("INSERT OR REPLACE INTO job_state VALUES (?, ?)", [f"profiled_seq:{model}", str(seq)])


def load_reference(wh: Warehouse, model: str) -> dict[str, Profile]:
    """The model's reference profile per column id."""
    out: dict[str, Profile] = {}
    for col_id, kind, profile in wh.rows(
        "SELECT col_id, kind, profile FROM reference_profiles WHERE model = ?", [model]
    ):
        out[col_id] = _from_json(kind, profile)
    return out


def _from_json(kind: str, text: str) -> Profile:
    d = json.loads(text)
    return NumericProfile.from_dict(d) if kind == "numeric" else CategoricalProfile.from_dict(d)


class _Categories:
    """A categorical column as dictionary codes (NULL = the last code) plus the dictionary."""

    def __init__(self, arr: pa.ChunkedArray) -> None:
        encoded = pc.dictionary_encode(arr.combine_chunks())
        self.names: list[str] = [str(v) for v in encoded.dictionary.to_pylist()]
        self.codes = np.asarray(
            pc.fill_null(encoded.indices, len(self.names)).to_numpy(zero_copy_only=False), dtype=np.int64
        )

    def counts(self, idx: np.ndarray | None = None) -> tuple[dict[str, int], int]:
        """Non-null rows per category, and NULL rows, of all rows or of the rows ``idx``."""
        codes = self.codes if idx is None else self.codes[idx]
        counts = np.bincount(codes, minlength=len(self.names) + 1)
        hit = np.flatnonzero(counts[:-1])
        return {self.names[i]: int(counts[i]) for i in hit}, int(counts[-1])


Column = tuple[np.ndarray, np.ndarray] | _Categories


def _columns_frame(table: pa.Table, cols: Sequence[ColumnInfo]) -> dict[str, Column]:
    """Per column id: numeric (values, null mask) as numpy, NaN kept distinct from NULL; or categories."""
    out: dict[str, Column] = {}
    for col in cols:
        if col.col_id not in table.column_names:
            continue
        arr = table.column(col.col_id)
        if col.dtype == "numeric":
            nulls = arr.is_null().to_numpy(zero_copy_only=False)
            values = arr.fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64)
            out[col.col_id] = (values, nulls)
        else:
            out[col.col_id] = _Categories(arr)
    return out


def _profile(column: Column, ref: Profile | None, idx: np.ndarray | None = None) -> Profile:
    """Profile all rows (or rows ``idx``) of a column, against ``ref``'s bins (None: build them here)."""
    if isinstance(column, _Categories):
        counts, n_null = column.counts(idx)
        vocab = (
            ref.vocabulary
            if isinstance(ref, CategoricalProfile)
            else CategoricalVocabulary.from_counts(counts)
        )
        return profile_category_counts(counts, vocab, n_null)
    values, nulls = column
    if idx is not None:
        values, nulls = values[idx], nulls[idx]
    binning = (
        ref.binning if isinstance(ref, NumericProfile) else NumericBinning.from_reference(values[~nulls])
    )
    return profile_numeric(values, binning, nulls)


def build_reference(wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], now: datetime) -> str | None:
    """(Re)build reference profiles when new reference rows arrived, or pick the first full window.

    Returns a description of the new reference, or None when the reference did not change.
    """
    seq = current_seq(wh)
    ref_table = raw_table(info.model_key, "reference")
    has_ref = wh.has_table(info.model_key, "reference")
    existing = wh.rows("SELECT count(*), min(source) FROM reference_profiles WHERE model = ?", [info.model])[
        0
    ]
    # Reference rows of any tick not yet profiled (a tick killed before its compute stage included).
    new_ref = (
        has_ref
        and wh.rows(
            f"SELECT count(*) FROM {ref_table} WHERE _seq > ? AND _seq <= ?",
            [profiled_seq(wh, info.model), seq],
        )[0][0]
        > 0
    )
    present = {c[0] for c in wh.rows("SELECT col_id FROM reference_profiles WHERE model = ?", [info.model])}
    missing_cols = [c for c in cols if c.col_id not in present]
    if existing[0] and not new_ref and not missing_cols:
        return None
    available = _available(wh, info.model_key, "reference") if has_ref else set()
    if has_ref and wh.rows(f"SELECT count(*) FROM {ref_table}")[0][0] > 0:
        version = wh.rows(f"SELECT _version FROM {ref_table} ORDER BY _received_at DESC LIMIT 1")[0][0]
        use = [c for c in cols if c.col_id in available]
        sql = f"SELECT {', '.join(c.col_id for c in use) or '1 AS one'} FROM {ref_table} WHERE _version = ?"
        table, source = wh.arrow(sql, [version]), f"reference data (version {version or 'default'})"
        # Columns the reference file lacks (e.g. a score) fall back to the first production window.
        rest = [c for c in cols if c.col_id not in available]
    else:
        use, table, source, rest = [], pa.table({}), "", list(cols)
    if rest:
        window = _first_full_window(wh, info, now)
        if window is None and not use:
            return None
        if window is not None:
            pred = raw_table(info.model_key, "predictions")
            have = _available(wh, info.model_key, "predictions")
            rest = [c for c in rest if c.col_id in have]
            if rest:
                extra = wh.arrow(
                    f"SELECT {', '.join(c.col_id for c in rest)} FROM {pred} WHERE _ts >= ? AND _ts < ?",
                    list(window),
                )
                _store_reference(
                    wh, info.model, rest, extra, f"first production window {window[0]:%Y-%m-%d %H:%M}", now
                )
                source = source or f"first production window {window[0]:%Y-%m-%d %H:%M}"
    if use:
        _store_reference(wh, info.model, use, table, source, now)
    if existing[0] and not new_ref and not use and not rest:
        return None
    # A new reference changes every bin: recompute all window profiles from raw rows.
    rebuild_profiles(wh, info, cols)
    return source


def _available(wh: Warehouse, model_key: int, stream: str) -> set[str]:
    return set(wh.table_columns(raw_table(model_key, stream)))


def _first_full_window(wh: Warehouse, info: ModelInfo, now: datetime) -> tuple[datetime, datetime] | None:
    pred = raw_table(info.model_key, "predictions")
    if not wh.has_table(info.model_key, "predictions"):
        return None
    # The earliest closed windows, together at least AUTO_REFERENCE_ROWS rows (at most
    # AUTO_REFERENCE_WINDOWS of them): a reference of a few hundred rows has noisy extremes and
    # would make every later window look "out of range".
    w = window_expr(info.window)
    rows = wh.rows(
        f"SELECT ws, ws + INTERVAL 1 {info.window} AS we, n FROM (SELECT {w} AS ws, count(*) AS n FROM {pred} GROUP BY 1) "
        f"WHERE ws + INTERVAL 1 {info.window} <= ? ORDER BY ws LIMIT {AUTO_REFERENCE_WINDOWS}",
        [now],
    )
    total = 0
    for i, (_ws, we, n) in enumerate(rows):
        total += int(n)
        if total >= AUTO_REFERENCE_ROWS or (
            i == AUTO_REFERENCE_WINDOWS - 1 and total >= MIN_AUTO_REFERENCE_ROWS
        ):
            return (rows[0][0], we)
    return None


def _store_reference(
    wh: Warehouse, model: str, cols: Sequence[ColumnInfo], table: pa.Table, source: str, now: datetime
) -> None:
    arrays = _columns_frame(table, cols)
    for col in cols:
        if col.col_id not in arrays:
            continue
        profile = _profile(arrays[col.col_id], None)
        wh.execute(
            "INSERT OR REPLACE INTO reference_profiles VALUES (?, ?, ?, ?, ?, ?, ?)",
            [model, col.col_id, col.dtype, "{}", json.dumps(profile.to_dict()), source, now],
        )


def rebuild_profiles(wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo]) -> None:
    """Drop and recompute every window profile of the model; all windows become dirty."""
    wh.execute("DELETE FROM profiles WHERE model = ?", [info.model])
    wh.execute("UPDATE window_state SET dirty = true WHERE model = ?", [info.model])
    update_profiles(wh, info, cols, seq=None)


def update_profiles(wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], seq: int | None) -> int:
    """Profile rows ingested after the last profiled tick up to ``seq`` (or all rows) and merge them in."""
    reference = load_reference(wh, info.model)
    if not reference or not wh.has_table(info.model_key, "predictions"):
        return 0
    pred = raw_table(info.model_key, "predictions")
    have = _available(wh, info.model_key, "predictions")
    use = [c for c in cols if c.col_id in reference and c.col_id in have]
    # Every tick since the last profiled one: a tick killed after ingesting leaves its rows to the next.
    where = "WHERE _seq > ? AND _seq <= ?" if seq is not None else ""
    table = wh.arrow(
        f"SELECT _version, _experiment, {window_expr(info.window)} AS ws"
        f"{''.join(', ' + c.col_id for c in use)} FROM {pred} {where}",
        [profiled_seq(wh, info.model), seq] if seq is not None else [],
    )
    if table.num_rows == 0:
        return 0
    arrays = _columns_frame(table, use)
    groups = _groups(table)
    stored = _stored_profiles(wh, info.model, list(groups))
    rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]] = []
    for (v, e, ws), idx in groups.items():
        for col in use:
            part = _profile(arrays[col.col_id], reference[col.col_id], idx)
            old = stored.get((v, e, pd.Timestamp(ws), col.col_id))
            merged = merge(old, part) if old is not None else part
            rows.append(
                (
                    info.model,
                    v,
                    e,
                    pd.Timestamp(ws).to_pydatetime(),
                    "",
                    col.col_id,
                    col.dtype,
                    merged.to_dict(),
                )
            )
    wh.upsert_profiles(rows)
    return len(groups)


def _groups(table: pa.Table) -> dict[tuple[str, str, Any], np.ndarray | None]:
    """Row positions (ascending) per (version, experiment, window start), sorted by key; None = all rows."""
    parts = [
        pc.dictionary_encode(table.column(name).combine_chunks())
        for name in ("_version", "_experiment", "ws")
    ]
    key = np.zeros(table.num_rows, dtype=np.int64)
    for part in parts:
        key = key * (len(part.dictionary) + 1) + np.asarray(
            pc.fill_null(part.indices, len(part.dictionary)).to_numpy(zero_copy_only=False), dtype=np.int64
        )
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    names = [[*part.dictionary.to_pylist(), None] for part in parts]
    codes = [
        np.asarray(pc.fill_null(p.indices, len(p.dictionary)).to_numpy(zero_copy_only=False)) for p in parts
    ]
    keys = [tuple(names[j][int(codes[j][i])] for j in range(3)) for i in first]
    if len(uniq) == 1:
        return {} if None in keys[0] else {keys[0]: None}  # type: ignore[dict-item]
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(uniq)))[:-1]
    # Like pandas' groupby: rows with a NULL key belong to no group.
    found = {k: idx for k, idx in zip(keys, np.split(order, bounds), strict=True) if None not in k}
    return dict(sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1], pd.Timestamp(kv[0][2]))))  # type: ignore[arg-type]


def _stored_profiles(
    wh: Warehouse, model: str, keys: list[tuple[str, str, Any]]
) -> dict[tuple[str, str, pd.Timestamp, str], Profile]:
    if not keys:
        return {}
    starts = sorted({pd.Timestamp(k[2]).to_pydatetime() for k in keys})
    out: dict[tuple[str, str, pd.Timestamp, str], Profile] = {}
    for v, e, ws, col_id, kind, text in wh.rows(
        "SELECT version, experiment, window_start, col_id, kind, profile FROM profiles "
        "WHERE model = ? AND segment = '' AND list_contains(?, window_start)",
        [model, starts],
    ):
        out[(v, e, pd.Timestamp(ws), col_id)] = _from_json(kind, text)
    return out


def window_profiles(
    wh: Warehouse, model: str, version: str, experiment: str, ws: datetime
) -> dict[str, Profile]:
    """Stored profiles of one window (all rows, no segment) per column id."""
    return {
        col_id: _from_json(kind, text)
        for col_id, kind, text in wh.rows(
            "SELECT col_id, kind, profile FROM profiles WHERE model = ? AND version = ? AND experiment = ? "
            "AND window_start = ? AND segment = ''",
            [model, version, experiment, ws],
        )
    }
