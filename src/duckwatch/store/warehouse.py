"""The warehouse (owned by the job process only): raw history, profiles, windows and metric results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from duckwatch.config import DataDir
from duckwatch.store import duplicates, parts, stream_stats, time_repair
from duckwatch.store.catalog import ColumnInfo, row_window_size
from duckwatch.store.duck import fsync_dir, migrate, open_file
from duckwatch.store.landing import _lit, has_synthetic_ids
from duckwatch.store.landing_files import plan_path, plan_select, read_plan
from duckwatch.store.settings import Settings

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


@dataclass(frozen=True)
class IngestResult:
    """Rows read from sealed files, rows new to the warehouse, duplicates set aside."""

    stream: str
    files: int
    rows_in: int
    rows_new: int
    rows_dup: int


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
            f"window {window!r} counts rows: it has no time expression (see jobs/windows_rows.py)"
        )
    if unit is None:
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOW_UNITS)}")
    return f"date_trunc('{unit}', {column})"


class Warehouse:
    """A read-write connection to ``warehouse.duckdb``; only the job process ever opens one."""

    def __init__(self, data: DataDir) -> None:
        self.data = data
        self.con = open_file(data.warehouse, read_only=False)
        # A commit that crosses the default 16 MB WAL threshold checkpoints inline: 1.9 s for a 100k-row
        # batch on 10M rows here, against 0.2 s for the explicit CHECKPOINT that close() runs anyway.
        self.con.execute("SET checkpoint_threshold = '1GB'")
        # Raw parts are immutable Parquet files read by every query over a raw view (union_by_name reads
        # each file's footer at bind time): caching footers halves a query on 100 parts (18 -> 9 ms).
        self.con.execute("SET parquet_metadata_cache = true")
        self.version = migrate(self.con)
        parts.upgrade(self.con, data.root)
        stream_stats.backfill(self.con)
        # Part files no longer referenced, deleted once the transaction that forgot them committed.
        self._gone: list[Path] = []
        # Event times outside the accepted range, stored by an older version: set aside, once.
        self._gone += time_repair.repair(self.con, data.root, Settings(data.settings))
        # Column names per table: information_schema costs ~5 ms a lookup, paid per window otherwise.
        self._columns: dict[str, frozenset[str]] = {}
        # Memo for values that stay fixed for the rest of a tick once ingestion is done (job code only).
        self.memo: dict[tuple[str, ...], Any] = {}

    def close(self) -> None:
        """Checkpoint and close (no WAL left behind for readers of copies)."""
        try:
            self.con.execute("CHECKPOINT")
            self.delete_forgotten_parts()
        finally:
            self.con.close()

    def delete_forgotten_parts(self) -> None:
        """Delete part files that committed changes no longer reference."""
        live = {r[0] for r in self.con.execute("SELECT file FROM raw_parts").fetchall()}
        for f in self._gone:
            if str(f.relative_to(self.data.root)) not in live:
                f.unlink(missing_ok=True)
        self._gone.clear()

    def set_timezone(self, tz: str) -> None:
        """Windows are cut in the model's declared zone, never the host's."""
        if not all(ch.isalnum() or ch in "/_+-" for ch in tz):
            raise ValueError(f"invalid time zone {tz!r}")
        self.con.execute(f"SET TimeZone = '{tz}'")

    # -- ingestion --------------------------------------------------------------------------------
    def next_seq(self) -> int:
        """A new ingestion sequence number (one per tick)."""
        rows = self.con.execute("SELECT value FROM job_state WHERE key = 'seq'").fetchall()
        row = rows[0] if rows else None
        seq = int(row[0]) + 1 if row else 1
        self.con.execute("INSERT OR REPLACE INTO job_state VALUES ('seq', ?)", [str(seq)])
        return seq

    def ensure_raw_table(self, model_key: int, stream: str, columns: Sequence[ColumnInfo]) -> str:
        """Create the raw table if needed and add any column first seen since."""
        view = raw_table(model_key, stream)
        table = parts.rows_table(view)
        cols = ", ".join(f"{name} {typ}" for name, typ in SYSTEM_COLUMNS)
        existing = self.table_columns(table)
        changed = not existing
        if changed:
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        for col in columns:
            if (
                col.col_id not in existing
                and col.role not in ("id", "timestamp", "ignore")
                and col.dtype in SQL_TYPE
            ):
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {col.col_id} {SQL_TYPE[col.dtype]}")
                changed = True
        if changed:
            parts.refresh_view(self.con, self.data.root, view)
            self._columns.clear()
        return view

    def table_columns(self, table: str) -> frozenset[str]:
        """Column names of a table (empty when it does not exist); cached until this connection changes DDL."""
        cols = self._columns.get(table)
        if cols is None and not self._columns:
            # One scan for every table: information_schema costs ~3 ms a lookup whatever it filters,
            # and a tick asks about ~6 tables per model. Tables that do not exist are not listed here.
            for name, names in self.con.execute(
                "SELECT table_name, list(column_name) FROM information_schema.columns GROUP BY table_name"
            ).fetchall():
                self._columns[name] = frozenset(names)
            cols = self._columns.get(table)
        if cols is None:
            cols = frozenset(
                r[0]
                for r in self.con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
                ).fetchall()
            )
            self._columns[table] = cols
        return cols

    def already_ingested(self, model: str, stream: str, batch_ids: list[str]) -> set[str]:
        """Batch ids that the warehouse has already taken in."""
        if not batch_ids:
            return set()
        rows = self.con.execute(
            "SELECT batch_id FROM ingested_batches WHERE model = ? AND stream = ? AND list_contains(?, batch_id)",
            [model, stream, batch_ids],
        ).fetchall()
        return {r[0] for r in rows}

    def ingest(
        self,
        model: str,
        model_key: int,
        stream: str,
        files: list[Path],
        columns: Sequence[ColumnInfo],
        seq: int,
    ) -> IngestResult:
        """Take sealed landing files into the warehouse exactly once, then delete them."""
        ids = [f.stem for f in files]
        done = self.already_ingested(model, stream, ids)
        todo = [f for f in files if f.stem not in done]
        result = IngestResult(stream, 0, 0, 0, 0)
        if todo:
            self.con.execute("BEGIN")
            try:
                result = self._ingest(model, model_key, stream, todo, columns, seq)
                if stream == "reference":  # earlier rows of the same versions were replaced
                    stream_stats.recompute(self.con, raw_table(model_key, stream), model_key, stream)
                elif stream != "quarantine":
                    view = raw_table(model_key, stream)
                    stream_stats.add(self.con, view, model_key, stream, seq, [f.stem for f in todo])
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        for f in files:  # committed (or ingested by an earlier, interrupted tick): the file has served
            f.unlink(missing_ok=True)
            plan_path(f).unlink(missing_ok=True)  # after the data file: a plan alone is never listed
        if files:
            fsync_dir(files[0].parent)
        return result

    def _ingest(
        self,
        model: str,
        model_key: int,
        stream: str,
        files: list[Path],
        columns: Sequence[ColumnInfo],
        seq: int,
    ) -> IngestResult:
        rows = self._file_rows(files)
        if stream == "quarantine":
            paths = [str(f) for f in files]
            # Files sealed before quarantine.ts existed have no _ts column: NULL (left out of per-window counts).
            has_ts = any(
                r[0] == "_ts"
                for r in self.con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [paths]
                ).fetchall()
            )
            self.con.execute(
                "INSERT INTO quarantine (model, stream, batch_id, row_no, version, experiment, reason, raw, "
                "received_at, ts) SELECT ?, _stream, _batch, _row, _version, _experiment, _reason, _raw, "
                f"_received_at, {'_ts' if has_ts else 'NULL'} FROM read_parquet(?, union_by_name = true)",
                [model, paths],
            )
            duplicates.dirty_windows_of(self.con, model, [f.stem for f in files])
            n = sum(rows.values())
            self._ledger(model, stream, files, seq, rows)
            return IngestResult(stream, len(files), n, n, 0)
        table = self.ensure_raw_table(model_key, stream, columns)
        plans = {f: read_plan(f) for f in files}
        try:
            self._source_view("landing_src", files, plans)
            present = {r[0] for r in self.con.execute("DESCRIBE landing_src").fetchall()}
            data_cols = [
                c.col_id
                for c in columns
                if c.col_id in present and c.role not in ("id", "timestamp", "ignore")
            ]
            select_cols = [*SYSTEM_COLUMNS_IN, *data_cols]
            cols = ", ".join([*select_cols, "_month", "_seq"])
            source = (
                f"SELECT {', '.join(select_cols)}, {parts.MONTH_SQL} AS _month, "
                f"CAST(? AS BIGINT) AS _seq FROM landing_src"
            )
            rows_in = sum(rows.values())
            if stream == "reference":
                versions = [r[0] for r in self.rows("SELECT DISTINCT _version FROM landing_src")]
                self.con.execute(
                    f"DELETE FROM {parts.rows_table(table)} WHERE list_contains(?, _version)", [versions]
                )
                self._gone += parts.drop_versions(self.con, self.data.root, model_key, stream, versions)
            if stream in ("predictions", "inputs") and self._has_duplicates(table, files, plans):
                rows_new = self._ingest_with_duplicates(model, stream, table, source, cols, seq)
                duplicates.dirty_windows_of(self.con, model, [f.stem for f in files])
                self._ledger(model, stream, files, seq, rows)
                return IngestResult(stream, len(files), rows_in, rows_new, rows_in - rows_new)
            # The common case, no duplicate anywhere. Big byte-copied files stay Parquet parts of the
            # raw view; the rest is copied straight from the files into the rows table.
            big = [f for f in files if parts.is_candidate(f, stream, rows[f.stem])]
            rest = [f for f in files if f not in big]
            if rest:
                if big:
                    self._source_view("landing_src", rest, plans)
                self.con.execute(f"INSERT INTO {parts.rows_table(table)} ({cols}) {source}", [seq])
            for f in big:
                parts.add_part(self.con, self.data.root, model_key, stream, f, select_cols, seq, rows[f.stem])
            if big:
                parts.refresh_view(self.con, self.data.root, table)
            self._ledger(model, stream, files, seq, rows)
            return IngestResult(stream, len(files), rows_in, rows_in, 0)
        finally:
            self.con.execute("DROP VIEW IF EXISTS landing_src")

    def _source_view(self, name: str, files: list[Path], plans: dict[Path, dict[str, Any] | None]) -> None:
        """One relation over landing files, row-by-row sealed or byte-copied with a read plan alike."""
        sealed = [f for f in files if plans[f] is None]
        branches = (
            [f"SELECT * FROM read_parquet([{', '.join(_lit(str(f)) for f in sealed)}], union_by_name = true)"]
            if sealed
            else []
        )
        branches += [plan_select(f, plan) for f, plan in plans.items() if plan is not None and f in files]
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS " + " UNION ALL BY NAME ".join(f"({b})" for b in branches)
        )

    def _file_rows(self, files: list[Path]) -> dict[str, int]:
        """Rows per landing file (batch id), from the Parquet footers."""
        return {
            str(name): int(n)
            for name, n in self.con.execute(
                "SELECT parse_filename(file_name, true), sum(num_rows) FROM parquet_file_metadata(?) GROUP BY 1",
                [[str(f) for f in files]],
            ).fetchall()
        }

    def _has_duplicates(
        self, table: str, files: list[Path], plans: dict[Path, dict[str, Any] | None]
    ) -> bool:
        """True when an id repeats among the files or was taken in before (synthetic ids never repeat)."""
        real = [f for f in files if not _synthetic_ids(f, plans[f])]
        if not real:
            return False
        self._source_view("landing_ids", real, plans)
        try:
            rows_in, distinct, first_ts = self.con.execute(
                "WITH k AS (SELECT _id, _version, _experiment, _ts FROM landing_ids) "
                "SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM (SELECT DISTINCT _id, _version, _experiment "
                "FROM k)), (SELECT min(_ts) FROM k)"
            ).fetchall()[0]
            return bool(distinct < rows_in) or self._earlier_keys(table, first_ts)
        finally:
            self.con.execute("DROP VIEW IF EXISTS landing_ids")

    def _earlier_keys(self, table: str, first_ts: datetime | None) -> bool:
        """True when a new row's key was already taken in (earlier batches, bounded to nearby time)."""
        if first_ts is None:
            return False
        recent = f"SELECT _id, _version, _experiment FROM {table} WHERE _ts >= CAST(? AS TIMESTAMPTZ) - INTERVAL 7 DAY"
        if not self._count(f"SELECT count(*) FROM ({recent})", [first_ts]):
            return False
        return bool(
            self._count(
                f"SELECT count(*) FROM (SELECT _id, _version, _experiment FROM landing_ids) i "
                f"SEMI JOIN ({recent}) r ON r._id = i._id AND r._version = i._version AND r._experiment = i._experiment",
                [first_ts],
            )
        )

    def _ingest_with_duplicates(
        self, model: str, stream: str, table: str, source: str, cols: str, seq: int
    ) -> int:
        """Set duplicate keys aside in quarantine and insert the rest; returns rows inserted."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE incoming AS {source}", [seq])
        # Duplicate keys count once: against earlier batches (bounded to nearby time, where
        # retries land) and among the new files themselves (first arrival wins).
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE dup AS
            SELECT i._batch, i._row FROM incoming i
            WHERE EXISTS (SELECT 1 FROM {table} r WHERE r._id = i._id AND r._version = i._version
                          AND r._experiment = i._experiment
                          AND r._ts >= (SELECT min(_ts) FROM incoming) - INTERVAL 7 DAY)
            UNION ALL
            SELECT _batch, _row FROM (
                SELECT _batch, _row, row_number() OVER (PARTITION BY _id, _version, _experiment
                                                        ORDER BY _received_at, _batch, _row) AS k
                FROM incoming) WHERE k > 1"""
        )
        self.con.execute(
            "INSERT INTO quarantine (model, stream, batch_id, row_no, version, experiment, reason, raw, received_at, ts) "
            "SELECT ?, ?, i._batch, i._row, i._version, i._experiment, "
            "'duplicate of an earlier ' || ? || ' row with the same id (counted once)', to_json(i), i._received_at, "
            "i._ts FROM incoming i SEMI JOIN dup d ON i._batch = d._batch AND i._row = d._row",
            [model, stream, stream.rstrip("s")],
        )
        self.con.execute("DELETE FROM incoming WHERE (_batch, _row) IN (SELECT (_batch, _row) FROM dup)")
        self.con.execute(f"INSERT INTO {parts.rows_table(table)} ({cols}) SELECT {cols} FROM incoming")
        rows_new = self._count("SELECT count(*) FROM incoming")
        self.con.execute("DROP TABLE incoming")
        self.con.execute("DROP TABLE dup")
        return rows_new

    def _ledger(self, model: str, stream: str, files: list[Path], seq: int, counts: dict[str, int]) -> None:
        """Record each file's batch as taken in (``counts``: rows per batch id, from ``_file_rows``)."""
        now = datetime.now().astimezone()
        for f in files:
            n = int(counts.get(f.stem, 0))
            self.con.execute(
                "INSERT INTO ingested_batches VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                [model, stream, f.stem, n, n, seq, now],
            )

    def _count(self, sql: str, params: list[Any] | None = None) -> int:
        rows = self.con.execute(sql, params or []).fetchall()
        row = rows[0] if rows else None
        return int(row[0]) if row else 0

    # -- reads for the job ------------------------------------------------------------------------
    def raw_since(self, model_key: int, stream: str, lo: int, hi: int) -> str:
        """A FROM source with the rows of ticks lo < _seq <= hi of a raw view (the same columns), binding
        only the parts of those ticks; rows outside the range may remain (filter ``_seq``)."""
        view = raw_table(model_key, stream)
        return f"({parts.view_sql(self.con, self.data.root, view, (int(lo), int(hi)))}) AS {view}"

    def has_table(self, model_key: int, stream: str) -> bool:
        """True once the model's stream has a raw table."""
        return bool(self.table_columns(raw_table(model_key, stream)))

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return Arrow."""
        return self.con.sql(sql, params=params or None).to_arrow_table()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return tuples."""
        return self.con.execute(sql, params or []).fetchall()

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        """Run a statement."""
        if any(word in sql.upper() for word in ("CREATE", "ALTER", "DROP")):
            self._columns.clear()
        self.con.execute(sql, params or [])

    def upsert_profiles(
        self, rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]]
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
        self.con.register("new_profiles", table)
        try:
            self.con.execute("INSERT OR REPLACE INTO profiles SELECT * FROM new_profiles")
        finally:
            self.con.unregister("new_profiles")

    def insert_arrow(self, target: str, table: pa.Table) -> None:
        """Bulk insert an Arrow table into one of the core tables (by column name)."""
        if target not in ("metric_results", "reference_profiles", "window_state"):
            raise ValueError(target)
        self.con.register("incoming_rows", table)
        try:
            cols = ", ".join(table.column_names)
            verb = "INSERT" if target == "metric_results" else "INSERT OR REPLACE"
            self.con.execute(f"{verb} INTO {target} ({cols}) SELECT {cols} FROM incoming_rows")
        finally:
            self.con.unregister("incoming_rows")


def _synthetic_ids(path: Path, plan: dict[str, Any] | None) -> bool:
    """True when a landing file's ids were generated by duckwatch (unique by construction)."""
    return bool(plan["synthetic_ids"]) if plan is not None else has_synthetic_ids(path)


def drop_months_before(wh: Warehouse, model_key: int, month: str) -> int:
    """Retention: delete a model's raw rows of every month before ``month`` (YYYY-MM), all streams.

    Profiles and metric results stay (they are the summaries); the file's space is reused after the
    checkpoint that closing the warehouse runs, and parts that left are deleted then. Returns the rows deleted.
    """
    first = f"{month}-01"
    total = 0
    for stream in ("predictions", "outcomes", "inputs"):
        if wh.has_table(model_key, stream):
            view = raw_table(model_key, stream)
            table = parts.rows_table(view)
            total += wh._count(f"SELECT count(*) FROM {table} WHERE _month < CAST(? AS DATE)", [first])
            wh.execute(f"DELETE FROM {table} WHERE _month < CAST(? AS DATE)", [first])
            deleted, gone = parts.drop_months_before(wh.con, wh.data.root, model_key, stream, view, first)
            total += deleted
            wh._gone += gone
            stream_stats.recompute(wh.con, view, model_key, stream)
    return total
