"""Reference and window profiles: built once per reference, merged per ingested batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.loading.inputs import (
    carried_columns,
    input_columns,
    input_columns_changed,
    input_only_columns,
    input_rows,
    input_windows,
    mark_windows_dirty,
    remember_carried,
    remember_input_columns,
)
from duckwatch.loading.profile_scan import GroupKey, Profile, scan_profiles, window_key
from duckwatch.loading.windows_rows import first_closed_windows, is_row_window, profile_source
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile, merge
from duckwatch.store import job_state, raw_sources, window_memo
from duckwatch.store import profile_queries as q
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.raw_sources import TIME_RANGE, VERSION_IS, rows_where
from duckwatch.store.warehouse import Warehouse, raw_table

PROFILED_ROLES = ("feature", "segment", "sensitive", "score", "prediction")
MIN_AUTO_REFERENCE_ROWS = 100
AUTO_REFERENCE_ROWS = 1000
AUTO_REFERENCE_WINDOWS = 14


def profiled_columns(columns: Sequence[ColumnInfo]) -> list[ColumnInfo]:
    """Columns whose distribution is monitored (features, segments, scores, predictions)."""
    return [c for c in columns if c.role in PROFILED_ROLES and c.dtype in ("numeric", "categorical")]


def current_seq(wh: Warehouse) -> int:
    """The tick's ingestion sequence number."""
    return job_state.current_seq(wh)


def profiled_seq(wh: Warehouse, model: str) -> int:
    """The last ingestion sequence whose rows are in the model's profiles (default: the previous tick's)."""
    value = job_state.read_value(wh, f"profiled_seq:{model}")
    if value is not None:
        return int(value)
    # A first tick killed after its ingest committed left rows of its own seq, not the previous one's:
    # with no window marked yet every row is still to do.
    return current_seq(wh) - 1 if window_memo.has_windows(wh, model) else 0


def mark_profiled(wh: Warehouse, model: str, seq: int) -> None:
    """Record that rows up to ingestion ``seq`` are profiled (in the same transaction as the profiles)."""
    job_state.write_value(wh, f"profiled_seq:{model}", str(seq))


def load_reference(wh: Warehouse, model: str) -> dict[str, Profile]:
    """The model's reference profile per column id."""
    out: dict[str, Profile] = {}
    for col_id, kind, profile in q.reference_profile_rows(wh, model):
        out[col_id] = profile_from_json(kind, profile)
    return out


def profile_from_json(kind: str, text: str) -> Profile:
    return profile_from_dict(kind, json.loads(text))


def profile_from_dict(kind: str, d: dict[str, Any]) -> Profile:
    return NumericProfile.from_dict(d) if kind == "numeric" else CategoricalProfile.from_dict(d)


def build_reference(wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], now: datetime) -> str | None:
    """(Re)build reference profiles when new reference rows arrived, or pick the first full window.

    Returns a description of the new reference, or None when the reference did not change.
    """
    seq = current_seq(wh)
    has_ref = wh.has_table(info.model_key, "reference")
    existing = q.reference_profile_summary(wh, info.model)
    # Reference rows of any tick not yet profiled (a tick killed before its compute stage included).
    new_ref = (
        has_ref
        and raw_sources.rows_in_ticks(wh, info.model_key, "reference", profiled_seq(wh, info.model), seq) > 0
    )
    present = q.reference_profile_columns(wh, info.model)
    missing_cols = [c for c in cols if c.col_id not in present]
    if existing[0] and not new_ref and not missing_cols:
        return None
    # Unchanged reference rows: only the columns without a reference yet are looked for (a column no
    # stream carries would otherwise re-store the reference and rebuild every profile in every tick).
    wanted = cols if not existing[0] or new_ref else missing_cols
    available = available_columns(wh, info.model_key, "reference") if has_ref else set()
    if has_ref and raw_sources.raw_row_count(wh, info.model_key, "reference") > 0:
        version = raw_sources.latest_reference_version(wh, info.model_key)[0][0]
        use = [c for c in wanted if c.col_id in available]
        source = f"reference data (version {version or 'default'})"
        # Columns the reference file lacks (e.g. a score) fall back to the first production window.
        rest = [c for c in wanted if c.col_id not in available]
    else:
        use, version, source, rest = [], None, "", list(wanted)
    stored = False
    if rest:
        only_in = {c.col_id for c in input_only_columns(wh, info, rest, unprofiled_ticks(wh, info))}
        have = available_columns(wh, info.model_key, "predictions") - only_in
        from_pred = [c for c in rest if c.col_id in have]
        window = auto_reference_rows(wh, info, now) if from_pred else None
        if window is not None:
            label = f"first production window {window[0]:%Y-%m-%d %H:%M}"
            rows = rows_where(info.model_key, "predictions", window[1])
            _store_reference(wh, info.model, from_pred, rows, window[2], label, now)
            source, stored = source or label, True
        # Columns only input batches carry (loading/inputs.py): the first full windows of input rows.
        label_in = _auto_reference_from_inputs(
            wh, info, input_columns(wh, info, rest, unprofiled_ticks(wh, info)), now
        )
        if label_in is not None:
            source, stored = source or label_in, True
    if use:
        _store_reference(
            wh, info.model, use, rows_where(info.model_key, "reference", VERSION_IS), [version], source, now
        )
    if not use and not stored:
        return None
    # A new reference changes every bin: recompute all window profiles from raw rows.
    rebuild_profiles(wh, info, cols)
    return source


def _auto_reference_from_inputs(
    wh: Warehouse, info: ModelInfo, todo: Sequence[ColumnInfo], now: datetime
) -> str | None:
    """Reference of the columns ``todo`` (profiled from inputs) from the first full windows of input
    rows, as for predictions; returns its description, or None when none was stored."""
    window = first_full_window(wh, info, now, "inputs") if todo else None
    if window is None:
        return None
    label = f"first input window {window[0]:%Y-%m-%d %H:%M}"
    rows = rows_where(info.model_key, "inputs", TIME_RANGE)
    _store_reference(wh, info.model, todo, rows, list(window), label, now)
    return label


def unprofiled_ticks(wh: Warehouse, info: ModelInfo) -> tuple[int, int]:
    """The ticks whose rows this compute stage takes in: after the last profiled one, up to this one."""
    return profiled_seq(wh, info.model), current_seq(wh)


def available_columns(wh: Warehouse, model_key: int, stream: str) -> set[str]:
    return set(wh.table_columns(raw_table(model_key, stream)))


def auto_reference_rows(
    wh: Warehouse, info: ModelInfo, now: datetime
) -> tuple[datetime, str, list[Any]] | None:
    """Rows of the first closed windows as (first window start, WHERE clause, parameters), or None."""
    if is_row_window(info.window):
        return first_closed_windows(
            wh, info, now, AUTO_REFERENCE_ROWS, MIN_AUTO_REFERENCE_ROWS, AUTO_REFERENCE_WINDOWS
        )
    window = first_full_window(wh, info, now)
    return None if window is None else (window[0], TIME_RANGE, list(window))


def first_full_window(
    wh: Warehouse, info: ModelInfo, now: datetime, stream: str = "predictions"
) -> tuple[datetime, datetime] | None:
    if not wh.has_table(info.model_key, stream):
        return None
    # The earliest closed windows, together at least AUTO_REFERENCE_ROWS rows (at most
    # AUTO_REFERENCE_WINDOWS of them): a reference of a few hundred rows has noisy extremes and
    # would make every later window look "out of range".
    rows = q.first_windows(wh, info.model_key, stream, str(info.window), now, AUTO_REFERENCE_WINDOWS)
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
        q.store_reference_profile(
            wh, model, col.col_id, col.dtype, json.dumps(profile.to_dict()), source, now
        )


def rebuild_profiles(wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo]) -> int:
    """Drop and recompute every window profile of the model; all windows become dirty."""
    q.forget_profiles(wh, info.model)
    if wh.has_table(info.model_key, "inputs"):  # windows of input rows never seen before, too
        found = input_windows(wh, info, cols, unprofiled_ticks(wh, info), None)
        if found is not None:
            mark_windows_dirty(wh, info, [found[0]], found[1])
    return update_profiles(wh, info, cols, seq=None)


def update_profiles(wh: Warehouse, info: ModelInfo, cols: Sequence[ColumnInfo], seq: int | None) -> int:
    """Profile rows ingested after the last profiled tick up to ``seq`` (or all rows) and merge them in.

    Per column one stream: predictions when they carry it, else input batches (loading/inputs.py).
    """
    has_inputs = wh.has_table(info.model_key, "inputs")
    if has_inputs:  # what the rows up to this tick carry, kept whatever happens below
        remember_carried(wh, info, carried_columns(wh, info, cols, unprofiled_ticks(wh, info)))
    reference = load_reference(wh, info.model)
    if not reference:
        return 0
    done = 0
    only_in: set[str] = set()  # carried by inputs alone: never profiled from prediction slots
    if has_inputs:
        found = input_only_columns(wh, info, cols, unprofiled_ticks(wh, info))
        only_in = {c.col_id for c in found}
        if input_columns_changed(wh, info.model, found):
            if seq is not None:  # a column moved between the streams: no profile may mix them
                return rebuild_profiles(wh, info, cols)
            remember_input_columns(wh, info.model, found)
        from_inputs = input_columns(wh, info, cols, unprofiled_ticks(wh, info))
        use_in = [c for c in from_inputs if c.col_id in reference]
        if use_in:
            ticks = None if seq is None else (profiled_seq(wh, info.model), seq)
            source, params = input_rows(wh, info, ticks)
            parts = scan_profiles(wh, source, params, use_in, lambda col: reference[col.col_id], info.window)
            done += _merge_parts(wh, info, use_in, parts)
    if not wh.has_table(info.model_key, "predictions"):
        return done
    have = available_columns(wh, info.model_key, "predictions") - only_in
    use = [c for c in cols if c.col_id in reference and c.col_id in have]
    # Every tick since the last profiled one: a tick killed after ingesting leaves its rows to the next.
    ticks = None if seq is None else (profiled_seq(wh, info.model), seq)
    source, params = raw_sources.tick_rows(wh, info.model_key, "predictions", ticks)
    if is_row_window(info.window):
        source, params = profile_source(info, source, params)
    parts = scan_profiles(wh, source, params, use, lambda col: reference[col.col_id], info.window)
    return done + _merge_parts(wh, info, use, parts)


def _merge_parts(
    wh: Warehouse,
    info: ModelInfo,
    use: Sequence[ColumnInfo],
    parts: dict[GroupKey | None, dict[str, Profile]],
) -> int:
    """Merge per-window profiles ``parts`` of the columns ``use`` into the stored ones; returns windows."""
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
    for v, e, ws, col_id, kind, text in q.stored_window_profiles(wh, model, starts):
        out[(v, e, pd.Timestamp(ws).tz_convert("UTC"), col_id)] = profile_from_json(kind, text)
    return out


def windows_profiles(
    wh: Warehouse, model: str, windows: Sequence[tuple[Any, ...]]
) -> dict[tuple[Any, ...], dict[str, Profile]]:
    """`window_profiles` of many windows (version, experiment, start, ...) in one query, by window_key."""
    out: dict[tuple[Any, ...], dict[str, Profile]] = {}
    if not windows:
        return out
    written = wh.written_profiles(model)  # profiled in this tick: no JSON to parse
    for v, e, ws, col_id, kind, text in q.profiles_of_windows(wh, model, windows):
        kept = written.get((str(v), str(e), ws, "", col_id))
        profile = (
            profile_from_json(kind, text)
            if kept is None or kept[0] != kind
            else profile_from_dict(kind, kept[1])
        )
        out.setdefault(window_key((str(v), str(e), ws)), {})[col_id] = profile
    return out


def window_profiles(
    wh: Warehouse, model: str, version: str, experiment: str, ws: datetime
) -> dict[str, Profile]:
    """Stored profiles of one window (all rows, no segment) per column id."""
    return {
        col_id: profile_from_json(kind, text)
        for col_id, kind, text in q.one_window_profiles(wh, model, version, experiment, ws)
    }
