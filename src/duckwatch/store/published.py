"""What the app and CLI read: one DuckDB file per model, rebuilt by the job and swapped in atomically.

Readers open the published file read-only for one query and close it: a reader holding the old file
keeps a consistent snapshot, the next open sees the new one, and nobody ever waits for the job's lock.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.store.duck import fsync_dir, fsync_file, reading
from duckwatch.store.warehouse import Warehouse, raw_table

QUARANTINE_KEEP = 10_000


def path_for(data: DataDir, model: str) -> Path:
    """The published file of a (validated) model name."""
    return data.published / f"{model}.duckdb"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_model(wh: Warehouse, model: str, model_key: int) -> Path:
    """Build the model's published file under a temp name, close it, fsync, and swap it in."""
    folder = wh.data.published
    folder.mkdir(parents=True, exist_ok=True)
    final = path_for(wh.data, model)
    tmp = folder / f".tmp-{model}-{uuid.uuid4().hex[:8]}.duckdb"
    con = wh.con
    con.execute(f"ATTACH {_lit(str(tmp))} AS pub")
    try:
        con.execute("CREATE TABLE pub.schema_version AS SELECT * FROM schema_version")
        for table in ("metric_results", "window_state", "profiles", "reference_profiles"):
            con.execute(f"CREATE TABLE pub.{table} AS SELECT * FROM {table} WHERE model = ?", [model])
        con.execute(
            "CREATE TABLE pub.quarantine AS SELECT * FROM quarantine WHERE model = ? "
            f"ORDER BY received_at DESC LIMIT {QUARANTINE_KEEP}",
            [model],
        )
        parts = []
        for stream in ("predictions", "outcomes", "inputs", "reference"):
            if wh.has_table(model_key, stream):
                parts.append(
                    f"SELECT '{stream}' AS stream, _version AS version, _experiment AS experiment, count(*) AS rows, "
                    f"min(_ts) AS first_ts, max(_ts) AS last_ts, max(_received_at) AS last_received "
                    f"FROM {raw_table(model_key, stream)} GROUP BY ALL"
                )
        if parts:
            con.execute(f"CREATE TABLE pub.stream_stats AS {' UNION ALL '.join(parts)}")
        else:
            con.execute(
                "CREATE TABLE pub.stream_stats (stream VARCHAR, version VARCHAR, experiment VARCHAR, rows BIGINT, "
                "first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ, last_received TIMESTAMPTZ)"
            )
        con.execute(
            "CREATE TABLE pub.quarantine_counts AS SELECT stream, count(*) AS rows FROM quarantine WHERE model = ? GROUP BY ALL",
            [model],
        )
        con.execute(
            "CREATE TABLE pub.meta AS SELECT ? AS model, CAST(? AS TIMESTAMPTZ) AS published_at",
            [model, datetime.now(UTC)],
        )
    finally:
        con.execute("DETACH pub")
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(folder)
    return final


def query(
    data: DataDir, model: str, sql: str, params: list[Any] | None = None, timezone: str = "UTC"
) -> pd.DataFrame:
    """Run a read query against a model's published file; empty frame when nothing is published yet."""
    with reading(path_for(data, model), timezone) as con:
        if con is None:
            return pd.DataFrame()
        try:
            frame: pd.DataFrame = con.sql(sql, params=params or None).to_arrow_table().to_pandas()
            return frame
        except Exception as exc:  # a table missing from an older file reads as empty, not as a crash
            if "does not exist" in str(exc):
                return pd.DataFrame()
            raise


def published_models(data: DataDir) -> list[str]:
    """Models that have a published file."""
    if not data.published.is_dir():
        return []
    return sorted(p.stem for p in data.published.glob("*.duckdb") if not p.name.startswith(".tmp-"))
