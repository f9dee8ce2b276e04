"""Named queries on stored profiles: reference profiles, window profiles, earlier windows' profiles.

Profiles are stored as JSON text with their kind ('numeric' or 'categorical'); rows come back as
(..., kind, text) and the job turns them into profile objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from duckwatch.store.warehouse import Warehouse, raw_table, window_expr

__all__ = [
    "earlier_profile_starts",
    "first_windows",
    "forget_profiles",
    "one_window_profiles",
    "previous_profile_start",
    "profiles_at_starts",
    "profiles_of_windows",
    "reference_profile_columns",
    "reference_profile_rows",
    "reference_profile_summary",
    "store_reference_profile",
    "stored_window_profiles",
]


def reference_profile_rows(wh: Warehouse, model: str) -> list[tuple[Any, ...]]:
    """The model's reference profiles: (col_id, kind, text)."""
    return wh.rows("SELECT col_id, kind, profile FROM reference_profiles WHERE model = ?", [model])


def reference_profile_summary(wh: Warehouse, model: str) -> tuple[Any, ...]:
    """(profiles, first source) of the model's reference."""
    return wh.rows("SELECT count(*), min(source) FROM reference_profiles WHERE model = ?", [model])[0]


def reference_profile_columns(wh: Warehouse, model: str) -> set[str]:
    """Column ids the model's reference has a profile of."""
    return {c[0] for c in wh.rows("SELECT col_id FROM reference_profiles WHERE model = ?", [model])}


def store_reference_profile(
    wh: Warehouse, model: str, col_id: str, kind: str, text: str, source: str, now: datetime
) -> None:
    """Keep one column's reference profile (JSON ``text``), replacing an older one."""
    wh.execute(
        "INSERT OR REPLACE INTO reference_profiles VALUES (?, ?, ?, ?, ?, ?, ?)",
        [model, col_id, kind, "{}", text, source, now],
    )


def first_windows(
    wh: Warehouse, model_key: int, stream: str, unit: str, now: datetime, limit: int
) -> list[tuple[Any, ...]]:
    """The first ``limit`` windows of the stream's rows that closed by ``now``: (start, end, rows)."""
    w = window_expr(unit)
    return wh.rows(
        f"SELECT ws, ws + INTERVAL 1 {unit} AS we, n FROM (SELECT {w} AS ws, count(*) AS n FROM "
        f"{raw_table(model_key, stream)} GROUP BY 1) "
        f"WHERE ws + INTERVAL 1 {unit} <= ? ORDER BY ws LIMIT {int(limit)}",
        [now],
    )


def forget_profiles(wh: Warehouse, model: str) -> None:
    """Drop every window profile of the model and mark all its windows dirty.

    Profile files merged from elsewhere (store/profile_files.py) go with them: their rows are in no raw
    table, so the windows no longer hold them, and the same files may be merged again.
    """
    wh.execute("DELETE FROM profiles WHERE model = ?", [model])
    wh.execute("DELETE FROM profile_files WHERE model = ?", [model])
    wh.execute("UPDATE window_state SET dirty = true WHERE model = ?", [model])
    wh.memo.pop(("written_profiles", model), None)


def stored_window_profiles(wh: Warehouse, model: str, starts: list[datetime]) -> list[tuple[Any, ...]]:
    """Profiles (no segment) of windows starting at ``starts``: (version, experiment, start, col_id, kind, text)."""
    return wh.rows(
        "SELECT version, experiment, window_start, col_id, kind, profile FROM profiles "
        "WHERE model = ? AND segment = '' AND list_contains(?, window_start)",
        [model, starts],
    )


def profiles_of_windows(
    wh: Warehouse, model: str, windows: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Profiles (no segment) of the windows (version, experiment, start, ...), in one query:
    (version, experiment, start, col_id, kind, text)."""
    return wh.rows(
        "SELECT p.version, p.experiment, p.window_start, p.col_id, p.kind, p.profile FROM profiles p, "
        "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) w WHERE p.model = ? AND p.version = w.v "
        "AND p.experiment = w.e AND p.window_start = w.ws AND p.segment = ''",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], model],
    )


def one_window_profiles(
    wh: Warehouse, model: str, version: str, experiment: str, ws: datetime
) -> list[tuple[Any, ...]]:
    """Profiles (no segment) of one window: (col_id, kind, text)."""
    return wh.rows(
        "SELECT col_id, kind, profile FROM profiles WHERE model = ? AND version = ? AND experiment = ? "
        "AND window_start = ? AND segment = ''",
        [model, version, experiment, ws],
    )


def earlier_profile_starts(
    wh: Warehouse, model: str, version: str, experiment: str, ws: Any, k: int
) -> list[Any]:
    """Starts of the ``k`` latest profiled windows before ``ws``, newest first."""
    return [
        r[0]
        for r in wh.rows(
            "SELECT DISTINCT window_start FROM profiles WHERE model = ? AND version = ? AND experiment = ? "
            "AND window_start < ? AND segment = '' ORDER BY window_start DESC LIMIT ?",
            [model, version, experiment, ws, k],
        )
    ]


def profiles_at_starts(
    wh: Warehouse, model: str, version: str, experiment: str, starts: list[Any]
) -> list[tuple[Any, ...]]:
    """Profiles (no segment) of the windows starting at ``starts``, oldest first: (col_id, kind, text)."""
    return wh.rows(
        "SELECT col_id, kind, profile FROM profiles WHERE model = ? AND version = ? AND experiment = ? "
        "AND segment = '' AND list_contains(?, window_start) ORDER BY window_start",
        [model, version, experiment, starts],
    )


def previous_profile_start(wh: Warehouse, model: str, version: str, experiment: str, ws: Any) -> Any:
    """Start of the latest profiled window before ``ws``, or None."""
    return wh.rows(
        "SELECT max(window_start) FROM profiles WHERE model = ? AND version = ? AND experiment = ? "
        "AND window_start < ? AND segment = ''",
        [model, version, experiment, ws],
    )[0][0]
