"""A model's monitoring settings changed: its whole history is recomputed from stored rows.

What windows and profiles depend on besides the rows: the window (``day``, ``rows:1000``, ...), the
time zone (where a day starts), and each column's role and type (an ignored column is not profiled, a
categorical one is counted instead of binned). The job keeps the settings it last computed with; when
one of them differs at the start of a tick, the model's windows, profiles, reference profiles and
results are dropped and the tick computes them again from every stored row. Columns seen for the first
time change nothing already computed: they are only added to what the job remembers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from duckwatch.calculators.base import ENGINE_VERSION
from duckwatch.store import job_state, model_reset, window_memo
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse

__all__ = [
    "history_is_quiet",
    "history_recomputed",
    "recompute_if_changed",
    "recompute_if_upgraded",
    "settings_stamp",
]

log = logging.getLogger("duckwatch.job")


def _key(model: str) -> str:
    return f"monitoring_settings:{model}"


def settings_stamp(info: ModelInfo, columns: Sequence[ColumnInfo]) -> dict[str, Any]:
    """The settings a model's windows and profiles are computed with."""
    return {
        "window": info.window,
        "timezone": info.timezone,
        # A column declared before any data has no type yet: typing it from the first batch is no change.
        "columns": {c.col_id: [c.role, c.dtype] for c in columns if c.dtype},
    }


def _changes(before: dict[str, Any], now: dict[str, Any], names: dict[str, str]) -> list[str]:
    out = [f"{k} {before.get(k)} -> {now[k]}" for k in ("window", "timezone") if before.get(k) != now[k]]
    old_cols: dict[str, list[str]] = before.get("columns", {})
    for col_id, (role, dtype) in sorted(now["columns"].items()):
        old = old_cols.get(col_id)
        if old is not None and list(old) != [role, dtype]:
            out.append(f"column {names.get(col_id, col_id)!r} {old[0]}/{old[1]} -> {role}/{dtype}")
    return out


def recompute_if_changed(wh: Warehouse, info: ModelInfo, columns: Sequence[ColumnInfo]) -> list[str]:
    """Drop the model's derived state when its settings changed since the last tick; returns the changes."""
    now = settings_stamp(info, columns)
    text = job_state.read_value(wh, _key(info.model))
    if text is None:  # first tick with this version: what is stored was computed with these settings
        job_state.write_value(wh, _key(info.model), json.dumps(now, sort_keys=True))
        return []
    before = json.loads(text)
    changes = _changes(before, now, {c.col_id: c.name for c in columns})
    if not changes:
        if before != now:
            job_state.write_value(wh, _key(info.model), json.dumps(now, sort_keys=True))
        return []
    with wh.transaction():  # the drop and the new settings move together: a killed tick redoes both
        model_reset.forget_derived(wh, info.model)
        job_state.write_value(wh, _key(info.model), json.dumps(now, sort_keys=True))
        job_state.write_value(wh, _quiet_key(info.model), "1")
    log.warning(
        "%s: monitoring settings changed (%s): windows and results are recomputed from stored rows",
        info.model,
        "; ".join(changes),
    )
    return changes


def _quiet_key(model: str) -> str:
    return f"recomputing_history:{model}"


def recompute_if_upgraded(wh: Warehouse, info: ModelInfo) -> bool:
    """Compute every window of the model again when its results came from another engine version.

    An existing data dir upgrades in place: thresholds, incidents, audit and settings live in the
    settings store and stay; the windows' results are recomputed from their profiles and rows, and
    until that is done the model's alerts change without notifications (`history_is_quiet`). A model
    with no windows yet has nothing to recompute.
    """
    key = f"engine_version:{info.model}"
    if job_state.read_value(wh, key) == str(ENGINE_VERSION):
        return False
    upgraded = window_memo.has_windows(wh, info.model)
    with wh.transaction():  # the mark and the version move together: a killed tick redoes both
        if upgraded:
            window_memo.recompute_all(wh, info.model)
            job_state.write_value(wh, _quiet_key(info.model), "1")
        job_state.write_value(wh, key, str(ENGINE_VERSION))
    if upgraded:
        log.warning("%s: results from another engine version: every window is computed again", info.model)
    return upgraded


def history_is_quiet(wh: Warehouse, model: str) -> bool:
    """The model's history is being recomputed (an upgrade or a settings change): no notifications."""
    return job_state.read_value(wh, _quiet_key(model)) is not None


def history_recomputed(wh: Warehouse, model: str) -> None:
    """The recomputation finished: the model's alerts notify again."""
    job_state.delete_value(wh, _quiet_key(model))
