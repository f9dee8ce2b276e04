"""What the app and CLI read: one DuckDB file per model, rebuilt by the job and swapped in atomically.

Readers open the published file read-only for one query and close it: a reader holding the old file
keeps a consistent snapshot, the next open sees the new one, and nobody ever waits for the job's lock.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from duckwatch.config import DataDir
from duckwatch.store import stream_stats
from duckwatch.store.duck import fsync_dir, fsync_file, reading
from duckwatch.store.sql_text import literal
from duckwatch.store.warehouse import Warehouse

QUARANTINE_KEEP = 10_000
log = logging.getLogger(__name__)


def path_for(data: DataDir, model: str) -> Path:
    """The published file of a (validated) model name."""
    return data.published / f"{model}.duckdb"


# JSON text columns stored with zstd: left to itself, DuckDB's checkpoint tries every string
# compression on them, ~0.1 s of CPU per publish on 100 windows x 27 columns of profiles; zstd is
# the cheapest of those and gives the smallest file.
_ZSTD = {
    "profiles": ("profile",),
    "metric_results": ("details",),
    "reference_profiles": ("profile", "binning"),
}


def _create_like(con: Any, table: str, zstd: tuple[str, ...]) -> None:
    """An empty ``pub.{table}`` with the warehouse table's columns and types, ``zstd`` columns compressed so."""
    cols = con.execute(f"DESCRIBE {table}").fetchall()
    spec = ", ".join(
        f'"{name}" {dtype}' + (" USING COMPRESSION zstd" if name in zstd else "") for name, dtype, *_ in cols
    )
    con.execute(f"CREATE TABLE pub.{table} ({spec})")


# Big tables refreshed window by window; the rest is small and copied whole at every publish.
_BY_WINDOW = ("metric_results", "profiles")
_WHOLE = ("window_state", "reference_profiles")
# A refreshed copy leaves freed blocks behind, which later refreshes reuse; when more than this share
# of a file's blocks is free, it is built afresh (small files are left alone: DuckDB writes changes to
# new 256 KB blocks, so they are half free after any refresh).
_MAX_FREE = 0.5
_SLACK = 8 << 20


def publish_model(wh: Warehouse, model: str, model_key: int) -> Path:
    """Build the model's published file under a temp name, close it, fsync, and swap it in.

    The new file starts as a copy of the published one, in which only the windows whose rows differ
    from the warehouse's are replaced (a per-window count and sum of row hashes finds them; ~20 ms
    against ~120 ms for writing 100 windows afresh). A missing or older-schema file, a file whose
    blocks are mostly free, or any error while refreshing falls back to a full build.
    """
    folder = wh.data.published
    folder.mkdir(parents=True, exist_ok=True)
    final = path_for(wh.data, model)
    tmp = folder / f".tmp-{model}-{uuid.uuid4().hex[:8]}.duckdb"
    try:
        try:
            refreshed = _refresh(wh, model, model_key, final, tmp)
        except Exception as exc:  # the full build below is the reference: it decides, or raises itself
            log.warning("refreshing the published file of %s failed (%s); building it afresh", model, exc)
            refreshed = False
        if not refreshed:
            tmp.unlink(missing_ok=True)
            _build(wh, model, model_key, tmp)
        fsync_file(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    fsync_dir(folder)
    return final


def _refresh(wh: Warehouse, model: str, model_key: int, final: Path, tmp: Path) -> bool:
    """Bring a copy of the published file up to date in place; False when a full build is needed."""
    if not final.exists():
        return False
    shutil.copyfile(final, tmp)
    con = wh.con
    try:
        con.execute(f"ATTACH {literal(str(tmp))} AS pub")
    except Exception:  # not a DuckDB file we can open: build it afresh
        return False
    try:
        if not _same_schema(con) or _mostly_free(con, tmp):
            return False
        con.execute("BEGIN")
        try:
            for table in _BY_WINDOW:
                _refresh_windows(con, table, model)
            for table in _WHOLE:
                con.execute(f"DELETE FROM pub.{table}")
                con.execute(f"INSERT INTO pub.{table} SELECT * FROM {table} WHERE model = ?", [model])
            for table in _SMALL:
                con.execute(f"DROP TABLE pub.{table}")
            _small_tables(con, model, model_key)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute("DETACH pub")
    return True


def _mostly_free(con: Any, path: Path) -> bool:
    """More than _MAX_FREE of the attached copy's blocks are free (and it is not a small file)."""
    total, free = con.execute(
        "SELECT total_blocks, free_blocks FROM pragma_database_size() WHERE database_name = 'pub'"
    ).fetchone()
    return bool(path.stat().st_size > _SLACK and total and free > _MAX_FREE * total)


def _same_schema(con: Any) -> bool:
    """The copy has the warehouse's migrations and, table by table, its columns and types."""
    ours = con.execute("SELECT max(version) FROM schema_version").fetchall()
    try:
        theirs = con.execute("SELECT max(version) FROM pub.schema_version").fetchall()
    except Exception:
        return False
    if ours != theirs:
        return False
    for table in (*_BY_WINDOW, *_WHOLE):
        try:
            theirs = [r[:2] for r in con.execute(f"DESCRIBE pub.{table}").fetchall()]
            if theirs != [r[:2] for r in con.execute(f"DESCRIBE {table}").fetchall()]:  # (name, type)
                return False
        except Exception:
            return False
    return True


def _refresh_windows(con: Any, table: str, model: str) -> None:
    """Replace the windows of ``pub.{table}`` whose rows differ from the warehouse's (or exist on one side)."""
    key = "version, experiment, window_start"
    # count + sum of 64-bit row hashes per window: equal exactly when the rows are (but for collisions
    # of the sum, ~2^-64 per changed window); a NULL on one side is a window the other side lacks.
    prints = (
        "SELECT {key}, count(*) AS n, sum(hash(t)::HUGEINT) AS h FROM {src} t WHERE model = ? GROUP BY ALL"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dw_changed AS SELECT {key} FROM "
        f"({prints.format(key=key, src=table)}) a FULL OUTER JOIN ({prints.format(key=key, src='pub.' + table)}) b "
        f"USING ({key}) WHERE a.n IS DISTINCT FROM b.n OR a.h IS DISTINCT FROM b.h",
        [model, model],
    )
    match = " AND ".join(f"t.{c} IS NOT DISTINCT FROM c.{c}" for c in key.split(", "))
    con.execute(f"DELETE FROM pub.{table} t USING _dw_changed c WHERE t.model = ? AND {match}", [model])
    con.execute(
        f"INSERT INTO pub.{table} SELECT t.* FROM {table} t SEMI JOIN _dw_changed c ON {match} WHERE t.model = ?",
        [model],
    )
    con.execute("DROP TABLE _dw_changed")


_SMALL = ("schema_version", "quarantine", "stream_stats", "quarantine_counts", "meta")


def _small_tables(con: Any, model: str, model_key: int) -> None:
    """The small tables, created afresh in ``pub`` (names in _SMALL)."""
    con.execute("CREATE TABLE pub.schema_version AS SELECT * FROM schema_version")
    con.execute(
        "CREATE TABLE pub.quarantine AS SELECT * FROM quarantine WHERE model = ? "
        f"ORDER BY received_at DESC LIMIT {QUARANTINE_KEEP}",
        [model],
    )
    # Kept up to date at ingestion: scanning the raw history here cost ~0.5 s per publish at 10M rows.
    con.execute(f"CREATE TABLE pub.stream_stats AS {stream_stats.frame_sql()}", [model_key])
    con.execute(
        "CREATE TABLE pub.quarantine_counts AS SELECT stream, count(*) AS rows FROM quarantine WHERE model = ? GROUP BY ALL",
        [model],
    )
    con.execute(
        "CREATE TABLE pub.meta AS SELECT ? AS model, CAST(? AS TIMESTAMPTZ) AS published_at",
        [model, datetime.now(UTC)],
    )


def _build(wh: Warehouse, model: str, model_key: int, tmp: Path) -> None:
    """Write the model's published file from scratch at ``tmp``."""
    con = wh.con
    con.execute(f"ATTACH {literal(str(tmp))} AS pub")
    try:
        # One transaction: the new file holds every table or, on an error, none.
        con.execute("BEGIN")
        try:
            for table in (*_BY_WINDOW, *_WHOLE):
                _create_like(con, table, _ZSTD.get(table, ()))
                con.execute(f"INSERT INTO pub.{table} SELECT * FROM {table} WHERE model = ?", [model])
            _small_tables(con, model, model_key)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute("DETACH pub")


def query(
    data: DataDir, model: str, sql: str, params: list[Any] | None = None, timezone: str = "UTC"
) -> pd.DataFrame:
    """Run a read query against a model's published file; empty frame when nothing is published yet."""
    with reading(path_for(data, model), timezone) as con:
        if con is None:
            return pd.DataFrame()
        try:
            table = con.sql(sql, params=params or None).to_arrow_table()
        except Exception as exc:  # a table missing from an older file reads as empty, not as a crash
            if "does not exist" in str(exc):
                return pd.DataFrame()
            raise
    frame: pd.DataFrame = displayable(table).to_pandas()
    return frame


# Timestamps shown are clamped into what Python's datetime holds (years 1-9999), with a margin so
# that adding a window or a label horizon to a clamped value still fits: microseconds since 1970.
_DISPLAY_US = (-62_135_510_400_000_000, 253_370_764_800_000_000)  # 0001-01-02, 9999-01-01 (UTC)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000}


def displayable(table: pa.Table) -> pa.Table:
    """Timestamps beyond what Python holds (e.g. year 99999, stored by an older version) read as the
    nearest instant it does: pandas keeps them, but every isoformat or strftime of one would raise,
    and a missing value instead would break pages that expect every window to have a start."""
    for i, f in enumerate(table.schema):
        if not pa.types.is_timestamp(f.type) or f.type.unit not in _PER_SECOND:  # ns spans 1677-2262
            continue
        lo, hi = (v * _PER_SECOND[f.type.unit] // 1_000_000 for v in _DISPLAY_US)
        ints = table.column(i).cast(pa.int64())
        low, high = (v.as_py() for v in pc.min_max(ints).values())
        if low is None or (lo <= low and high <= hi):  # the usual case: one pass, nothing to change
            continue
        low_cut = pc.max_element_wise(ints, lo, skip_nulls=False)  # a missing time stays missing
        clamped = pc.min_element_wise(low_cut, hi, skip_nulls=False)
        table = table.set_column(i, f, clamped.cast(f.type))
    return table


def published_models(data: DataDir) -> list[str]:
    """Models that have a published file."""
    if not data.published.is_dir():
        return []
    return sorted(p.stem for p in data.published.glob("*.duckdb") if not p.name.startswith(".tmp-"))


# Read-only slices for the app: the same columns and order as `duckwatch export metrics`, only fewer rows.
METRIC_COLUMNS = (
    'model, version, experiment, segment, window_start, window_end, family, metric, col AS "column", '
    "value, lower, upper, exact, method, threshold, status, n, provisional, "
    # the test's p-value where the row has one; on a row of a test that decides a column's drift, its
    # verdict and the test ("drift (ks)", "no drift (tail_h)", "drift (ks, persistent)": flagged below
    # the single-window minimum effect because the shift persisted)
    "TRY_CAST(json_extract_string(CASE WHEN json_valid(details) THEN details END, '$.p_value') AS DOUBLE) "
    "AS p_value, "
    "CASE WHEN json_valid(details) AND json_extract_string(details, '$.decides') = 'true' THEN "
    "(CASE WHEN status IN ('warning', 'critical') THEN 'drift' ELSE 'no drift' END) || ' (' || metric || "
    "CASE WHEN json_extract_string(details, '$.decided_by') = 'persistence' THEN ', persistent' ELSE '' END "
    "|| ')' END AS decision"
)
METRIC_ORDER = " ORDER BY window_start, family, metric, col, version, experiment, segment"


def metric_slice(
    data: DataDir,
    model: str,
    *,
    families: tuple[str, ...] = (),
    metrics: tuple[str, ...] = (),
    prefixes: tuple[str, ...] = (),
    cols: tuple[str, ...] = (),
    model_level: bool = False,
    window_start: Any = None,
    pair: tuple[str, str] | None = None,
    skip_status: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Export-shaped metric rows matching every given filter (a family in ``families`` or a metric starting
    with one of ``prefixes`` when both are given; ``model_level``: no column; ``pair``: version, experiment)."""
    where: list[str] = []
    params: list[Any] = []
    kinds = []
    if families:
        kinds.append("list_contains(?, family)")
        params.append(list(families))
    if prefixes:
        kinds.append("list_has_any(?, [p FOR p IN ? IF starts_with(metric, p)])")
        params += [list(prefixes), list(prefixes)]
    if kinds:
        where.append("(" + " OR ".join(kinds) + ")")
    for values, sql in ((metrics, "list_contains(?, metric)"), (cols, "list_contains(?, col)")):
        if values:
            where.append(sql)
            params.append(list(values))
    if skip_status:
        where.append("NOT list_contains(?, status)")
        params.append(list(skip_status))
    if model_level:
        where.append("col = ''")
    if window_start is not None:
        where.append("window_start = ?")
        params.append(pd.Timestamp(window_start).to_pydatetime())
    if pair is not None:
        where.append("version IS NOT DISTINCT FROM ? AND experiment IS NOT DISTINCT FROM ?")
        params += [pair[0], pair[1]]
    sql = f"SELECT {METRIC_COLUMNS} FROM metric_results"
    sql += (" WHERE " + " AND ".join(where) if where else "") + METRIC_ORDER
    return query(data, model, sql, params)


def latest_per_series(data: DataDir, model: str) -> pd.DataFrame:
    """Export-shaped rows: the latest window of every (version, experiment, segment, family, metric, column)."""
    return query(
        data,
        model,
        f"SELECT {METRIC_COLUMNS} FROM metric_results QUALIFY row_number() OVER ("
        "PARTITION BY version, experiment, segment, family, metric, col ORDER BY window_start DESC) = 1"
        + METRIC_ORDER,
    )


def metric_catalog(data: DataDir, model: str) -> pd.DataFrame:
    """What a model's metric_results hold: one row per (version, experiment, segment, family, metric, column)
    with its number of windows, first and last window."""
    return query(
        data,
        model,
        'SELECT version, experiment, segment, family, metric, col AS "column", count(*) AS windows, '
        "min(window_start) AS first_window, max(window_start) AS last_window FROM metric_results "
        "GROUP BY ALL ORDER BY version, experiment, segment, family, metric, col",
    )


def metric_windows(data: DataDir, model: str, family: str, pair: tuple[str, str] | None = None) -> list[Any]:
    """Window starts (newest first) holding results of one metric family (optionally of one version pair)."""
    sql = "SELECT DISTINCT window_start FROM metric_results WHERE family = ?"
    params: list[Any] = [family]
    if pair is not None:
        sql += " AND version IS NOT DISTINCT FROM ? AND experiment IS NOT DISTINCT FROM ?"
        params += [pair[0], pair[1]]
    frame = query(data, model, sql + " ORDER BY window_start DESC", params)
    return [] if frame.empty else list(frame["window_start"])
