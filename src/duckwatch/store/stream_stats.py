"""Per model stream, version and experiment: rows, first and last time, last arrival — kept incrementally."""

from __future__ import annotations

import duckdb

STREAMS = ("predictions", "outcomes", "inputs", "reference")
_AGG = "count(*) AS rows, min(_ts) AS first_ts, max(_ts) AS last_ts, max(_received_at) AS last_received"


def add(
    con: duckdb.DuckDBPyConnection, view: str, model_key: int, stream: str, seq: int, batches: list[str]
) -> None:
    """Merge the rows just ingested (ingestion ``seq``, these batches) into the stats (caller's transaction)."""
    con.execute(
        f"""INSERT INTO stream_stats
        SELECT ?, ?, _version, _experiment, {_AGG} FROM {view}
        WHERE _seq = ? AND list_contains(?, _batch) GROUP BY ALL
        ON CONFLICT DO UPDATE SET rows = rows + excluded.rows,
            first_ts = least(first_ts, excluded.first_ts), last_ts = greatest(last_ts, excluded.last_ts),
            last_received = greatest(last_received, excluded.last_received)""",
        [model_key, stream, seq, batches],
    )


def recompute(con: duckdb.DuckDBPyConnection, view: str, model_key: int, stream: str) -> None:
    """Recount one stream from its raw rows (after rows were deleted: retention, a replaced reference)."""
    con.execute("DELETE FROM stream_stats WHERE model_key = ? AND stream = ?", [model_key, stream])
    con.execute(
        f"INSERT INTO stream_stats SELECT ?, ?, _version, _experiment, {_AGG} FROM {view} GROUP BY ALL",
        [model_key, stream],
    )


def backfill(con: duckdb.DuckDBPyConnection) -> None:
    """Once per warehouse: count the raw history that existed before the stats were kept."""
    if con.execute("SELECT 1 FROM job_state WHERE key = 'stream_stats'").fetchall():
        return
    views = [
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        if r[0].startswith("raw_")
    ]
    con.execute("BEGIN")
    try:
        for view in views:
            _, key, stream = view.split("_", 2)
            if stream in STREAMS:
                recompute(con, view, int(key), stream)
        con.execute("INSERT OR REPLACE INTO job_state VALUES ('stream_stats', '1')")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def frame_sql() -> str:
    """The published ``stream_stats`` table of one model (bind the model key)."""
    return (
        "SELECT stream, version, experiment, rows, first_ts, last_ts, last_received "
        "FROM stream_stats WHERE model_key = ?"
    )
