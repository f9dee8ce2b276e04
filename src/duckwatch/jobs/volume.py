"""Volume: a window's rows against the usual volume for that hour or weekday (or recent windows)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from duckwatch.jobs.profile_scan import window_key
from duckwatch.store import catalog
from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

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
    counts = {
        **_counts(wh, info, [w for w in windows if window_key((w[0], w[1], w[2])) not in known]),
        **known,
    }
    fresh = [counts.get(window_key((w[0], w[1], w[2])), 0) for w in windows]
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
    step, slots = _SAME_SLOT.get(unit, ("", 0))
    # Equality joins on each window's earlier slots and recent windows (a range join of every window
    # with its 14 days of earlier windows, a list built per pair, cost 0.4 s on 720 hourly windows).
    same_slot = (
        f"""SELECT w.i, list(s.row_count) FILTER (WHERE s.row_count > 0) AS counts
        FROM (SELECT i, v, e, unnest(list_transform(range(1, {slots + 1}), lambda k: ws - to_days({step} * k))) AS t
              FROM w) w
        JOIN window_state s ON s.model = ? AND s.version = w.v AND s.experiment = w.e AND s.window_start = w.t
        GROUP BY w.i"""
        if slots
        else "SELECT NULL::BIGINT AS i, NULL::BIGINT[] AS counts WHERE false"
    )
    found = wh.rows(
        f"""WITH w AS (SELECT unnest(range(?)) AS i, unnest(CAST(? AS VARCHAR[])) AS v,
                unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws),
        recent AS (SELECT w.i, list(s.row_count) FILTER (WHERE s.row_count > 0) AS counts
            FROM w JOIN window_state s ON s.model = ? AND s.version = w.v AND s.experiment = w.e
                AND s.window_start < w.ws AND s.window_start >= w.ws - INTERVAL 14 {unit}
            GROUP BY w.i),
        same AS ({same_slot})
        SELECT w.i, recent.counts, same.counts FROM w LEFT JOIN recent USING (i) LEFT JOIN same USING (i)""",
        [
            len(windows),
            *([w[j] for w in windows] for j in range(3)),
            info.model,
            *([info.model] if slots else []),
        ],
    )
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
    return {window_key((v, e, bs)): int(n) for v, e, bs, n in found}


def _stored_counts(wh: Warehouse, info: catalog.ModelInfo, windows: list[tuple[Any, ...]]) -> dict[Any, int]:
    """The kept row counts of ``windows`` (those that have one)."""
    if not windows:
        return {}
    found = wh.rows(
        "SELECT s.version, s.experiment, s.window_start, s.row_count FROM window_state s, "
        "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) w WHERE s.model = ? AND s.version = w.v "
        "AND s.experiment = w.e AND s.window_start = w.ws AND s.row_count IS NOT NULL",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], info.model],
    )
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
