"""Per-model minimum effects, and persistence: a small drift that is certain window after window.

A window's test can be significant (Benjamini–Hochberg across the window's tests, and beyond its 99%
no-drift value) yet below the minimum effect (the floor): alone, it is not worth a look. When the same
test of the same column was significant, pointing the same way, in each of the ``R - 1`` windows
before it as well (``R`` = model meta ``drift_persistence_windows``, default 3), the run since that
change point is no accident: the window is flagged, saying so. Only earlier windows are read (the
stored ``significant``/``direction`` of their deciding rows, or this tick's for windows computed
together), so a window's decision never depends on later data, and no earlier window is re-flagged.

Under no drift a test is significant in at most ~1% of windows; R = 3 same-way windows in a row is a
chance of about 1e-6 per test and window, so persistence leaves the false-alarm rate where it was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from duckwatch.metrics.drift_decision import DEFAULT_FLOORS

__all__ = [
    "DEFAULT_PERSISTENCE",
    "Record",
    "floors_for",
    "persistence_windows",
    "persistent",
    "records_of",
]

DEFAULT_PERSISTENCE = 3
# (window start, {(column, metric): (significant, direction)}) of one window with deciding rows
Record = tuple[datetime, dict[tuple[str, str], tuple[bool, str]]]


def persistence_windows(meta: Mapping[str, Any]) -> int:
    """R, the run of windows that flags below the floor: meta ``drift_persistence_windows`` (< 2 = off)."""
    value = meta.get("drift_persistence_windows", DEFAULT_PERSISTENCE)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(float(value)):
        raise ValueError(
            f"model meta drift_persistence_windows must be a whole number of windows (0 = off); got {value!r}"
        )
    return int(value) if value >= 2 else 0


def floors_for(meta: Mapping[str, Any], column: str) -> dict[str, float]:
    """Minimum effects for one column: DEFAULT_FLOORS, then meta ``drift_floors`` {statistic: value},
    then ``drift_floors.columns.<column>`` {statistic: value}."""
    out = dict(DEFAULT_FLOORS)
    given = meta.get("drift_floors") or {}
    if not isinstance(given, Mapping):
        raise ValueError(
            f"model meta drift_floors must be a mapping of statistic to minimum effect; got {given!r}"
        )
    columns = given.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise ValueError(f"model meta drift_floors.columns must map column names to floors; got {columns!r}")
    for scope, floors in (("drift_floors", {k: v for k, v in given.items() if k != "columns"}),
                          (f"drift_floors.columns.{column}", columns.get(column) or {})):  # fmt: skip
        if not isinstance(floors, Mapping):
            raise ValueError(f"model meta {scope} must map statistics to minimum effects; got {floors!r}")
        for name, value in floors.items():
            if name not in DEFAULT_FLOORS:
                raise ValueError(
                    f"model meta {scope}: unknown statistic {name!r}; known: {sorted(DEFAULT_FLOORS)}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise ValueError(f"model meta {scope}.{name} must be a number >= 0; got {value!r}")
            out[name] = float(value)
    return out


def records_of(rows: Sequence[tuple[datetime, str, str, str]]) -> list[Record]:
    """Stored deciding rows (start, column, metric, details JSON) as records, oldest window first."""
    by_start: dict[datetime, dict[tuple[str, str], tuple[bool, str]]] = {}
    for start, col, metric, details in rows:
        try:
            d = json.loads(details) if details else {}
        except ValueError:
            d = {}
        seen = by_start.setdefault(start, {})
        seen[(col, metric)] = (bool(d.get("significant", False)), str(d.get("direction", "")))
    return sorted(by_start.items(), key=lambda r: r[0])


def persistent(
    timeline: Sequence[Record], at: int, key: tuple[str, str], direction: str, windows: int
) -> bool:
    """True when the ``windows - 1`` records before ``timeline[at]`` hold ``key`` significant, same way."""
    if windows < 2 or not direction or at < windows - 1:
        return False
    for back in range(1, windows):
        sig, way = timeline[at - back][1].get(key, (False, ""))
        if not sig or way != direction:
            return False
    return True
