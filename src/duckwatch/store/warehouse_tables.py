"""Names and row layout of the warehouse's tables, and the bulk writes of Arrow rows into its core tables.

Raw tables are named by a model's integer key and stream (never by user text) and carry the system
columns below plus one column per declared data column; windows are cut with `window_expr`. The Arrow
writers back `Warehouse.upsert_profiles` and `Warehouse.insert_arrow`; all names are re-exported from
:mod:`duckwatch.store.warehouse`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from duckwatch.store.catalog import row_window_size

WINDOW_UNITS = {"hour": "hour", "day": "day", "week": "week", "month": "month"}
SYSTEM_COLUMNS_IN = ("_batch", "_row", "_id", "_ts", "_version", "_experiment", "_received_at")
SYSTEM_COLUMNS = (
    ("_batch", "VARCHAR"),
    ("_row", "BIGINT"),
    ("_id", "VARCHAR"),
    ("_ts", "TIMESTAMPTZ"),
    ("_version", "VARCHAR"),
    ("_experiment", "VARCHAR"),
    ("_received_at", "TIMESTAMPTZ"),
    ("_month", "DATE"),
    ("_seq", "BIGINT"),
)
SQL_TYPE = {"numeric": "DOUBLE", "categorical": "VARCHAR", "list": "VARCHAR[]", "text": "VARCHAR"}


def raw_table(model_key: int, stream: str) -> str:
    """The raw table of one model's stream (named by integer key, never by user text)."""
    if stream not in ("predictions", "outcomes", "inputs", "reference"):
        raise ValueError(f"unknown stream {stream!r}")
    return f"raw_{int(model_key)}_{stream}"


def window_expr(window: str, column: str = "_ts") -> str:
    """SQL for a row's window start in the connection's time zone."""
    unit = WINDOW_UNITS.get(window)
    if unit is None and row_window_size(window):
        raise ValueError(
            f"window {window!r} counts rows: it has no time expression (see loading/windows_rows.py)"
        )
    if unit is None:
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOW_UNITS)}")
    return f"date_trunc('{unit}', {column})"


def upsert_profiles(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]]
) -> None:
    """Store merged window profiles (model, version, experiment, window_start, segment, col_id, kind, profile)."""
    if not rows:
        return
    table = pa.table(
        {
            "model": [r[0] for r in rows],
            "version": [r[1] for r in rows],
            "experiment": [r[2] for r in rows],
            "window_start": pa.array([r[3] for r in rows], pa.timestamp("us", tz="UTC")),
            "segment": [r[4] for r in rows],
            "col_id": [r[5] for r in rows],
            "kind": [r[6] for r in rows],
            "profile": [json.dumps(r[7]) for r in rows],
        }
    )
    con.register("new_profiles", table)
    try:
        con.execute("INSERT OR REPLACE INTO profiles SELECT * FROM new_profiles")
    finally:
        con.unregister("new_profiles")


def insert_arrow(con: duckdb.DuckDBPyConnection, target: str, table: pa.Table) -> None:
    """Bulk insert an Arrow table into one of the core tables (by column name)."""
    if target not in ("metric_results", "reference_profiles", "window_state"):
        raise ValueError(target)
    con.register("incoming_rows", table)
    try:
        cols = ", ".join(table.column_names)
        verb = "INSERT" if target == "metric_results" else "INSERT OR REPLACE"
        con.execute(f"{verb} INTO {target} ({cols}) SELECT {cols} FROM incoming_rows")
    finally:
        con.unregister("incoming_rows")
