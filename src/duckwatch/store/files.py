"""Reading user files (CSV, Parquet, JSON lines; CSV and JSON optionally gzip or zstd compressed).

Every file is checked before it is parsed (store/input_checks.py), compressed text is decompressed
once, bounded, before DuckDB reads it (store/files_stream.py), and malformed lines are kept with
their reason and (capped) raw text. Errors are ``BadInputError``s naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from duckwatch.convert import rows_to_arrow
from duckwatch.errors import BadInputError
from duckwatch.store.duck import memory
from duckwatch.store.files_csv import read_csv
from duckwatch.store.files_stream import (
    check_expansion,
    check_parquet,
    first_line,
    longest_line,
    parquet_schema,
    physical_lines,
)
from duckwatch.store.input_checks import FORMATS, InputLimits, check_input_file, shorten

__all__ = ["FORMATS", "FileRead", "parquet_schema", "read_file"]


@dataclass(frozen=True)
class FileRead:
    """The rows DuckDB could parse, and the lines it could not (line number, error, raw text)."""

    table: pa.Table | None  # None: not read here (a Parquet file the collector lands whole)
    rejects: list[tuple[int, str, str]]


def read_file(path: Path, fmt: str | None = None, limits: InputLimits | None = None) -> FileRead:
    """Read a CSV/Parquet/JSON-lines file; raise BadInputError naming the file and the fix."""
    kind, compression = check_input_file(path, fmt)
    limits = limits or InputLimits.from_env()
    if compression != "none":
        check_expansion(path, compression, limits)
    try:
        if kind == "parquet":
            check_parquet(path, limits)
            with contextlib.closing(memory()) as con:
                rel = con.sql("SELECT * FROM read_parquet(?)", params=[str(path)])
                return FileRead(rel.to_arrow_table(), [])
        if kind == "json":
            return _read_json(path, compression, limits)
        table, rejects = read_csv(path, compression, limits)
        return FileRead(table, rejects)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(
            f"could not read {path.name} as {kind}: {shorten(first)}. Check the file's format and encoding"
        ) from exc


def _read_json(path: Path, compression: str, limits: InputLimits) -> FileRead:
    first_line(path, compression, limits, header=False)  # refuses binary data and files of blank lines
    # DuckDB holds objects up to 16 MB whatever it is told: a lower line limit is checked here.
    if longest_line(path, compression) <= limits.max_line_bytes:
        with contextlib.closing(memory()) as con:
            try:
                rel = con.sql(
                    "SELECT * FROM read_json(?, format = 'newline_delimited', records = true, sample_size = -1, "
                    f"compression = '{compression}', maximum_object_size = {limits.max_line_bytes})",
                    params=[str(path)],
                )
                return FileRead(rel.to_arrow_table(), [])
            except duckdb.Error:
                pass
    # Some lines are malformed: keep the good ones and report each bad line with its number.
    good: list[dict[str, object]] = []
    rejects: list[tuple[int, str, str]] = []
    for line in physical_lines(path, compression, limits.max_line_bytes):
        if line.data is None:
            rejects.append((line.no, line.too_long(limits.max_line_bytes), line.raw_text()))
            continue
        if not line.data.strip():
            continue
        try:
            obj = json.loads(line.data.decode("utf-8-sig" if line.no == 1 else "utf-8"))
        except UnicodeDecodeError:
            rejects.append((line.no, "not UTF-8 text: save the file as UTF-8", line.raw_text()))
            continue
        except json.JSONDecodeError as exc:
            rejects.append((line.no, f"malformed JSON: {exc.msg} at column {exc.colno}", line.raw_text()))
            continue
        except RecursionError:
            rejects.append((line.no, "JSON nested too deeply", line.raw_text()))
            continue
        if not isinstance(obj, dict):
            rejects.append((line.no, "each line must be a JSON object", line.raw_text()))
            continue
        good.append(obj)
    return FileRead(rows_to_arrow(good) if good else pa.table({}), rejects)
