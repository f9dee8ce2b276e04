"""Landing zone: validated batches written as Parquet under a temp name, fsynced, then renamed.

A file that exists under its final name is complete and durable ("sealed"); nobody ever writes to it
again. The job ingests sealed files idempotently (keyed by batch id) and deletes them afterwards.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch.store.duck import fsync_dir, fsync_file, memory
from duckwatch.store.input_checks import shorten
from duckwatch.store.landing_copy import seal_new
from duckwatch.store.landing_dir import (  # re-exported: the landing zone's public names
    LANDING_STREAMS as LANDING_STREAMS,
)
from duckwatch.store.landing_dir import count_rows as count_rows
from duckwatch.store.landing_dir import pending as pending
from duckwatch.store.landing_dir import pending_models as pending_models
from duckwatch.store.landing_dir import write_quarantine as write_quarantine
from duckwatch.store.landing_temp import STALE_AFTER_S, temp_path
from duckwatch.store.landing_temp import sweep_temp_files as sweep_temp_files
from duckwatch.store.landing_time import in_range, short_value, time_reason
from duckwatch.store.sql_text import literal

LANDING_FORMAT_VERSION = 1  # recorded in every sealed file's Parquet key-value metadata
# Landing files are read once and deleted: building Parquet dictionaries for (mostly unique) ids and
# floats cost about half the write time and saved nothing, so dictionaries are effectively off.
_DICTIONARY_LIMIT = 1


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
    # Event times accepted, [ts_min, ts_max) (store/time_range.py); None: not checked.
    ts_min: datetime | None = None
    ts_max: datetime | None = None


@dataclass
class BatchOutcome:
    """What happened to a batch: rows landed, rows quarantined (index, reason), retyped cells."""

    batch_id: str
    landed: int
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    retyped: dict[str, int] = field(default_factory=dict)
    path: Path | None = None
    # Source row -> event time (UTC) of quarantined rows whose time could be read.
    quarantined_ts: dict[int, datetime] = field(default_factory=dict)


def cast_expr(expr: str, arrow_type: pa.DataType, dtype: str) -> str:
    if dtype == "numeric":
        if pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type):
            return f"CAST({expr} AS DOUBLE)"
        if pa.types.is_boolean(arrow_type):
            return f"CAST(CAST({expr} AS INTEGER) AS DOUBLE)"
        return f"TRY_CAST({expr} AS DOUBLE)"
    if dtype == "list":
        return f"TRY_CAST({expr} AS VARCHAR[])"
    return f"CAST({expr} AS VARCHAR)"


def ts_expr(plan: BatchPlan) -> str:
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
    """Validate ``table`` per ``plan`` in DuckDB and write the good rows as a sealed Parquet file.

    ``con`` may be a reused in-memory connection (see LandingPool); it is left as it was found.
    Good rows are written straight from the source in source order, without a staging copy.
    """
    own = con is None
    con = con or memory()
    try:
        return _land(con, table, plan, landing)
    finally:
        for view in ("src", "keep"):
            with contextlib.suppress(duckdb.Error):
                con.unregister(view)
        if own:
            con.close()


class LandingPool:
    """Idle in-memory connections reused by ``land`` (opening one costs 20-45 ms per batch).

    An open DuckDB database inherited by a forked child crashes it, so owners call ``close_idle``
    before a fork (the SDK does it from an at-fork hook) and give the child a new pool.
    """

    def __init__(self, max_idle: int = 4) -> None:
        self._lock = threading.Lock()
        self._idle: list[duckdb.DuckDBPyConnection] = []
        self._max_idle = max_idle
        self._pid = os.getpid()

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An idle connection (or a new one), back in the pool afterwards unless an error occurred."""
        with self._lock:
            con = self._idle.pop() if self._idle else None
        con = con or memory()
        try:
            yield con
        except BaseException:
            con.close()  # a connection that saw an error is never reused
            raise
        with self._lock:
            if len(self._idle) < self._max_idle and os.getpid() == self._pid:
                self._idle.append(con)
                return
        con.close()

    def land(self, table: pa.Table, plan: BatchPlan, landing: Path) -> BatchOutcome:
        """``land_batch`` on a pooled connection."""
        with self.connection() as con:
            return land_batch(table, plan, landing, con=con)

    def close_idle(self) -> None:
        """Close every idle connection (call before fork and on shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            con.close()


def row_reasons(plan: BatchPlan, types: dict[int, pa.DataType]) -> tuple[list[str], list[tuple[str, str]]]:
    """SQL expressions giving each row's quarantine reasons, and per-column retype counters."""
    reasons: list[str] = []
    for name in plan.missing_required:
        reasons.append(
            literal(
                f"required column {shorten(name)!r} is missing from this batch: add it or fix the mapping"
            )
        )
    if plan.id_index is not None:
        s = f"s{plan.id_index}"
        reasons.append(
            f"CASE WHEN {s} IS NULL OR trim(CAST({s} AS VARCHAR)) = '' THEN "
            f"{literal('missing id: every row needs a value in the id column')} END"
        )
    elif plan.id_required:
        reasons.append(literal("no id column: outcomes are joined to predictions by id; pass --id-col"))
    if plan.ts_index is not None:
        # Text and epoch times are converted once per row, as _dw_ts (see _timed): parsing costs most.
        reasons.append(time_reason(plan.ts_index, plan.ts_kind, "_dw_ts", plan.ts_min, plan.ts_max))
    retype_checks: list[tuple[str, str]] = []
    for col in plan.columns:
        s = f"s{col.index}"
        cast = cast_expr(s, types[col.index], col.dtype)
        name = shorten(col.source)
        if col.required:
            reasons.append(
                f"CASE WHEN {s} IS NULL THEN {literal(f'missing value in required column {name!r}')} END"
            )
        if col.unit_interval:
            reasons.append(
                f"CASE WHEN {s} IS NOT NULL AND ({cast} IS NULL OR NOT isfinite({cast}) OR {cast} < 0 OR {cast} > 1) "
                f"THEN {literal(f'score in column {name!r} must be a probability in [0, 1], got ')} || "
                f"{short_value(s)} END"
            )
        elif cast.startswith("TRY_CAST") and col.role == "label":
            # Stored as missing, a label that is not a number would silently drop out of every
            # performance metric: the row is set aside, saying why, and the rest of the batch lands.
            reasons.append(
                f"CASE WHEN {s} IS NOT NULL AND {cast} IS NULL THEN 'label ' || {short_value(s)} || "
                f"{literal(f' in column {name!r} is not a number, and the model stores labels as numbers: send them as numbers (e.g. 1 for yes, 0 for no)')} END"
            )
        elif cast.startswith("TRY_CAST"):
            retype_checks.append((col.source, f"count(*) FILTER ({s} IS NOT NULL AND {cast} IS NULL)"))
    return reasons, retype_checks


def _timed(plan: BatchPlan) -> str:
    """``src``, with text and epoch times converted once per row as ``_dw_ts`` (``row_reasons`` reads it)."""
    if plan.ts_index is None or plan.ts_kind == "timestamp":  # date/time columns are checked as they are
        return "src"
    return f"(SELECT *, {ts_expr(plan)} AS _dw_ts FROM src)"


def bad_rows(con: duckdb.DuckDBPyConnection, plan: BatchPlan, reasons: list[str]) -> list[tuple[int, str]]:
    """(row, reason) of every row that must not land, in row order; ``src`` is registered already.

    Only bad rows are materialised. Repeated ids (predictions/inputs) are first ruled out by hashes;
    when some may repeat, only rows whose id really repeats are ranked, so the first valid row with
    an id is kept and later valid ones are quarantined (as the former UPDATE over all rows did).
    """
    bad: dict[int, str] = {}
    if reasons:
        reason_expr = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')"
        rows = con.execute(
            f"SELECT _row, _reason FROM (SELECT _row, {reason_expr} AS _reason FROM {_timed(plan)}) "
            "WHERE _reason IS NOT NULL"
        ).fetchall()
        bad = {int(r): str(m) for r, m in rows}
    if plan.dedupe_ids and plan.id_index is not None:
        s = f"s{plan.id_index}"
        # Equal ids have equal hashes, so sorted hashes without neighbours in common prove "no repeats"
        # (a 64-bit sort is ~3x cheaper than grouping strings); a collision only costs the exact check.
        hashes = np.sort(
            np.asarray(con.execute(f"SELECT hash(CAST({s} AS VARCHAR)) AS h FROM src").fetchnumpy()["h"])
        )
        if bool((hashes[1:] == hashes[:-1]).any()):
            # Rank only rows whose id repeats; rows already bad do not count as the kept "first" one.
            con.register("_dw_bad", pa.table({"r": pa.array(list(bad), pa.int64())}))
            try:
                dups = con.execute(
                    f"""
                    WITH rep AS (
                        SELECT CAST({s} AS VARCHAR) AS _id FROM src
                        GROUP BY 1 HAVING count(*) > 1
                    ),
                    cand AS (
                        SELECT src._row, CAST(src.{s} AS VARCHAR) AS _id FROM src
                        SEMI JOIN rep ON CAST(src.{s} AS VARCHAR) = rep._id
                        ANTI JOIN _dw_bad b ON src._row = b.r
                    )
                    SELECT _row, _id FROM (
                        SELECT _row, _id, row_number() OVER (PARTITION BY _id ORDER BY _row) AS k FROM cand
                    ) WHERE k > 1
                    """
                ).fetchall()
            finally:
                con.unregister("_dw_bad")
            for r, ident in dups:
                bad[int(r)] = f"duplicate id {shorten(str(ident))} within this batch (first row kept)"
    return sorted(bad.items())


def _land(con: duckdb.DuckDBPyConnection, table: pa.Table, plan: BatchPlan, landing: Path) -> BatchOutcome:
    con.execute(f"SET TimeZone = '{plan.timezone}'")
    n = table.num_rows
    names = [f"s{i}" for i in range(table.num_columns)]
    src = table.rename_columns(names).append_column("_row", pa.array(np.arange(n, dtype=np.int64)))
    con.register("src", src)
    types = {i: table.schema.field(i).type for i in range(table.num_columns)}
    reasons, retype_checks = row_reasons(plan, types)
    params: list[object] = [plan.received_at] if plan.ts_index is None else []
    bad = bad_rows(con, plan, reasons)
    retyped: dict[str, int] = {}
    if retype_checks:
        rows = con.execute(f"SELECT {', '.join(expr for _, expr in retype_checks)} FROM src").fetchall()
        row = rows[0] if rows else None
        assert row is not None
        retyped = {name: int(v) for (name, _), v in zip(retype_checks, row, strict=True) if v}
    landed = n - len(bad)
    outcome = BatchOutcome(plan.batch_id, landed, bad, retyped)
    if bad:
        outcome.quarantined_ts = _event_times(con, plan, [r for r, _ in bad], params)
    if landed:
        source = "src"
        if bad:
            # Keep-mask as one extra column: a filter preserves the source order (no ORDER BY needed).
            mask = np.ones(n, dtype=np.bool_)
            mask[np.fromiter((r for r, _ in bad), dtype=np.int64, count=len(bad))] = False
            con.register("keep", src.append_column("_keep", pa.array(mask)))
            source = "keep WHERE _keep"
        selects = [
            f"CAST(s{plan.id_index} AS VARCHAR) AS _id"
            if plan.id_index is not None
            else "CAST(uuid() AS VARCHAR) AS _id",
            f"{ts_expr(plan)} AS _ts",
        ]
        cols = "".join(
            f", {cast_expr(f's{c.index}', types[c.index], c.dtype)} AS {c.col_id}" for c in plan.columns
        )
        select = (
            f"SELECT {literal(plan.batch_id)} AS _batch, _row, {selects[0]}, {selects[1]}, "
            f"{literal(plan.version)} AS _version, {literal(plan.experiment)} AS _experiment, "
            f"CAST(? AS TIMESTAMPTZ) AS _received_at{cols} FROM {source}"
        )
        outcome.path = _seal(
            con,
            select,
            [*params, plan.received_at],
            landing / plan.stream / plan.model,
            plan.batch_id,
            synthetic_ids=plan.id_index is None,
        )
    return outcome


def _event_times(
    con: duckdb.DuckDBPyConnection, plan: BatchPlan, rows: list[int], params: list[object]
) -> dict[int, datetime]:
    """Event time (UTC) of the given source rows, where it reads as one (quarantine keeps it)."""
    con.register("_dw_q", pa.table({"r": pa.array(rows, pa.int64())}))
    # A time outside the accepted range is never kept (without a time column it is the arrival time).
    sane = "true" if plan.ts_index is None else in_range(ts_expr(plan), plan.ts_min, plan.ts_max)
    try:
        found = con.execute(
            f"SELECT _row, timezone('UTC', {ts_expr(plan)}) FROM src SEMI JOIN _dw_q q ON src._row = q.r "
            f"WHERE {sane}",
            params,
        ).fetchall()
    finally:
        con.unregister("_dw_q")
    return {int(r): ts.replace(tzinfo=UTC) for r, ts in found if isinstance(ts, datetime)}


def _seal(
    con: duckdb.DuckDBPyConnection,
    select: str,
    params: list[object],
    folder: Path,
    batch_id: str,
    *,
    synthetic_ids: bool,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{batch_id}.parquet"
    if final.exists():  # the same batch (same key, same content) is sealed already: keep that one
        return final
    tmp = temp_path(folder, batch_id)
    con.execute(
        f"COPY ({select}) TO {literal(str(tmp))} (FORMAT parquet, COMPRESSION snappy, DICTIONARY_SIZE_LIMIT {_DICTIONARY_LIMIT}, "
        f"KV_METADATA {{duckwatch_landing_version: '{LANDING_FORMAT_VERSION}', "
        f"duckwatch_synthetic_ids: '{int(synthetic_ids)}'}})",
        params,
    )
    fsync_file(tmp)
    # A read plan left by an earlier, interrupted byte-copy attempt of this batch must not apply here.
    folder.joinpath(f"{batch_id}.plan.json").unlink(missing_ok=True)
    seal_new(tmp, final)
    fsync_dir(folder)
    return final


def has_synthetic_ids(path: Path) -> bool:
    """True when a row-by-row sealed file's ids were generated here (unique by construction)."""
    meta = pq.read_metadata(path).metadata or {}
    return meta.get(b"duckwatch_synthetic_ids") == b"1"


def remove_stale_temp_files(landing: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Delete temp files left by crashed writers (never acknowledged, so nothing is lost)."""
    return sweep_temp_files(landing, stale_after_s=older_than_s)
