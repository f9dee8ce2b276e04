"""The alert stage of a tick, exactly once across a kill: see store/alert_handoff.py for the protocol."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pandas as pd

from duckwatch.alerting import alerts
from duckwatch.store import alert_handoff, window_results
from duckwatch.store.catalog import ModelInfo
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse

__all__ = ["apply", "finish_pending", "judge", "new_token"]


def new_token() -> str:
    """A token naming one compute stage's hand-off."""
    return uuid.uuid4().hex


def judge(
    settings: Settings, info: ModelInfo, results: pd.DataFrame, history: pd.DataFrame
) -> alerts.Judgement:
    """Statuses of the new rows and the alert decisions, before anything is written."""
    return alerts.judge(settings, info, results, history)


def apply(
    wh: Warehouse,
    settings: Settings,
    info: ModelInfo,
    judged: alerts.Judgement,
    token: str,
    now: datetime,
    notify: bool,
) -> alerts.AlertSummary:
    """Apply the decisions (one settings transaction, with ``token``), then clear the pending mark."""
    summary = alerts.apply(settings, info, judged, now, notify, token=token)
    alert_handoff.clear_pending(wh, info.model)
    return summary


def finish_pending(wh: Warehouse, settings: Settings, info: ModelInfo, now: datetime, notify: bool) -> None:
    """Apply the alerts a killed tick owed (judged again from its stored rows), or only forget the mark
    when they were applied before the kill."""
    found = alert_handoff.pending(wh, info.model)
    if found is None:
        return
    token, windows = found
    if alert_handoff.applied(settings, info.model) == token:
        alert_handoff.clear_pending(wh, info.model)
        return
    results = alert_handoff.window_results(wh, info.model, windows)
    judged = judge(settings, info, results, stored_history(wh, info.model, results))
    apply(wh, settings, info, judged, token, now, notify)


def stored_history(wh: Warehouse, model: str, results: pd.DataFrame) -> pd.DataFrame:
    """The stored results the alerting of ``results`` looks back on (same columns as ``results``).

    Every stored window up to the newest one recomputed now: a tick may recompute an old window
    (late labels, a matured horizon) together with today's, and persistence (n of the last m) must
    still see the windows in between. Recomputed windows replace their stored copies downstream.
    """
    if results.empty:
        return pd.DataFrame(columns=list(results.columns))
    start = pd.Timestamp(results["window_start"].min()).to_pydatetime() - timedelta(days=120)
    table = window_results.results_between(
        wh, model, start, pd.Timestamp(results["window_start"].max()).to_pydatetime()
    )
    return table.to_pandas() if table.num_rows else pd.DataFrame(columns=list(results.columns))
