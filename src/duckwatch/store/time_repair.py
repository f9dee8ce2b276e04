"""Repair of a warehouse holding event times outside the accepted range (stored by an older version).

It runs when the job opens the warehouse, once: it records itself in ``job_state`` (``REPAIR_KEY``),
and with nothing to repair it costs a few queries (``stream_stats``, ``window_state``, ``row_windows``
are small; ``quarantine`` is scanned once for its times).
From then on ingestion keeps such rows out (store/landing_time.py).

- Raw rows whose ``_ts`` lies outside the range move to ``quarantine`` with the reason and their
  values as JSON text (``ts`` left NULL: an absurd time is never kept). A Parquet part holding such
  rows leaves its raw view and its other rows are copied into the rows table, as retention does
  with a part that spans its cut: parts are immutable files, and a filter in the view would cost
  every later query for a one-time fix. Rows quarantined earlier keep ``ts`` only when it is sane.
- Windows that start outside the range leave ``window_state``, ``profiles``, ``metric_results``
  and ``row_windows``.
- Each affected model's reference profiles are dropped, so the next compute stage rebuilds the
  reference and every window profile from the rows that remain and recomputes every window (the
  path a new reference takes). A row-count model's windows are cut again from the first window
  that held a moved row. ``publish_pending:<model>`` makes the tick republish the model's file.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from duckwatch.store import catalog, parts, stream_stats
from duckwatch.store.settings import Settings
from duckwatch.store.time_range import load, out_of_range_tail

REPAIR_KEY = "repair:time_range"


def _outside(column: str) -> str:
    """SQL true when ``column`` lies outside [?, ?) (bind the bounds)."""
    return f"({column} < CAST(? AS TIMESTAMPTZ) OR {column} >= CAST(? AS TIMESTAMPTZ))"


_OUTSIDE, _WINDOW_OUTSIDE = _outside("_ts"), _outside("window_start")
_FOUND = " (found in stored data and set aside by the repair of out-of-range times)"
log = logging.getLogger("duckwatch.store")


def repair(
    con: duckdb.DuckDBPyConnection, root: Path, settings: Settings, now: datetime | None = None
) -> list[Path]:
    """Move out-of-range rows and windows aside, once per warehouse; returns part files to delete after commit."""
    if con.execute("SELECT 1 FROM job_state WHERE key = ?", [REPAIR_KEY]).fetchall():
        return []
    lo, hi = load(settings).bounds(now or datetime.now(UTC))
    streams = con.execute(
        "SELECT DISTINCT model_key, stream FROM stream_stats WHERE first_ts < ? OR last_ts >= ? ORDER BY ALL",
        [lo, hi],
    ).fetchall()
    models = {
        r[0]
        for table in ("window_state", "row_windows")
        for r in con.execute(
            f"SELECT DISTINCT model FROM {table} WHERE {_WINDOW_OUTSIDE}", [lo, hi]
        ).fetchall()
    }
    gone: list[Path] = []
    con.execute("BEGIN")
    try:
        if streams or models:
            infos = {i.model_key: i for i in catalog.list_models(settings)}
            for key, stream in streams:
                info = infos.get(int(key))
                if info is None:  # a raw table of a model no longer registered: nothing reads it
                    continue
                if stream == "predictions" and catalog.row_window_size(info.window) is not None:
                    _drop_row_windows(con, info, lo, hi)
                gone += _move_rows(con, root, info, stream, catalog.get_columns(settings, info.model), lo, hi)
                models.add(info.model)
            for model in sorted(models):
                for table in ("window_state", "profiles", "metric_results", "row_windows"):
                    con.execute(f"DELETE FROM {table} WHERE model = ? AND {_WINDOW_OUTSIDE}", [model, lo, hi])
                _reset(con, model)
            log.warning(
                "repaired event times outside %s..%s in models: %s", lo, hi, ", ".join(sorted(models))
            )
        # Rows quarantined earlier (duplicates) keep their time only when it is a sane one.
        con.execute(f"UPDATE quarantine SET ts = NULL WHERE {_outside('ts')}", [lo, hi])
        con.execute(
            "INSERT OR REPLACE INTO job_state VALUES (?, ?)", [REPAIR_KEY, datetime.now(UTC).isoformat()]
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return gone


def _move_rows(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    info: catalog.ModelInfo,
    stream: str,
    columns: list[catalog.ColumnInfo],
    lo: datetime,
    hi: datetime,
) -> list[Path]:
    """Quarantine one raw view's out-of-range rows and take them out of its rows table and parts."""
    view = f"raw_{int(info.model_key)}_{stream}"  # as warehouse.raw_table names it
    present = {d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description}
    # The row as it was logged: user column names, the time as text.
    pairs = [(c.name, c.col_id) for c in columns if c.col_id in present]
    id_name = next((c.name for c in columns if c.role == "id"), "_id")
    ts_name = next((c.name for c in columns if c.role == "timestamp"), "_ts")
    pairs = [(id_name, "_id"), (ts_name, "CAST(_ts AS VARCHAR)"), *pairs]
    raw = "json_object(" + ", ".join(f"?, {expr}" for _, expr in pairs) + ")"
    con.execute(
        "INSERT INTO quarantine (model, stream, batch_id, row_no, version, experiment, reason, raw, received_at, ts) "
        f"SELECT ?, ?, _batch, _row, _version, _experiment, 'timestamp ' || CAST(_ts AS VARCHAR) || ?, {raw}, "
        f"_received_at, NULL FROM {view} WHERE {_OUTSIDE}",
        [info.model, stream, out_of_range_tail(lo, hi) + _FOUND, *(name for name, _ in pairs), lo, hi],
    )
    con.execute(f"DELETE FROM {parts.rows_table(view)} WHERE {_OUTSIDE}", [lo, hi])
    # What is still outside lives in parts: one scan (pruned by the parts' time statistics) finds them.
    hit = {
        (str(b), int(q))
        for b, q in con.execute(
            f"SELECT DISTINCT _batch, _seq FROM {view} WHERE {_OUTSIDE}", [lo, hi]
        ).fetchall()
    }
    gone: list[Path] = []
    for batch_id, file, cols, seq in con.execute(
        "SELECT batch_id, file, columns, seq FROM raw_parts WHERE model_key = ? AND stream = ?",
        [info.model_key, stream],
    ).fetchall():
        if (batch_id, int(seq)) not in hit:
            continue
        keep = ", ".join([*cols, "_month", "_seq"])  # the part's other rows stay, as rows
        con.execute(
            f"INSERT INTO {parts.rows_table(view)} ({keep}) SELECT {keep} FROM {view} "
            f"WHERE _batch = ? AND _seq = ? AND NOT {_OUTSIDE}",
            [batch_id, seq, lo, hi],
        )
        con.execute(
            "DELETE FROM raw_parts WHERE model_key = ? AND stream = ? AND batch_id = ?",
            [info.model_key, stream, batch_id],
        )
        gone.append(root / file)
    if gone:
        parts.refresh_view(con, root, view)
    stream_stats.recompute(con, view, info.model_key, stream)
    return gone


def _drop_row_windows(
    con: duckdb.DuckDBPyConnection, info: catalog.ModelInfo, lo: datetime, hi: datetime
) -> None:
    """Drop a row-count model's windows from the first that holds an out-of-range row: the next tick
    cuts the remaining rows into windows again (loading/windows_rows.py assigns rows after the last kept window)."""
    view = f"raw_{int(info.model_key)}_predictions"
    # A row's window is the one with the greatest first key at or below its key.
    for version, experiment, start in con.execute(
        f"""SELECT w.version, w.experiment, min(w.window_start) FROM (SELECT * FROM {view} WHERE {_OUTSIDE}) p
        ASOF JOIN (SELECT * FROM row_windows WHERE model = ?) w
            ON p._version = w.version AND p._experiment = w.experiment
            AND (p._seq, p._ts, p._batch, p._row) >= (w.first_seq, w.first_ts, w.first_batch, w.first_row)
        GROUP BY ALL""",
        [lo, hi, info.model],
    ).fetchall():
        for table in ("window_state", "profiles", "metric_results", "row_windows"):
            con.execute(
                f"DELETE FROM {table} WHERE model = ? AND version = ? AND experiment = ? AND window_start >= ?",
                [info.model, version, experiment, start],
            )


def _reset(con: duckdb.DuckDBPyConnection, model: str) -> None:
    """Make the next tick rebuild the model's reference, profiles and windows, and republish it.

    Without reference profiles the compute stage rebuilds the reference and every window profile from
    the rows that remain, and recomputes every window. From tick 0, every row is looked at again for
    its window (row-count windows take only rows after their last kept window).
    """
    con.execute("DELETE FROM reference_profiles WHERE model = ?", [model])
    con.execute("INSERT OR REPLACE INTO job_state VALUES (?, '1')", [f"publish_pending:{model}"])
    con.execute("INSERT OR REPLACE INTO job_state VALUES (?, '0')", [f"profiled_seq:{model}"])
