"""Reference and window profiles: built once per reference, merged per ingested batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from duckwatch.metrics.profile import (
    CategoricalProfile,
    CategoricalVocabulary,
    NumericBinning,
    NumericProfile,
    merge,
    profile_categorical,
    profile_numeric,
)
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

Profile = NumericProfile | CategoricalProfile
PROFILED_ROLES = ("feature", "segment", "sensitive", "score", "prediction")
MIN_AUTO_REFERENCE_ROWS = 100


def profiled_columns(columns: Sequence[ColumnInfo]) -> list[ColumnInfo]:
    """Columns whose distribution is monitored (features, segments, scores, predictions)."""
    return [c for c in columns if c.role in PROFILED_ROLES and c.dtype in ("numeric", "categorical")]


def current_seq(wh: Warehouse) -> int:
    """The tick's ingestion sequence number."""
    rows = wh.rows("SELECT value FROM job_state WHERE key = 'seq'")
    return int(rows[0][0]) if rows else 0


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


def _columns_frame(table: pa.Table, cols: Sequence[ColumnInfo]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per column id: (values, null mask) as numpy, NaN kept distinct from NULL."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for col in cols:
        if col.col_id not in table.column_names:
            continue
        arr = table.column(col.col_id)
        nulls = arr.is_null().to_numpy(zero_copy_only=False)
        if col.dtype == "numeric":
            values = arr.fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            values = np.asarray(arr.fill_null("").to_pylist(), dtype=object)
        out[col.col_id] = (values, nulls)
    return out


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
    new_ref = has_ref and wh.rows(f"SELECT count(*) FROM {ref_table} WHERE _seq = ?", [seq])[0][0] > 0
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
    return {
        r[0]
        for r in wh.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [raw_table(model_key, stream)],
        )
    }


def _first_full_window(wh: Warehouse, info: ModelInfo, now: datetime) -> tuple[datetime, datetime] | None:
    pred = raw_table(info.model_key, "predictions")
    if not wh.has_table(info.model_key, "predictions"):
        return None
    w = window_expr(info.window)
    rows = wh.rows(
        f"SELECT ws, ws + INTERVAL 1 {info.window} AS we FROM (SELECT {w} AS ws, count(*) AS n FROM {pred} GROUP BY 1) "
        f"WHERE n >= ? AND ws + INTERVAL 1 {info.window} <= ? ORDER BY ws LIMIT 1",
        [MIN_AUTO_REFERENCE_ROWS, now],
    )
    return (rows[0][0], rows[0][1]) if rows else None


def _store_reference(
    wh: Warehouse, model: str, cols: Sequence[ColumnInfo], table: pa.Table, source: str, now: datetime
) -> None:
    arrays = _columns_frame(table, cols)
    for col in cols:
        if col.col_id not in arrays:
            continue
        values, nulls = arrays[col.col_id]
        profile: Profile
        if col.dtype == "numeric":
            binning = NumericBinning.from_reference(values[~nulls])
            profile = profile_numeric(values, binning, nulls)
        else:
            vocab = CategoricalVocabulary.from_reference(values, nulls)
            profile = profile_categorical(values, vocab, nulls)
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
    """Profile the rows of ingestion ``seq`` (or all rows) per window and merge into stored profiles."""
    reference = load_reference(wh, info.model)
    if not reference or not wh.has_table(info.model_key, "predictions"):
        return 0
    pred = raw_table(info.model_key, "predictions")
    have = _available(wh, info.model_key, "predictions")
    use = [c for c in cols if c.col_id in reference and c.col_id in have]
    where = "WHERE _seq = ?" if seq is not None else ""
    table = wh.arrow(
        f"SELECT _version, _experiment, {window_expr(info.window)} AS ws"
        f"{''.join(', ' + c.col_id for c in use)} FROM {pred} {where}",
        [seq] if seq is not None else [],
    )
    if table.num_rows == 0:
        return 0
    keys = pd.DataFrame(
        {
            "v": table.column("_version").to_pylist(),
            "e": table.column("_experiment").to_pylist(),
            "ws": table.column("ws").to_pandas(),
        }
    )
    arrays = _columns_frame(table, use)
    groups: dict[tuple[str, str, Any], np.ndarray] = dict(keys.groupby(["v", "e", "ws"], sort=True).indices)  # type: ignore[arg-type]
    stored = _stored_profiles(wh, info.model, [(v, e, ws) for v, e, ws in groups])
    rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]] = []
    for (v, e, ws), idx in groups.items():
        for col in use:
            values, nulls = arrays[col.col_id]
            ref = reference[col.col_id]
            part: Profile
            if isinstance(ref, NumericProfile):
                part = profile_numeric(values[idx], ref.binning, nulls[idx])
            else:
                part = profile_categorical(values[idx], ref.vocabulary, nulls[idx])
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
