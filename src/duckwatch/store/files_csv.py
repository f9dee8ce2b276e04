"""CSV files: DuckDB parses them with a fixed RFC 4180 dialect; only lines that break it are set aside.

Left to its sniffer, DuckDB may read a file with one stray quote as having no quote character at
all: every correctly quoted field holding a comma then has too many columns and is rejected, while
the broken line lands with its quote. So the dialect is fixed (the delimiter read from the header,
``"`` quotes, doubled inside a quoted field). A file DuckDB reads cleanly that way, or whose only
rejects are single lines without quotes (a wrong number of fields), is taken as DuckDB read it; any
other is first split into good records and set-aside lines (files_csv_split.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from array import array
from pathlib import Path

import duckdb
import pyarrow as pa

from duckwatch.errors import BadInputError
from duckwatch.store.duck import memory
from duckwatch.store.files_csv_split import Reject, Splitter
from duckwatch.store.files_stream import first_line
from duckwatch.store.input_checks import InputLimits, cap_raw, shorten

_DELIMITERS = (",", "\t", ";", "|")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
# Rejects DuckDB reports exactly, one line each: a wrong number of fields on a line without quotes.
_REJECTS = (
    "SELECT line, string_agg(DISTINCT error_message, '; '), any_value(csv_line), "
    "bool_and(error_type IN ('TOO MANY COLUMNS', 'MISSING COLUMNS') AND NOT contains(csv_line, '\"') "
    "AND NOT contains(csv_line, chr(10))) FROM reject_errors GROUP BY line ORDER BY line"
)


def read_csv(path: Path, compression: str, limits: InputLimits) -> tuple[pa.Table, list[Reject]]:
    """The good rows of a CSV file, typed by DuckDB, and every line set aside with its reason."""
    header = first_line(path, compression, limits)
    suffixes = [s.lower() for s in path.suffixes]
    delimiter = "\t" if ".tsv" in suffixes else _delimiter(header)
    with contextlib.closing(memory()) as con:
        try:
            table, rejects = _duckdb_read(con, str(path), delimiter, compression, limits.max_line_bytes)
            if all(exact for *_, exact in rejects):
                return table, [(no, msg, raw) for no, msg, raw, _ in rejects]
        except duckdb.Error:
            pass  # not clean under the fixed dialect: split into records first
    fd, good = tempfile.mkstemp(prefix="duckwatch-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            splitter = Splitter(out, delimiter, limits.max_line_bytes)
            splitter.run(path, compression)
        return _read_good(path, good, delimiter, limits, splitter.line_of, splitter.rejects)
    finally:
        os.unlink(good)


def _delimiter(header: str) -> str:
    """The candidate delimiter found most often outside quotes in the header (a comma by default)."""
    bare = _QUOTED.sub("", header)
    best = max((bare.count(d), -i, d) for i, d in enumerate(_DELIMITERS))
    return best[2] if best[0] else ","


def _duckdb_read(
    con: duckdb.DuckDBPyConnection, path: str, delimiter: str, compression: str, max_line: int
) -> tuple[pa.Table, list[tuple[int, str, str, bool]]]:
    delim = "'\\t'" if delimiter == "\t" else f"'{delimiter}'"
    options = (
        f"delim = {delim}, quote = '\"', escape = '\"', header = true, store_rejects = true, "
        f"sample_size = -1, compression = '{compression}', max_line_size = {max_line}"
    )
    table = con.sql(f"SELECT * FROM read_csv(?, {options})", params=[path]).to_arrow_table()
    rejects = [
        (int(line or 0), shorten(str(msg)), cap_raw(str(raw or "")), bool(exact))
        for line, msg, raw, exact in con.execute(_REJECTS).fetchall()
    ]
    return table, rejects


def _read_good(
    path: Path, good: str, delimiter: str, limits: InputLimits, line_of: array[int], rejects: list[Reject]
) -> tuple[pa.Table, list[Reject]]:
    """DuckDB types the good records; whatever it still refuses is mapped back to its source line."""
    with contextlib.closing(memory()) as con:
        try:
            # The split held lines to the limit already; DuckDB may count a line ending or two more.
            table, more = _duckdb_read(con, good, delimiter, "none", limits.max_line_bytes + 1024)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(
                f"could not read {path.name} as CSV: {shorten(first)}. Check the file's format and encoding"
            ) from exc
    for line, msg, raw, _ in more:
        rejects.append((line_of[line - 1] if 0 < line <= len(line_of) else line, msg, raw))
    return table, sorted(rejects)
