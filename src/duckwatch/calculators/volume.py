"""Volume: a window's rows against the usual volume for that hour or weekday (or recent windows)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from duckwatch.loading.profile_scan import window_key
from duckwatch.store import catalog, profile_files, volume_queries
from duckwatch.store.warehouse import Warehouse

__all__ = ["volume_rows", "window_volumes"]


# Up to this many windows in a tick are counted one by one; more (a backfill) by one grouped scan.
_COUNT_EACH_MAX = 32


def window_volumes(
    wh: Warehouse, info: catalog.ModelInfo, windows: list[tuple[Any, ...]], stored: Sequence[bool] = ()
) -> list[tuple[int, list[float], str]]:
    """Per window: its rows, the row counts of the earlier non-empty windows its usual volume comes
    from, and how those were chosen ("the same hour on the previous {k} days", ...).

    Only the windows being computed are counted from raw rows; their counts are kept in
    ``window_state.row_count``, where the previous windows' counts are read back. Re-counting those
    14 windows' raw rows cost ~1 s per tick on a 10M-row history. ``stored``: per window, whether its
    rows are unchanged since its count was kept (only its labels changed): it is read back too.
    """
    unit = info.window
    known = _stored_counts(wh, info, [w for w, keep in zip(windows, stored, strict=False) if keep])
    todo = [w for w in windows if window_key((w[0], w[1], w[2])) not in known]
    counted = _counts(wh, info, todo)
    # Rows profiled elsewhere (a Spark pass, merged by `duckwatch ingest profiles`) count too.
    for key, n in profile_files.rows_elsewhere(wh, info.model, todo).items():
        counted[key] = counted.get(key, 0) + n
    counts = {**counted, **known}
    fresh = [counts.get(window_key((w[0], w[1], w[2])), 0) for w in windows]
    volume_queries.keep_row_counts(wh, info.model, windows, fresh)
    # The usual volume of an hour is that hour on earlier days, of a day that weekday in earlier
    # weeks (traffic has daily and weekly cycles); else, or while fewer than 3 such windows exist,
    # the previous 14 windows.
    step, slots = _SAME_SLOT.get(unit, ("", 0))
    found = volume_queries.earlier_counts(wh, info.model, str(unit), windows, step, slots)
    out: list[tuple[int, list[float], str]] = [(n, [], "") for n in fresh]
    for i, recent, slot_counts in found:
        if slot_counts and len(slot_counts) >= 3:
            out[int(i)] = (fresh[int(i)], [float(x) for x in slot_counts], _SAME_SLOT_NAME[unit])
        else:
            out[int(i)] = (fresh[int(i)], [float(x) for x in recent or []], "previous {k} windows")
    return out


def _counts(wh: Warehouse, info: catalog.ModelInfo, windows: list[tuple[Any, ...]]) -> dict[Any, int]:
    """Rows of each window (version, experiment, start, end), counted in the raw predictions."""
    if not windows:
        return {}
    unit = str(info.window)
    if len(windows) <= _COUNT_EACH_MAX:
        # Few windows (the usual tick: the new one and a matured one weeks earlier): count each by its
        # time range, which skips other days' files, instead of truncating every row between them.
        found = volume_queries.window_counts(wh, info.model_key, windows)
    else:
        span = [min(w[2] for w in windows), max(w[3] for w in windows)]
        # Truncating every row's time costs ~0.2 s per million rows, so first ask for each (version,
        # experiment)'s first and last bucket: when they agree (truncation is monotone) that one
        # bucket holds all its rows.
        ends = volume_queries.bucket_span_counts(wh, info.model_key, unit, span)
        if all(first == last for _v, _e, first, last, _n in ends):
            found = [(v, e, first, n) for v, e, first, _last, n in ends]
        else:
            found = volume_queries.bucket_counts(wh, info.model_key, unit, span)
    return {window_key((v, e, bs)): int(n) for v, e, bs, n in found}


def _stored_counts(wh: Warehouse, info: catalog.ModelInfo, windows: list[tuple[Any, ...]]) -> dict[Any, int]:
    """The kept row counts of ``windows`` (those that have one)."""
    if not windows:
        return {}
    found = volume_queries.kept_row_counts(wh, info.model, windows)
    return {window_key((v, e, ws)): int(n) for v, e, ws, n in found}


# Window unit -> (days between the same slot, how many earlier slots), for the usual volume.
_SAME_SLOT: dict[str, tuple[str, int]] = {"hour": ("1", 14), "day": ("7", 8)}
_SAME_SLOT_NAME = {
    "hour": "the same hour on the previous {k} days",
    "day": "the same weekday in the previous {k} weeks",
}


def volume_rows(n: int, prev: list[float], basis: str) -> list[dict[str, Any]]:
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
