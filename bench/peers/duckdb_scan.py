"""Bare DuckDB scan of a Parquet file: count + sum of every column (scale reference)."""

from __future__ import annotations

import sys

import duckdb

NUMERIC = {"DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"}


def main(path: str) -> None:
    """Print count and per-column sums (strings: count of non-nulls)."""
    con = duckdb.connect()
    cols = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
    exprs = ["count(*)"]
    for name, typ, *_ in cols:
        q = '"' + name.replace('"', '""') + '"'
        exprs.append(f"sum({q})" if typ in NUMERIC else f"count({q})")
    row = con.execute(f"SELECT {', '.join(exprs)} FROM read_parquet(?)", [path]).fetchone()
    print(row[0] if row else 0)


if __name__ == "__main__":
    main(sys.argv[1])
