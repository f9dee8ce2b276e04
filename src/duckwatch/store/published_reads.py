"""Named reads of a model's published file, for the read models (views, app, export): each returns an
empty frame (or None) while nothing is published, and reads an older file's missing table as empty."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.store.published import METRIC_COLUMNS, METRIC_ORDER, query

__all__ = [
    "metric_results_export",
    "quarantine_recent",
    "reference_profile",
    "stream_overview",
    "window_profile",
    "window_state_rows",
]


def stream_overview(data: DataDir, model: str) -> pd.DataFrame:
    """Per stream and version: rows and first/last event time, with the quarantined row count on every
    row (`quarantined_rows`); a file from before quarantine counts reads as `stream_stats` alone."""
    stats = query(
        data,
        model,
        "SELECT s.*, q.n AS quarantined_rows FROM (SELECT sum(rows) AS n FROM quarantine_counts) AS q "
        "LEFT JOIN stream_stats AS s ON true",
    )
    return stats if not stats.empty else query(data, model, "SELECT * FROM stream_stats")


def quarantine_recent(data: DataDir, model: str, limit: int) -> pd.DataFrame:
    """The newest ``limit`` quarantined rows with their reason and raw text."""
    return query(
        data,
        model,
        "SELECT received_at, stream, batch_id, row_no, reason, raw FROM quarantine ORDER BY received_at DESC LIMIT ?",
        [limit],
    )


def metric_results_export(data: DataDir, model: str) -> pd.DataFrame:
    """Every metric row in export order, with its p-value and its decision (for the rows that decide)."""
    return query(data, model, f"SELECT {METRIC_COLUMNS} FROM metric_results{METRIC_ORDER}")


def window_state_rows(data: DataDir, model: str) -> pd.DataFrame:
    """The model's windows and their state, oldest first."""
    return query(data, model, "SELECT * FROM window_state ORDER BY window_start")


def reference_profile(data: DataDir, model: str, col_id: str) -> str | None:
    """The JSON of a column's reference profile, or None."""
    frame = query(data, model, "SELECT profile FROM reference_profiles WHERE col_id = ?", [col_id])
    return None if frame.empty else str(frame["profile"].iloc[0])


def window_profile(
    data: DataDir, model: str, col_id: str, window_start: datetime, version: str, experiment: str
) -> str | None:
    """The JSON of a column's profile in one window (its first segment: all rows), or None."""
    frame = query(
        data,
        model,
        "SELECT profile FROM profiles WHERE col_id = ? AND window_start = ? AND version = ? AND experiment = ? "
        "ORDER BY segment LIMIT 1",
        [col_id, window_start, version, experiment],
    )
    return None if frame.empty else str(frame["profile"].iloc[0])
