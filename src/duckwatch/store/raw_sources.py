"""FROM sources over a model's raw tables (a table or view plus its WHERE clause) and small counts.

A source is what ``SELECT ... FROM {source}`` completes, with its parameters; the job passes sources
between the named queries of ``profile_queries`` and friends without spelling SQL itself.
"""

from __future__ import annotations

from typing import Any

from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = [
    "TIME_RANGE",
    "VERSION_IS",
    "latest_reference_version",
    "raw_row_count",
    "rows_in_ticks",
    "rows_where",
    "tick_rows",
]

Ticks = tuple[int, int]  # rows of ingestion ticks lo < _seq <= hi
# WHERE clauses over raw rows: a time range [start, end), one version.
TIME_RANGE = "_ts >= ? AND _ts < ?"
VERSION_IS = "_version = ?"


def rows_where(model_key: int, stream: str, where: str) -> str:
    """The source of the stream's raw rows that ``where`` selects."""
    return f"{raw_table(model_key, stream)} WHERE {where}"


def tick_rows(wh: Warehouse, model_key: int, stream: str, ticks: Ticks | None) -> tuple[str, list[Any]]:
    """The source (and parameters) of the stream's rows of ``ticks`` (every row when None)."""
    if ticks is None:
        return raw_table(model_key, stream), []
    new = wh.raw_since(model_key, stream, *ticks)
    return f"{new} WHERE _seq > ? AND _seq <= ?", list(ticks)


def rows_in_ticks(wh: Warehouse, model_key: int, stream: str, lo: int, hi: int) -> int:
    """Rows of the stream ingested in ticks ``lo < _seq <= hi``."""
    return int(
        wh.rows(
            f"SELECT count(*) FROM {raw_table(model_key, stream)} WHERE _seq > ? AND _seq <= ?", [lo, hi]
        )[0][0]
    )


def raw_row_count(wh: Warehouse, model_key: int, stream: str) -> int:
    """All rows of the stream."""
    return int(wh.rows(f"SELECT count(*) FROM {raw_table(model_key, stream)}")[0][0])


def latest_reference_version(wh: Warehouse, model_key: int) -> list[tuple[Any, ...]]:
    """[(version,)] of the reference rows received last; empty without reference rows."""
    return wh.rows(
        f"SELECT _version FROM {raw_table(model_key, 'reference')} ORDER BY _received_at DESC LIMIT 1"
    )
