"""Named writes and reads of ``metric_results``: a tick's results replace their windows' in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from duckwatch.store import alert_handoff, job_state, window_memo
from duckwatch.store.warehouse import Warehouse

__all__ = ["drift_decisions_before", "results_between", "write_results_and_mark_clean"]

_KEYS = (
    "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
    "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) AS w"
)


def write_results_and_mark_clean(
    wh: Warehouse,
    model: str,
    windows: Sequence[tuple[Any, ...]],
    now: datetime,
    recomputed: Sequence[Sequence[Any]],
    digest: str,
    memo_rows: pd.DataFrame,
    results: pd.DataFrame,
    columns: list[str],
    alert_token: str | None = None,
) -> None:
    """In one transaction: replace the results of ``windows`` (version, experiment, start, ...) with
    ``results[columns]``, mark them clean as of ``now``, keep the label-free ``memo_rows`` of the windows
    ``recomputed`` (with ``digest``), mark the model for publishing and, with ``alert_token``, hand the
    windows' alerts off to the alert stage (store/alert_handoff.py: applied exactly once, even after a kill)."""
    # One statement each for all windows (a statement costs milliseconds; there can be hundreds).
    with wh.transaction():  # results, clean windows, kept rows and the publish mark commit together
        lists = [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows]]
        wh.execute(
            f"DELETE FROM metric_results USING {_KEYS} WHERE metric_results.model = ? "
            "AND metric_results.version = w.v AND metric_results.experiment = w.e AND metric_results.window_start = w.ws",
            [*lists, model],
        )
        window_memo.mark_clean(wh, model, windows, now)
        window_memo.keep_rows(wh, model, recomputed, [digest] * len(recomputed), memo_rows)
        if not results.empty:
            wh.insert_arrow("metric_results", pa.Table.from_pandas(results[columns], preserve_index=False))
        job_state.mark_publish_pending(wh, model)
        if alert_token is not None:
            alert_handoff.set_pending(wh, model, alert_token, windows)


def results_between(wh: Warehouse, model: str, start: datetime, end: datetime) -> pa.Table:
    """The model's stored results of windows starting in [start, end]."""
    return wh.arrow(
        "SELECT * FROM metric_results WHERE model = ? AND window_start >= ? AND window_start <= ?",
        [model, start, end],
    )


_DECIDING = (
    "model = ? AND version = ? AND experiment = ? AND segment = '' AND family IN ('drift', 'output') "
    "AND details LIKE '%\"decides\": true%'"
)


def drift_decisions_before(
    wh: Warehouse, model: str, version: str, experiment: str, earliest: datetime, latest: datetime, k: int
) -> list[tuple[datetime, str, str, str]]:
    """Stored deciding drift rows (window start, column, metric, details) of one version and
    experiment: those of the ``k`` latest windows with such rows before ``earliest``, and of every
    window from ``earliest`` up to (not including) ``latest``."""
    if k <= 0:
        since = earliest
    else:
        found = wh.arrow(
            f"SELECT min(window_start) FROM (SELECT DISTINCT window_start FROM metric_results WHERE {_DECIDING} "
            "AND window_start < ? ORDER BY window_start DESC LIMIT ?)",
            [model, version, experiment, earliest, k],
        ).to_pandas()
        first = found.iloc[0, 0] if len(found) else None
        since = earliest if first is None or pd.isna(first) else pd.Timestamp(first).to_pydatetime()
    table = wh.arrow(
        f"SELECT window_start, col, metric, details FROM metric_results WHERE {_DECIDING} "
        "AND window_start >= ? AND window_start < ? ORDER BY window_start, col, metric",
        [model, version, experiment, since, latest],
    )
    if table.num_rows == 0:
        return []
    frame = table.to_pandas()
    starts = pd.to_datetime(frame["window_start"], utc=True)
    return [
        (ws.to_pydatetime(), str(c), str(m), str(d or ""))
        for ws, c, m, d in zip(starts, frame["col"], frame["metric"], frame["details"], strict=True)
    ]
