"""Reading user files (CSV, Parquet, JSON lines) natively with DuckDB; malformed lines are kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from duckwatch.convert import rows_to_arrow
from duckwatch.errors import BadInputError
from duckwatch.store.duck import memory

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
}


@dataclass(frozen=True)
class FileRead:
    """The rows DuckDB could parse, and the lines it could not (line number, error, raw text)."""

    table: pa.Table | None  # None: not read here (a Parquet file the collector lands whole)
    rejects: list[tuple[int, str, str]]


def read_file(path: Path, fmt: str | None = None) -> FileRead:
    """Read a CSV/Parquet/JSON-lines file; raise BadInputError naming the file and the fix."""
    if not path.is_file():
        raise BadInputError(f"file not found: {path}")
    kind = fmt or FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BadInputError(
            f"cannot tell the format of {path.name}: use .csv, .parquet or .jsonl, or pass --format csv|parquet|json"
        )
    con = memory()
    try:
        if kind == "parquet":
            return FileRead(con.sql("SELECT * FROM read_parquet(?)", params=[str(path)]).to_arrow_table(), [])
        if kind == "json":
            return _read_json(con, path)
        table = con.sql(
            "SELECT * FROM read_csv(?, store_rejects = true, header = true, sample_size = -1)",
            params=[str(path)],
        ).to_arrow_table()
        # DuckDB may report several errors for one line: one reject per line, its messages joined.
        rejects = [
            (int(line or 0), str(msg), str(raw or ""))
            for line, msg, raw in con.execute(
                "SELECT line, string_agg(DISTINCT error_message, '; '), any_value(csv_line) "
                "FROM reject_errors GROUP BY line ORDER BY line"
            ).fetchall()
        ]
        return FileRead(table, rejects)
    except duckdb.Error as exc:
        raise BadInputError(
            f"could not read {path.name} as {kind}: {exc}. Check the file's format and encoding."
        ) from exc
    finally:
        con.close()


def _read_json(con: duckdb.DuckDBPyConnection, path: Path) -> FileRead:
    try:
        table = con.sql(
            "SELECT * FROM read_json(?, format = 'newline_delimited', sample_size = -1)", params=[str(path)]
        ).to_arrow_table()
        return FileRead(table, [])
    except duckdb.Error:
        pass
    # Some lines are malformed: keep the good ones and report each bad line with its number.
    import json

    good: list[dict[str, object]] = []
    rejects: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append((no, f"malformed JSON: {exc.msg} at column {exc.colno}", line.rstrip("\n")))
                continue
            if not isinstance(obj, dict):
                rejects.append((no, "each line must be a JSON object", line.rstrip("\n")))
                continue
            good.append(obj)
    return FileRead(rows_to_arrow(good) if good else pa.table({}), rejects)
