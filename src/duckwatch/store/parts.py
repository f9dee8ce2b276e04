"""Raw "parts": large byte-copied batches kept as Parquet files behind each raw view, never copied in.

Copying 1M rows x 30 columns into DuckDB's own storage costs ~2.3 s here (11 s at 5M), more than
everything else a tick does. So every raw table is a view, ``raw_<key>_<stream>``, over
``raw_<key>_<stream>_rows`` (small batches, duplicates, anything row-by-row) UNION ALL BY NAME one
read-plan projection per part. DuckDB prunes a part by its constant ``_seq`` and by the Parquet
statistics of its time column, so a query over one window or one tick's rows reads only those parts.

A part's file is hard-linked from the landing zone before the transaction that records it commits;
the landing file is deleted only afterwards, so a crash at any point leaves either the landing file
(retried) or a committed part.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb

from duckwatch.store.duck import fsync_dir
from duckwatch.store.landing_files import plan_select, read_plan
from duckwatch.store.sql_text import literal

PART_MIN_ROWS = 50_000  # smaller batches are cheaper as rows than as one more file to open per query
PART_STREAMS = ("predictions", "inputs", "reference")
_BATCH = re.compile(r"[A-Za-z0-9_-]{1,80}")
_RAW = re.compile(r"raw_[0-9]+_(predictions|outcomes|inputs|reference)")
MONTH_SQL = "CAST(date_trunc('month', timezone('UTC', _ts)) AS DATE)"


def rows_table(view: str) -> str:
    """The stored-rows table behind a raw view."""
    return f"{view}_rows"


def part_file(model_key: int, stream: str, batch_id: str, seq: int | None) -> str:
    """A part's path relative to the data dir (built from integers and checked batch ids only).

    Row-by-row sealed parts live under ``seq=<n>/``: they are all read by one ``read_parquet`` whose
    hive column gives ``_seq`` (one scan instead of one union branch per part, 2-7x faster to plan).
    """
    if not _BATCH.fullmatch(batch_id) or stream not in PART_STREAMS:
        raise ValueError(f"unexpected part {stream}/{batch_id!r}")
    folder = f"parts/{int(model_key)}/{stream}"
    return f"{folder}/{batch_id}.parquet" if seq is None else f"{folder}/seq={int(seq)}/{batch_id}.parquet"


def is_candidate(path: Path, stream: str, rows: int) -> bool:
    """True for a sealed landing file big enough to stay a part."""
    return stream in PART_STREAMS and rows >= PART_MIN_ROWS and _BATCH.fullmatch(path.stem) is not None


def add_part(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    model_key: int,
    stream: str,
    landing_file: Path,
    columns: list[str],
    seq: int,
    rows: int,
) -> None:
    """Link a sealed landing file into the parts folder and record it (inside the caller's transaction)."""
    spec = read_plan(landing_file)
    rel = part_file(model_key, stream, landing_file.stem, seq if spec is None else None)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)  # left by an interrupted earlier attempt (never committed)
    os.link(landing_file, target)
    fsync_dir(target.parent)
    version = con.execute(f"SELECT any_value(_version) FROM ({_select(target, spec)})").fetchall()[0][0]
    con.execute(
        "INSERT INTO raw_parts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [model_key, stream, landing_file.stem, rel, json.dumps(spec), columns, version or "", seq, rows],
    )


def _select(path: Path, spec: dict[str, Any] | None) -> str:
    """A part read with the landing schema: through its read plan, or as sealed (row by row)."""
    return f"SELECT * FROM read_parquet({literal(str(path))})" if spec is None else plan_select(path, spec)


def refresh_view(con: duckdb.DuckDBPyConnection, root: Path, view: str) -> None:
    """(Re)create a raw view over its rows table and its parts."""
    con.execute(f"CREATE OR REPLACE VIEW {view} AS {view_sql(con, root, view)}")


def view_sql(
    con: duckdb.DuckDBPyConnection, root: Path, view: str, seqs: tuple[int, int] | None = None
) -> str:
    """The query behind a raw view; with ``seqs`` = (lo, hi), only the parts of ticks lo < seq <= hi
    (every row of the rows table stays: callers filter ``_seq`` themselves). Each query over the whole
    view binds every part file, ~0.09 ms a part: reading new rows through this keeps that cost to the
    new parts."""
    m = re.fullmatch(r"raw_([0-9]+)_(\w+)", view)
    if m is None:
        raise ValueError(view)
    branches = [f"SELECT * FROM {rows_table(view)}"]
    sealed: list[str] = []
    lo, hi = seqs if seqs is not None else (-(2**62), 2**62)
    for file, plan, columns, seq in con.execute(
        "SELECT file, plan, columns, seq FROM raw_parts WHERE model_key = ? AND stream = ? "
        "AND seq > ? AND seq <= ? ORDER BY seq, batch_id",
        [int(m.group(1)), m.group(2), lo, hi],
    ).fetchall():
        spec: dict[str, Any] | None = json.loads(plan)
        if spec is None:
            sealed.append(literal(str(root / file)))
            continue
        branches.append(
            f"SELECT {', '.join(columns)}, {MONTH_SQL} AS _month, CAST({int(seq)} AS BIGINT) AS _seq "
            f"FROM ({_select(root / file, spec)})"
        )
    if sealed:  # an explicit list, never a glob: a linked but uncommitted file must stay invisible
        branches.append(
            f"SELECT * EXCLUDE (seq), {MONTH_SQL} AS _month, CAST(seq AS BIGINT) AS _seq FROM read_parquet("
            f"[{', '.join(sealed)}], hive_partitioning = true, union_by_name = true)"
        )
    return " UNION ALL BY NAME ".join(f"({b})" for b in branches)


def upgrade(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Raw tables of older warehouses move behind views; views are rebuilt when the data dir moved."""
    tables = [
        r[0]
        for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
        if _RAW.fullmatch(r[0])
    ]
    moved = con.execute("SELECT value FROM job_state WHERE key = 'parts_root'").fetchall()
    if not tables and moved and moved[0][0] == str(root):
        return
    con.execute("BEGIN")
    try:
        for table in tables:
            con.execute(f"ALTER TABLE {table} RENAME TO {rows_table(table)}")
            refresh_view(con, root, table)
        if not moved or moved[0][0] != str(root):
            for (view,) in con.execute(
                "SELECT DISTINCT 'raw_' || model_key || '_' || stream FROM raw_parts"
            ).fetchall():
                refresh_view(con, root, view)
        con.execute("INSERT OR REPLACE INTO job_state VALUES ('parts_root', ?)", [str(root)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop_versions(
    con: duckdb.DuckDBPyConnection, root: Path, model_key: int, stream: str, versions: list[str]
) -> list[Path]:
    """Forget the parts of some versions (a reference replaced); returns their files to delete after commit."""
    rows = con.execute(
        "SELECT file FROM raw_parts WHERE model_key = ? AND stream = ? AND list_contains(?, version)",
        [model_key, stream, versions],
    ).fetchall()
    con.execute(
        "DELETE FROM raw_parts WHERE model_key = ? AND stream = ? AND list_contains(?, version)",
        [model_key, stream, versions],
    )
    return [root / r[0] for r in rows]


def drop_months_before(
    con: duckdb.DuckDBPyConnection, root: Path, model_key: int, stream: str, view: str, first: str
) -> tuple[int, list[Path]]:
    """Retention over parts: rows of earlier months leave; a part spanning the cut keeps its later rows as rows.

    Returns (rows deleted, part files to delete after commit).
    """
    deleted, gone = 0, []
    for batch_id, file, columns, seq in con.execute(
        "SELECT batch_id, file, columns, seq FROM raw_parts WHERE model_key = ? AND stream = ?",
        [model_key, stream],
    ).fetchall():
        old, total = con.execute(
            f"SELECT count(*) FILTER (_month < CAST(? AS DATE)), count(*) FROM {view} WHERE _batch = ? AND _seq = ?",
            [first, batch_id, seq],
        ).fetchall()[0]
        if not old:
            continue
        if old < total:
            cols = ", ".join([*columns, "_month", "_seq"])
            con.execute(
                f"INSERT INTO {rows_table(view)} ({cols}) SELECT {cols} FROM {view} "
                "WHERE _batch = ? AND _seq = ? AND _month >= CAST(? AS DATE)",
                [batch_id, seq, first],
            )
        con.execute(
            "DELETE FROM raw_parts WHERE model_key = ? AND stream = ? AND batch_id = ?",
            [model_key, stream, batch_id],
        )
        deleted += int(old)
        gone.append(root / file)
    if gone:
        refresh_view(con, root, view)
    return deleted, gone
