"""Landing zone: validated batches written as Parquet under a temp name, fsynced, then renamed.

A file that exists under its final name is complete and durable ("sealed"); nobody ever writes to it
again. The job ingests sealed files idempotently (keyed by batch id) and deletes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch.store.duck import fsync_dir, fsync_file, memory

LANDING_STREAMS = ("predictions", "outcomes", "inputs", "reference", "quarantine")


@dataclass(frozen=True)
class ColumnPlan:
    """How one source column (renamed to s<i>) becomes one stored column."""

    index: int
    source: str
    col_id: str
    dtype: str  # numeric | categorical | list | text
    role: str
    required: bool = False
    unit_interval: bool = False  # scores: finite and within [0, 1]


@dataclass(frozen=True)
class BatchPlan:
    """Everything the store needs to validate and land one batch (built by the collector)."""

    model: str
    stream: str
    batch_id: str
    version: str
    experiment: str
    timezone: str
    received_at: datetime
    id_index: int | None
    ts_index: int | None
    ts_kind: str  # timestamp | string | epoch | none
    columns: tuple[ColumnPlan, ...]
    dedupe_ids: bool
    id_required: bool
    missing_required: tuple[str, ...] = ()  # declared required columns absent from the batch


@dataclass
class BatchOutcome:
    """What happened to a batch: rows landed, rows quarantined (index, reason), retyped cells."""

    batch_id: str
    landed: int
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    retyped: dict[str, int] = field(default_factory=dict)
    path: Path | None = None


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _cast(expr: str, arrow_type: pa.DataType, dtype: str) -> str:
    if dtype == "numeric":
        if pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type):
            return f"CAST({expr} AS DOUBLE)"
        if pa.types.is_boolean(arrow_type):
            return f"CAST(CAST({expr} AS INTEGER) AS DOUBLE)"
        return f"TRY_CAST({expr} AS DOUBLE)"
    if dtype == "list":
        return f"TRY_CAST({expr} AS VARCHAR[])"
    return f"CAST({expr} AS VARCHAR)"


def _ts_expr(plan: BatchPlan) -> str:
    if plan.ts_index is None:
        return "CAST(? AS TIMESTAMPTZ)"
    src = f"s{plan.ts_index}"
    if plan.ts_kind == "epoch":
        # Epoch numbers: seconds, or milliseconds/microseconds when the magnitude says so.
        return (
            f"TRY(CASE WHEN abs({src}) < 1e11 THEN to_timestamp(CAST({src} AS DOUBLE)) "
            f"WHEN abs({src}) < 1e14 THEN to_timestamp(CAST({src} AS DOUBLE) / 1e3) "
            f"ELSE to_timestamp(CAST({src} AS DOUBLE) / 1e6) END)"
        )
    if plan.ts_kind == "timestamp":
        return f"CAST({src} AS TIMESTAMPTZ)"
    return f"TRY_CAST(CAST({src} AS VARCHAR) AS TIMESTAMPTZ)"


def land_batch(
    table: pa.Table, plan: BatchPlan, landing: Path, con: duckdb.DuckDBPyConnection | None = None
) -> BatchOutcome:
    """Validate ``table`` per ``plan`` in DuckDB and write the good rows as a sealed Parquet file."""
    own = con is None
    con = con or memory()
    try:
        return _land(con, table, plan, landing)
    finally:
        con.execute("DROP TABLE IF EXISTS staged")
        con.unregister("src")
        if own:
            con.close()


def _land(con: duckdb.DuckDBPyConnection, table: pa.Table, plan: BatchPlan, landing: Path) -> BatchOutcome:
    con.execute(f"SET TimeZone = '{plan.timezone}'")
    n = table.num_rows
    names = [f"s{i}" for i in range(table.num_columns)]
    src = table.rename_columns(names).append_column("_row", pa.array(range(n), pa.int64()))
    con.register("src", src)
    types = {i: table.schema.field(i).type for i in range(table.num_columns)}

    reasons: list[str] = []
    for name in plan.missing_required:
        reasons.append(
            _lit(f"required column {name!r} is missing from this batch: add it or fix the mapping")
        )
    if plan.id_index is not None:
        s = f"s{plan.id_index}"
        reasons.append(
            f"CASE WHEN {s} IS NULL OR trim(CAST({s} AS VARCHAR)) = '' THEN "
            f"{_lit('missing id: every row needs a value in the id column')} END"
        )
    elif plan.id_required:
        reasons.append(_lit("no id column: outcomes are joined to predictions by id; pass --id-col"))
    if plan.ts_index is not None:
        s = f"s{plan.ts_index}"
        reasons.append(
            f"CASE WHEN {s} IS NULL THEN {_lit('missing timestamp')} WHEN ({_ts_expr(plan)}) IS NULL THEN "
            f"'timestamp ' || CAST({s} AS VARCHAR) || {_lit(' is not a date-time: use ISO-8601 such as 2026-01-31T12:00:00Z')} END"
        )
    selects = [
        "_row",
        f"CAST({'s' + str(plan.id_index) if plan.id_index is not None else '_uuid'} AS VARCHAR) AS _id"
        if plan.id_index is not None
        else "CAST(uuid() AS VARCHAR) AS _id",
        f"{_ts_expr(plan)} AS _ts",
    ]
    retype_checks: list[tuple[str, str]] = []
    for col in plan.columns:
        s = f"s{col.index}"
        cast = _cast(s, types[col.index], col.dtype)
        selects.append(f"{cast} AS {col.col_id}")
        if col.required:
            reasons.append(
                f"CASE WHEN {s} IS NULL THEN {_lit(f'missing value in required column {col.source!r}')} END"
            )
        if col.unit_interval:
            reasons.append(
                f"CASE WHEN {s} IS NOT NULL AND ({cast} IS NULL OR NOT isfinite({cast}) OR {cast} < 0 OR {cast} > 1) "
                f"THEN {_lit(f'score in column {col.source!r} must be a probability in [0, 1], got ')} || "
                f"CAST({s} AS VARCHAR) END"
            )
        elif cast.startswith("TRY_CAST"):
            retype_checks.append((col.source, f"count(*) FILTER ({s} IS NOT NULL AND {cast} IS NULL)"))
    reason_expr = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "CAST(NULL AS VARCHAR)"
    params = [plan.received_at] if plan.ts_index is None else []
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE staged AS SELECT {', '.join(selects)}, {reason_expr} AS _reason FROM src",
        params,
    )
    if plan.dedupe_ids:
        con.execute(
            "UPDATE staged SET _reason = 'duplicate id ' || _id || ' within this batch (first row kept)' "
            "FROM (SELECT _row AS r, row_number() OVER (PARTITION BY _id ORDER BY _row) AS k "
            "FROM staged WHERE _reason IS NULL) d WHERE staged._row = d.r AND d.k > 1"
        )
    retyped: dict[str, int] = {}
    if retype_checks:
        rows = con.execute(f"SELECT {', '.join(expr for _, expr in retype_checks)} FROM src").fetchall()
        row = rows[0] if rows else None
        assert row is not None
        retyped = {name: int(v) for (name, _), v in zip(retype_checks, row, strict=True) if v}
    bad = con.execute("SELECT _row, _reason FROM staged WHERE _reason IS NOT NULL ORDER BY _row").fetchall()
    landed = n - len(bad)
    outcome = BatchOutcome(plan.batch_id, landed, [(int(r), str(m)) for r, m in bad], retyped)
    if landed:
        col_ids = ", ".join(c.col_id for c in plan.columns)
        select = (
            f"SELECT {_lit(plan.batch_id)} AS _batch, _row, _id, _ts, {_lit(plan.version)} AS _version, "
            f"{_lit(plan.experiment)} AS _experiment, CAST(? AS TIMESTAMPTZ) AS _received_at"
            f"{', ' + col_ids if col_ids else ''} FROM staged WHERE _reason IS NULL ORDER BY _row"
        )
        outcome.path = _seal(
            con, select, [plan.received_at], landing / plan.stream / plan.model, plan.batch_id
        )
    return outcome


def _seal(
    con: duckdb.DuckDBPyConnection, select: str, params: list[object], folder: Path, batch_id: str
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{batch_id}.parquet"
    tmp = folder / f".tmp-{batch_id}-{uuid.uuid4().hex[:8]}.parquet"
    con.execute(f"COPY ({select}) TO {_lit(str(tmp))} (FORMAT parquet, COMPRESSION snappy)", params)
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(folder)
    return final


def write_quarantine(rows: list[dict[str, object]], landing: Path, model: str, batch_id: str) -> Path:
    """Seal quarantined rows (with their reason and raw JSON) so the job keeps them for inspection."""
    folder = landing / "quarantine" / model
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{batch_id}.parquet"
    tmp = folder / f".tmp-{batch_id}-{uuid.uuid4().hex[:8]}.parquet"
    schema = pa.schema(
        [
            ("_batch", pa.string()),
            ("_row", pa.int64()),
            ("_stream", pa.string()),
            ("_version", pa.string()),
            ("_experiment", pa.string()),
            ("_reason", pa.string()),
            ("_raw", pa.string()),
            ("_received_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(folder)
    return final


def pending(landing: Path, stream: str, model: str) -> list[Path]:
    """Sealed files waiting for the job, oldest first (temp files are never listed)."""
    folder = landing / stream / model
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".parquet" and not p.name.startswith(".tmp-"))


def pending_models(landing: Path) -> set[str]:
    """Models with sealed files waiting in any stream."""
    out: set[str] = set()
    for stream in LANDING_STREAMS:
        folder = landing / stream
        if folder.is_dir():
            out.update(
                p.name for p in folder.iterdir() if p.is_dir() and any(pending(landing, stream, p.name))
            )
    return out


def count_rows(paths: Iterable[Path]) -> int:
    """Rows in sealed Parquet files, from their footers only."""
    total = 0
    for p in paths:
        try:
            total += pq.ParquetFile(p).metadata.num_rows
        except FileNotFoundError:  # ingested and removed by the job meanwhile: counted there now
            continue
    return total


def remove_stale_temp_files(landing: Path, older_than_s: float = 3600.0) -> int:
    """Delete temp files left by crashed writers (never acknowledged, so nothing is lost)."""
    import time

    removed = 0
    cutoff = time.time() - older_than_s
    for tmp in landing.glob("*/*/.tmp-*"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
