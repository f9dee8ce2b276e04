"""Reference and window profiles: built once per reference, merged per ingested batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.jobs.profile_scan import (  # noqa: F401  (_columns_frame, _groups, _profile: tests)
    Profile,
    _columns_frame,
    _groups,
    _profile,
    scan_profiles,
)
from duckwatch.jobs.windows_rows import first_closed_windows, is_row_window, profile_source
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile, merge
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

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
        source = f"reference data (version {version or 'default'})"
        # Columns the reference file lacks (e.g. a score) fall back to the first production window.
        rest = [c for c in cols if c.col_id not in available]
    else:
        use, version, source, rest = [], None, "", list(cols)
    if rest:
        window = _auto_reference(wh, info, now)
        if window is None and not use:
            return None
        if window is not None:
            pred = raw_table(info.model_key, "predictions")
            have = _available(wh, info.model_key, "predictions")
            rest = [c for c in rest if c.col_id in have]
            if rest:
                label = f"first production window {window[0]:%Y-%m-%d %H:%M}"
                rows = f"{pred} WHERE {window[1]}"
                _store_reference(wh, info.model, rest, rows, window[2], label, now)
                source = source or label
    if use:
        _store_reference(wh, info.model, use, f"{ref_table} WHERE _version = ?", [version], source, now)
    if existing[0] and not new_ref and not use and not rest:
        return None
    # A new reference changes every bin: recompute all window profiles from raw rows.
    rebuild_profiles(wh, info, cols)
    return source


def _available(wh: Warehouse, model_key: int, stream: str) -> set[str]:
    return set(wh.table_columns(raw_table(model_key, stream)))


def _auto_reference(wh: Warehouse, info: ModelInfo, now: datetime) -> tuple[datetime, str, list[Any]] | None:
    """Rows of the first closed windows as (first window start, WHERE clause, parameters), or None."""
    if is_row_window(info.window):
        return first_closed_windows(
            wh, info, now, AUTO_REFERENCE_ROWS, MIN_AUTO_REFERENCE_ROWS, AUTO_REFERENCE_WINDOWS
        )
    window = _first_full_window(wh, info, now)
    return None if window is None else (window[0], "_ts >= ? AND _ts < ?", list(window))


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
    wh: Warehouse,
    model: str,
    cols: Sequence[ColumnInfo],
    rows: str,
    params: list[Any],
    source: str,
    now: datetime,
) -> None:
    """Profile ``SELECT ... FROM {rows}`` (bins built from these rows) as the reference of ``cols``."""
    profiles = scan_profiles(wh, rows, params, cols, lambda _col: None, None).get(None, {})
    for col in cols:
        profile = profiles.get(col.col_id)
        if profile is None:
            continue
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
    if seq is None:
        source, params = pred, []
    else:
        since = profiled_seq(wh, info.model)
        source = f"{wh.raw_since(info.model_key, 'predictions', since, seq)} WHERE _seq > ? AND _seq <= ?"
        params = [since, seq]
    if is_row_window(info.window):
        source, params = profile_source(info, source, params)
    parts = scan_profiles(wh, source, params, use, lambda col: reference[col.col_id], info.window)
    if not parts:
        return 0
    stored = _stored_profiles(wh, info.model, [k for k in parts if k is not None])
    rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]] = []
    for key, profiles in parts.items():
        assert key is not None
        v, e, ws = key
        for col in use:
            part = profiles[col.col_id]
            old = stored.get((v, e, ws, col.col_id))
            merged = merge(old, part) if old is not None else part
            rows.append((info.model, v, e, ws.to_pydatetime(), "", col.col_id, col.dtype, merged.to_dict()))
    wh.upsert_profiles(rows)
    return len(parts)


def _stored_profiles(
    wh: Warehouse, model: str, keys: list[tuple[str, str, pd.Timestamp]]
) -> dict[tuple[str, str, pd.Timestamp, str], Profile]:
    """Stored profiles of the windows ``keys`` (window starts in UTC) per (v, e, start, col_id)."""
    if not keys:
        return {}
    starts = sorted({k[2].to_pydatetime() for k in keys})
    out: dict[tuple[str, str, pd.Timestamp, str], Profile] = {}
    for v, e, ws, col_id, kind, text in wh.rows(
        "SELECT version, experiment, window_start, col_id, kind, profile FROM profiles "
        "WHERE model = ? AND segment = '' AND list_contains(?, window_start)",
        [model, starts],
    ):
        out[(v, e, pd.Timestamp(ws).tz_convert("UTC"), col_id)] = _from_json(kind, text)
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
