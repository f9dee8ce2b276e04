"""The warehouse (owned by the job process only): raw history, profiles, windows and metric results.

Table names, system columns and the bulk Arrow writers live in ``warehouse_tables``, the duplicate-aware
ingestion path in ``warehouse_dups``; the `Warehouse` methods delegate to them and the names are
re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from duckwatch.config import DataDir
from duckwatch.store import duplicates, parts, stream_stats, time_repair, warehouse_dups, warehouse_tables
from duckwatch.store.catalog import ColumnInfo
from duckwatch.store.duck import fsync_dir, migrate, open_file
from duckwatch.store.landing_files import plan_path, plan_select, read_plan
from duckwatch.store.settings import Settings
from duckwatch.store.sql_text import literal
from duckwatch.store.warehouse_tables import SQL_TYPE as SQL_TYPE
from duckwatch.store.warehouse_tables import SYSTEM_COLUMNS as SYSTEM_COLUMNS
from duckwatch.store.warehouse_tables import SYSTEM_COLUMNS_IN as SYSTEM_COLUMNS_IN
from duckwatch.store.warehouse_tables import WINDOW_UNITS as WINDOW_UNITS
from duckwatch.store.warehouse_tables import raw_table as raw_table
from duckwatch.store.warehouse_tables import window_expr as window_expr


@dataclass(frozen=True)
class IngestResult:
    """Rows read from sealed files, rows new to the warehouse, duplicates set aside."""

    stream: str
    files: int
    rows_in: int
    rows_new: int
    rows_dup: int


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
                and col.role not in ("id", "timestamp")
                and col.storage_dtype in SQL_TYPE
            ):
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {col.col_id} {SQL_TYPE[col.storage_dtype]}")
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
                c.col_id for c in columns if c.col_id in present and c.role not in ("id", "timestamp")
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
            [
                f"SELECT * FROM read_parquet([{', '.join(literal(str(f)) for f in sealed)}], union_by_name = true)"
            ]
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
        return warehouse_dups.has_duplicates(self, table, files, plans)

    def _earlier_keys(self, table: str, first_ts: datetime | None) -> bool:
        """True when a new row's key was already taken in (earlier batches, bounded to nearby time)."""
        return warehouse_dups.earlier_keys(self, table, first_ts)

    def _ingest_with_duplicates(
        self, model: str, stream: str, table: str, source: str, cols: str, seq: int
    ) -> int:
        """Set duplicate keys aside in quarantine and insert the rest; returns rows inserted."""
        return warehouse_dups.ingest_with_duplicates(self, model, stream, table, source, cols, seq)

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

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN, then COMMIT when the block ends, or ROLLBACK when it raises (KeyboardInterrupt too)."""
        self.execute("BEGIN")
        try:
            yield
            self.execute("COMMIT")
        except BaseException:
            self.execute("ROLLBACK")
            self.memo.clear()  # what it remembered may be what was rolled back
            raise

    def upsert_profiles(
        self, rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]]
    ) -> None:
        """Store merged window profiles (model, version, experiment, window_start, segment, col_id, kind, profile).

        The dicts are remembered for this warehouse's life (`written_profiles`): a tick that profiled a
        window reads its profiles back without parsing the JSON it has just written.
        """
        warehouse_tables.upsert_profiles(self.con, rows)
        for model, v, e, ws, segment, col_id, kind, profile in rows:
            written = self.memo.setdefault(("written_profiles", model), {})
            written[(v, e, ws, segment, col_id)] = (kind, profile)  # aware datetimes hash by instant

    def written_profiles(self, model: str) -> dict[tuple[Any, ...], tuple[str, dict[str, Any]]]:
        """Profiles `upsert_profiles` stored for ``model`` through this warehouse, by (version,
        experiment, window start, segment, col_id): (kind, the stored dict)."""
        return self.memo.get(("written_profiles", model), {})  # type: ignore[no-any-return]

    def insert_arrow(self, target: str, table: pa.Table) -> None:
        """Bulk insert an Arrow table into one of the core tables (by column name)."""
        warehouse_tables.insert_arrow(self.con, target, table)


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
