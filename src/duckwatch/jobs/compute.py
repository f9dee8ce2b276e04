"""Compute stage of a tick: profiles and metrics for new and dirty, closed windows."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from duckwatch.jobs import null_cache
from duckwatch.jobs.custom import custom_rows
from duckwatch.jobs.drift_raw import RawRows, raw_rows_budget
from duckwatch.jobs.drift_rolling import OUTPUT_ROLES, baseline_rows, rolling_rows, rolling_windows
from duckwatch.jobs.duplicate_ids import duplicate_id_rows
from duckwatch.jobs.outcomes import performance_rows, prime_calibrator
from duckwatch.jobs.output_lists import list_output_rows
from duckwatch.jobs.profile_scan import _norm
from duckwatch.jobs.profiling import (
    build_reference,
    current_seq,
    load_reference,
    mark_profiled,
    profiled_columns,
    update_profiles,
    window_profiles,
)
from duckwatch.jobs.windows_rows import is_row_window, row_window_volumes
from duckwatch.metrics import quality
from duckwatch.metrics.drift import DEFAULT_METHOD, decide, drift_cell
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import get, load_builtins
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

RESULT_COLUMNS = [
    "model", "version", "experiment", "segment", "window_start", "window_end", "family", "metric", "col",
    "value", "lower", "upper", "exact", "method", "threshold", "status", "n", "provisional", "details",
    "computed_at",
]  # fmt: skip


def compute_model(
    wh: Warehouse, settings: Settings, info: catalog.ModelInfo, now: datetime, notify: bool
) -> int:
    """Compute metrics for the model's dirty, closed windows; return how many windows were computed."""
    load_builtins()
    columns = catalog.get_columns(settings, info.model)
    cols = profiled_columns(columns)
    seq = current_seq(wh)
    wh.execute("BEGIN")  # profiles and the profiled-up-to mark move together, or not at all
    try:
        # A reference is profiled (and its calibrator fitted) in the first tick after it arrives,
        # before any prediction does: later ticks only profile new rows.
        new_reference = build_reference(wh, info, cols, now)
        if new_reference is None:
            update_profiles(wh, info, cols, seq)
        else:
            null_cache.forget(wh, info.model)
        mark_profiled(wh, info.model, seq)
        wh.execute("COMMIT")
    except BaseException:
        wh.execute("ROLLBACK")
        raise
    if new_reference is not None:
        prime_calibrator(wh, info, columns)
    # Input batches alone (no predictions) still get windows, drift and quality (jobs/inputs.py).
    has_pred = wh.has_table(info.model_key, "predictions")
    if not has_pred and not wh.has_table(info.model_key, "inputs"):
        return 0
    reference = load_reference(wh, info.model)
    windows = wh.rows(
        "SELECT version, experiment, window_start, window_end FROM window_state "
        "WHERE model = ? AND dirty AND window_end <= ? ORDER BY window_start",
        [info.model, now],
    )
    if not windows:
        return 0
    by_id = {c.col_id: c for c in columns}
    frames = []
    # Row-count windows all hold N rows: volume against the usual volume means nothing there.
    count = row_window_volumes if is_row_window(info.window) else _window_volumes
    volumes = count(wh, info, windows) if has_pred else [(0, [], "")] * len(windows)
    # Volume, duplicate ids, performance, custom metrics count predictions: none for input rows alone.
    inputs_too = not has_pred or wh.has_table(info.model_key, "inputs")
    raw = RawRows(wh, info, now, raw_rows_budget(info.meta))
    k_rolling = rolling_windows(info.meta)
    null_cache.load(wh, info.model)
    for (version, experiment, ws, we), (n, prev, basis) in zip(windows, volumes, strict=True):
        rows: list[dict[str, Any]] = []
        profiles = window_profiles(wh, info.model, version, experiment, ws)
        predicted = n > 0 or not inputs_too
        if predicted:
            rows += _volume_rows(n, prev, basis)
            rows += duplicate_id_rows(wh, info, columns, (version, experiment, ws, we), n)
        if reference:
            rows += _drift_and_quality_rows(reference, profiles, by_id, raw, (version, experiment, ws, we))
            if info.meta.get("compare_previous_window"):
                rows += _previous_window_rows(wh, info, version, experiment, ws, profiles, by_id)
            if k_rolling:
                rows += rolling_rows(wh, info, (version, experiment, ws), k_rolling, profiles, by_id)
        if predicted:
            rows += performance_rows(wh, info, columns, version, experiment, ws, we, now)
            rows += list_output_rows(wh, info, columns, version, experiment, ws, we)
            rows += custom_rows(wh, info, columns, version, experiment, ws, we)
        frame = pd.DataFrame(rows)
        if frame.empty:
            continue
        frame["model"], frame["version"], frame["experiment"] = info.model, version, experiment
        frame["window_start"], frame["window_end"] = ws, we
        frames.append(frame)
    results = _finish(frames, now)
    null_cache.save(wh, info.model, now)
    history = _history(wh, info.model, results)
    results = _alerting(settings, info, results, history, now, notify)
    # One statement each for all windows (a statement costs milliseconds; there can be hundreds).
    keys = (
        "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) AS w"
    )
    wh.execute("BEGIN")  # results, clean windows and the publish mark commit together
    try:
        lists = [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows]]
        wh.execute(
            f"DELETE FROM metric_results USING {keys} WHERE metric_results.model = ? "
            "AND metric_results.version = w.v AND metric_results.experiment = w.e AND metric_results.window_start = w.ws",
            [*lists, info.model],
        )
        wh.execute(
            f"UPDATE window_state SET dirty = false, dirty_since = NULL, computed_at = ? FROM {keys} "
            "WHERE window_state.model = ? AND window_state.version = w.v AND window_state.experiment = w.e "
            "AND window_state.window_start = w.ws",
            [now, *lists, info.model],
        )
        if not results.empty:
            wh.insert_arrow(
                "metric_results", pa.Table.from_pandas(results[RESULT_COLUMNS], preserve_index=False)
            )
        wh.execute("INSERT OR REPLACE INTO job_state VALUES (?, '1')", [f"publish_pending:{info.model}"])
        wh.execute("COMMIT")
    except BaseException:
        wh.execute("ROLLBACK")
        raise
    return len(windows)


def _finish(frames: list[pd.DataFrame], now: datetime) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    defaults: dict[str, Any] = {
        "segment": "", "col": "", "lower": math.nan, "upper": math.nan, "exact": True, "method": "",
        "threshold": math.nan, "status": "ok", "n": 0, "provisional": False, "details": "",
    }  # fmt: skip
    for key, value in defaults.items():
        if key not in out.columns:
            out[key] = value
        else:
            out[key] = (
                out[key].where(out[key].notna(), value)
                if key not in ("lower", "upper", "threshold")
                else out[key]
            )
    out["computed_at"] = now
    for key in ("value", "lower", "upper", "threshold"):
        out[key] = pd.to_numeric(out[key], errors="coerce").astype("float64")
    out["n"] = pd.to_numeric(out["n"], errors="coerce").fillna(0).astype("int64")
    out["exact"] = out["exact"].astype(bool)
    out["provisional"] = out["provisional"].astype(bool)
    return out[RESULT_COLUMNS]


def _history(wh: Warehouse, model: str, results: pd.DataFrame) -> pd.DataFrame:
    if results.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    # Every stored window up to the newest one recomputed now: a tick may recompute an old window
    # (late labels, a matured horizon) together with today's, and persistence (n of the last m) must
    # still see the windows in between. Recomputed windows replace their stored copies downstream.
    start = pd.Timestamp(results["window_start"].min()).to_pydatetime() - timedelta(days=120)
    table = wh.arrow(
        "SELECT * FROM metric_results WHERE model = ? AND window_start >= ? AND window_start <= ?",
        [model, start, pd.Timestamp(results["window_start"].max()).to_pydatetime()],
    )
    return table.to_pandas() if table.num_rows else pd.DataFrame(columns=RESULT_COLUMNS)


def _alerting(
    settings: Settings,
    info: catalog.ModelInfo,
    results: pd.DataFrame,
    history: pd.DataFrame,
    now: datetime,
    notify: bool,
) -> pd.DataFrame:
    """Thresholds, alerts and incidents (jobs.alerts), when that module is installed."""
    try:
        from duckwatch.jobs import alerts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return results
    summary = alerts.evaluate_and_alert(settings, info, results, history, now, notify)
    frame = getattr(summary, "results", None)
    return frame if isinstance(frame, pd.DataFrame) else results


# Up to this many windows in a tick are counted one by one; more (a backfill) by one grouped scan.
_COUNT_EACH_MAX = 32


def _window_volumes(
    wh: Warehouse, info: catalog.ModelInfo, windows: list[tuple[Any, ...]]
) -> list[tuple[int, list[float], str]]:
    """Per window: its rows, the row counts of the earlier non-empty windows its usual volume comes
    from, and how those were chosen ("the same hour on the previous {k} days", ...).

    Only the windows being computed are counted from raw rows; their counts are kept in
    ``window_state.row_count``, where the previous windows' counts are read back. Re-counting those
    14 windows' raw rows cost ~1 s per tick on a 10M-row history.
    """
    pred = raw_table(info.model_key, "predictions")
    unit = info.window
    if len(windows) <= _COUNT_EACH_MAX:
        # Few windows (the usual tick: the new one and a matured one weeks earlier): count each by its
        # time range, which skips other days' files, instead of truncating every row between them.
        found = wh.rows(
            " UNION ALL ".join(
                f"SELECT ?, ?, CAST(? AS TIMESTAMPTZ), count(*) FROM {pred} "
                "WHERE _version = ? AND _experiment = ? AND _ts >= ? AND _ts < ?"
                for _ in windows
            ),
            [p for v, e, ws, we in windows for p in (v, e, ws, v, e, ws, we)],
        )
    else:
        span = [min(w[2] for w in windows), max(w[3] for w in windows)]
        scan = f"{pred} WHERE _ts >= ? AND _ts < ?"
        # Truncating every row's time costs ~0.2 s per million rows, so first ask for each (version,
        # experiment)'s first and last bucket: when they agree (truncation is monotone) that one
        # bucket holds all its rows.
        ends = wh.rows(
            f"SELECT _version, _experiment, {window_expr(unit, 'min(_ts)')}, {window_expr(unit, 'max(_ts)')}, "
            f"count(*) FROM {scan} GROUP BY ALL",
            span,
        )
        if all(first == last for _v, _e, first, last, _n in ends):
            found = [(v, e, first, n) for v, e, first, _last, n in ends]
        else:
            found = wh.rows(
                f"SELECT _version, _experiment, {window_expr(unit)} AS bs, count(*) FROM {scan} GROUP BY ALL",
                span,
            )
    counts = {_norm((v, e, bs)): int(n) for v, e, bs, n in found}
    fresh = [counts.get(_norm((w[0], w[1], w[2])), 0) for w in windows]
    wh.execute(
        "UPDATE window_state SET row_count = w.n FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS v, "
        "unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws, "
        "unnest(CAST(? AS BIGINT[])) AS n) AS w WHERE window_state.model = ? AND window_state.version = w.v "
        "AND window_state.experiment = w.e AND window_state.window_start = w.ws",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], fresh, info.model],
    )
    # The usual volume of an hour is that hour on earlier days, of a day that weekday in earlier
    # weeks (traffic has daily and weekly cycles); else, or while fewer than 3 such windows exist,
    # the previous 14 windows.
    step, slots, lookback = _SAME_SLOT.get(unit, ("", 0, f"14 {unit}"))
    same = f"list_contains(list_transform(range(1, {slots + 1}), lambda k: w.ws - to_days({step} * k)), s.window_start)"
    found = wh.rows(
        f"""WITH w AS (SELECT unnest(range(?)) AS i, unnest(CAST(? AS VARCHAR[])) AS v,
                unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws)
        SELECT w.i,
            list(s.row_count) FILTER (WHERE s.row_count > 0 AND s.window_start >= w.ws - INTERVAL 14 {unit}),
            {f"list(s.row_count) FILTER (WHERE s.row_count > 0 AND {same})" if slots else "NULL"}
        FROM w LEFT JOIN window_state s ON s.model = ? AND s.version = w.v AND s.experiment = w.e
            AND s.window_start < w.ws AND s.window_start >= w.ws - INTERVAL {lookback}
        GROUP BY w.i""",
        [len(windows), *([w[j] for w in windows] for j in range(3)), info.model],
    )
    out: list[tuple[int, list[float], str]] = [(n, [], "") for n in fresh]
    for i, recent, same_slot in found:
        if same_slot and len(same_slot) >= 3:
            out[int(i)] = (fresh[int(i)], [float(x) for x in same_slot], _SAME_SLOT_NAME[unit])
        else:
            out[int(i)] = (fresh[int(i)], [float(x) for x in recent or []], "previous {k} windows")
    return out


# Window unit -> (days between the same slot, how many earlier slots, look-back), for the usual volume.
_SAME_SLOT: dict[str, tuple[str, int, str]] = {"hour": ("1", 14, "14 day"), "day": ("7", 8, "56 day")}
_SAME_SLOT_NAME = {
    "hour": "the same hour on the previous {k} days",
    "day": "the same weekday in the previous {k} weeks",
}


def _volume_rows(n: int, prev: list[float], basis: str) -> list[dict[str, Any]]:
    """Row count, and its ratio to the median of the earlier windows ``basis`` names (3 or more)."""
    rows: list[dict[str, Any]] = [
        {"family": "volume", "metric": "row_count", "value": float(n), "n": n, "method": "count"}
    ]
    if len(prev) >= 3:
        usual = float(np.median(prev))
        rows.append(
            {"family": "volume", "metric": "volume_ratio", "value": n / usual if usual else math.nan, "n": n,
             "method": f"rows / median of {basis.format(k=len(prev))} ({usual:.0f})"}
        )  # fmt: skip
    return rows


def _drift_and_quality_rows(
    reference: dict[str, NumericProfile | CategoricalProfile],
    profiles: dict[str, NumericProfile | CategoricalProfile],
    by_id: dict[str, catalog.ColumnInfo],
    raw: RawRows | None = None,
    window: tuple[str, str, datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cells = []
    for col_id, cur in profiles.items():
        ref = reference.get(col_id)
        col = by_id.get(col_id)
        if ref is None or col is None or type(ref) is not type(cur):
            continue
        family = "output" if col.role in OUTPUT_ROLES else "drift"
        if cur.n > 0 and ref.n > 0:
            cell = drift_cell(ref, cur)
            cells.append((col, family, cell))
            kind = "numeric" if isinstance(ref, NumericProfile) else "categorical"
            for name in DEFAULT_METHOD[kind].report:
                res = get(name).fn(ref, cur)  # type: ignore[misc]
                rows.append(
                    {"family": family, "metric": name, "col": col.name, "value": res.value, "lower": res.lower,
                     "upper": res.upper, "exact": res.exact, "method": res.method, "n": cur.n, "status": "ok",
                     "details": json.dumps({"p_value": res.p_value}) if res.p_value is not None else ""}
                )  # fmt: skip
        rows += _quality_rows(ref, cur, col)
    if cells:
        # Where the bounds cannot decide, raw rows can (jobs.drift_raw); they feed the same BH step.
        final = [c for _, _, c in cells]
        if raw is not None and window is not None:
            final = raw.resolve([(col, c) for col, _, c in cells], reference, profiles, window)
        flagged = decide(
            [c.value for c in final],
            [c.p_value for c in final],
            [c.threshold for c in final],
            [c.floor for c in final],
        )
        for (col, family, binned), cell, flag in zip(cells, final, flagged, strict=True):
            res = cell.result
            extra = {} if cell is binned else {"binned_bound": [binned.result.lower, binned.result.upper]}
            rows.append(
                {"family": family, "metric": cell.metric, "col": col.name, "value": res.value, "lower": res.lower,
                 "upper": res.upper, "exact": res.exact, "method": res.method,
                 "threshold": max(cell.threshold, cell.floor) if not math.isnan(cell.threshold) else cell.floor,
                 "status": "warning" if flag else "ok", "n": profiles[col.col_id].n,
                 "details": json.dumps({"p_value": cell.p_value, "null_threshold": cell.threshold, "floor": cell.floor,
                                        "decides": True, **extra})}
            )  # fmt: skip
    return rows


def _previous_window_rows(
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
    prev = wh.rows(
        "SELECT max(window_start) FROM profiles WHERE model = ? AND version = ? AND experiment = ? "
        "AND window_start < ? AND segment = ''",
        [info.model, version, experiment, ws],
    )[0][0]
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
             "details": json.dumps({"reference": q.reference, "detail": q.detail})}
        )  # fmt: skip
    return rows
