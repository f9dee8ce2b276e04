"""Named queries of the profile scan (loading/profile_scan.py): group keys, row counts, column reads.

``source`` is a FROM source over raw rows (a table plus its WHERE clause, see ``raw_sources``) and
``params`` its parameters; a group is (version, experiment, window start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from duckwatch.store.catalog import row_window_size
from duckwatch.store.warehouse import Warehouse, window_expr

__all__ = [
    "category_counts",
    "count_rows",
    "group_keys",
    "group_row_counts",
    "read_columns",
    "window_span_counts",
]


def group_keys(window: str | None) -> str:
    """The select list of a row's group (``""`` without a window): row-count windows carry their
    start as ``_ws`` (loading/windows_rows.py), time windows truncate the time."""
    ws_sql = ("_ws" if row_window_size(window) else window_expr(window)) if window else ""
    return f"_version, _experiment, {ws_sql} AS ws" if window else ""


def group_row_counts(wh: Warehouse, source: str, params: list[Any], keys: str) -> list[tuple[Any, ...]]:
    """(version, experiment, window start, rows) per group of ``group_keys``."""
    return wh.rows(f"SELECT {keys}, count(*) FROM {source} GROUP BY ALL", params)


def count_rows(wh: Warehouse, source: str, params: list[Any]) -> int:
    """Rows of the source."""
    return int(wh.rows(f"SELECT count(*) FROM {source}", params)[0][0])


def read_columns(
    wh: Warehouse, source: str, params: list[Any], keys: str, col_ids: Sequence[str]
) -> pa.Table:
    """The group keys (when ``keys``) and the columns ``col_ids`` of every row of the source."""
    select = ", ".join([*([keys] if keys else []), *col_ids])
    return wh.arrow(f"SELECT {select} FROM {source}", params)


def window_span_counts(wh: Warehouse, source: str, params: list[Any], window: str) -> list[tuple[Any, ...]]:
    """Per (version, experiment): the windows of its first and last time, rows, and rows with a time."""
    return wh.rows(
        f"SELECT _version, _experiment, {window_expr(window, 'min(_ts)')}, {window_expr(window, 'max(_ts)')}, "
        f"count(*), count(_ts) FROM {source} GROUP BY ALL",
        params,
    )


def category_counts(
    wh: Warehouse, source: str, params: list[Any], keys: str, col_id: str
) -> list[tuple[Any, ...]]:
    """Rows per (group keys when ``keys``,) value of the column ``col_id``."""
    return wh.rows(
        f"SELECT {keys + ', ' if keys else ''}{col_id}, count(*) FROM {source} GROUP BY ALL",
        params,
    )
