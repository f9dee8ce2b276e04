"""Duplicate-id rows set aside in quarantine: counted per window by event time, windows re-dirtied.

Two places quarantine a prediction whose id repeats: the collector (a repeat within one batch, see
``landing.bad_rows``) and the job's ingestion (a repeat of an id stored from an earlier batch, see
``Warehouse._ingest_with_duplicates``). Both record the row's event time in ``quarantine.ts``
(migration 0005); rows quarantined before that have no time and are left out of the counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import duckdb

    from duckwatch.store.warehouse import Warehouse

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The reasons written by landing.bad_rows and Warehouse._ingest_with_duplicates (kept in step by tests).
DUPLICATE_REASONS_SQL = "(reason LIKE 'duplicate id % within this batch%' OR reason LIKE 'duplicate of an earlier % row with the same id%')"


def dirty_windows_of(con: duckdb.DuckDBPyConnection, model: str, batch_ids: list[str]) -> None:
    """Mark computed windows dirty that now hold new duplicate predictions of ``batch_ids`` by event time.

    A window is computed again when it gets new rows; duplicates alone (set aside, not stored) would
    otherwise never update its duplicate-id share. Windows not known yet are dirtied by the tick.
    """
    if not batch_ids:
        return
    con.execute(
        f"""UPDATE window_state SET dirty = true, dirty_since = coalesce(dirty_since, now())
        WHERE model = ? AND NOT dirty AND EXISTS (
            SELECT 1 FROM quarantine q
            WHERE q.model = window_state.model AND q.stream = 'predictions'
              AND list_contains(CAST(? AS VARCHAR[]), q.batch_id) AND {DUPLICATE_REASONS_SQL}
              AND coalesce(q.version, '') = window_state.version
              AND coalesce(q.experiment, '') = window_state.experiment
              AND q.ts >= window_state.window_start AND q.ts < window_state.window_end)""",
        [model, batch_ids],
    )


def duplicate_times(wh: Warehouse, model: str) -> dict[tuple[str, str], np.ndarray]:
    """Sorted event times (epoch microseconds) of duplicate-id predictions per (version, experiment).

    One scan of the model's quarantine per tick (memoised: quarantine is fixed once ingestion is done);
    windows then count theirs by time range, whatever their kind (calendar or row-count windows).
    """
    key = ("duplicate_times", model)
    found: Any = wh.memo.get(key)
    if found is None:
        rows = wh.rows(
            "SELECT coalesce(version, ''), coalesce(experiment, ''), list(epoch_us(ts) ORDER BY ts) "
            f"FROM quarantine WHERE model = ? AND stream = 'predictions' AND ts IS NOT NULL "
            f"AND {DUPLICATE_REASONS_SQL} GROUP BY ALL",
            [model],
        )
        found = {(str(v), str(e)): np.asarray(ts, dtype=np.int64) for v, e, ts in rows}
        wh.memo[key] = found
    out: dict[tuple[str, str], np.ndarray] = found
    return out


def count_between(times: np.ndarray | None, start: datetime, end: datetime) -> int:
    """How many of the sorted epoch-microsecond ``times`` fall in [start, end)."""
    if times is None or not len(times):
        return 0
    lo, hi = (int((t - _EPOCH) // timedelta(microseconds=1)) for t in (start, end))
    return int(np.searchsorted(times, hi, side="left") - np.searchsorted(times, lo, side="left"))
