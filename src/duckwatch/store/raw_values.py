"""Named queries of the raw-row drift fallback (calculators/drift_raw.py): one numeric column's finite values.

Rows are a stream's raw rows that a WHERE clause (``raw_sources.TIME_RANGE``, ``VERSION_IS`` or a
``row_windows.window_where`` clause) selects, with its parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from duckwatch.store.sql_text import quote_ident
from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = ["finite_values", "finite_values_in_bins", "windows_columns"]


def _as_double(col_id: str, alias: str = "") -> str:
    # TRY_CAST: a text column analysed as numeric (catalog.set_column_dtype) has non-numbers, missing.
    return f"TRY_CAST({alias}{quote_ident(col_id)} AS DOUBLE)"


def windows_columns(
    wh: Warehouse, model_key: int, windows: Sequence[tuple[str, str, Any, Any]], col_ids: Sequence[str]
) -> pa.Table:
    """The prediction rows of every window (version, experiment, start, end) as doubles of ``col_ids``,
    with ``_w``, the window's position (rows sorted by it)."""
    picks = ", ".join(f"{_as_double(c, 'p.')} AS {quote_ident(c)}" for c in col_ids)
    return wh.arrow(
        "WITH w AS (SELECT unnest(range(?)) AS _w, unnest(CAST(? AS VARCHAR[])) AS v, "
        "unnest(CAST(? AS VARCHAR[])) AS e, unnest(CAST(? AS TIMESTAMPTZ[])) AS ws, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS we) "
        f"SELECT w._w, {picks} FROM {raw_table(model_key, 'predictions')} p JOIN w ON p._version = w.v "
        "AND p._experiment = w.e AND p._ts >= w.ws AND p._ts < w.we ORDER BY w._w",
        [len(windows), *([w[j] for w in windows] for j in range(4))],
    )


def finite_values(
    wh: Warehouse, model_key: int, stream: str, where: str, params: list[Any], col_id: str
) -> npt.NDArray[np.float64]:
    """Finite values of ``col_id`` in the rows ``where`` selects."""
    x = _as_double(col_id)
    got = wh.arrow(
        f"SELECT {x} AS x FROM {raw_table(model_key, stream)} WHERE {where} AND isfinite({x})", params
    )
    values: npt.NDArray[np.float64] = (
        got.column("x").to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    )
    return values


def finite_values_in_bins(
    wh: Warehouse,
    model_key: int,
    stream: str,
    where: str,
    params: list[Any],
    col_id: str,
    edges: npt.NDArray[np.float64],
    bins: list[int],
) -> npt.NDArray[np.float64]:
    """Finite values of ``col_id`` in the rows ``where`` selects that fall in the given bins (bin edges
    ``edges``: 0 below edges[0], j in 1..k-1 is [e_{j-1}, e_j) (the last one closed), k above)."""
    x = _as_double(col_id)
    ranges, range_params = _bin_ranges(edges, bins, x)
    got = wh.arrow(
        f"SELECT {x} AS x FROM {raw_table(model_key, stream)} WHERE {where} AND isfinite({x}) AND ({ranges})",
        [*params, *range_params],
    )
    values: npt.NDArray[np.float64] = (
        got.column("x").to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    )
    return values


def _bin_ranges(edges: npt.NDArray[np.float64], bins: list[int], x: str) -> tuple[str, list[float]]:
    """SQL for "``x`` is in one of these bins" (consecutive bins merged), with its parameters."""
    e = edges
    k = e.size  # bins: 0 below e_0, j in 1..k-1 is [e_{j-1}, e_j) (the last one closed), k above
    runs: list[tuple[int, int]] = []
    for j in sorted(bins):
        if runs and runs[-1][1] == j - 1:
            runs[-1] = (runs[-1][0], j)
        else:
            runs.append((j, j))
    parts: list[str] = []
    params: list[float] = []
    for first, last in runs:
        conds = []
        if first > 0:
            conds.append(f"{x} >= ?" if first < k else f"{x} > ?")
            params.append(float(e[first - 1]) if first < k else float(e[-1]))
        if last < k:
            conds.append(f"{x} < ?" if last < k - 1 else f"{x} <= ?")
            params.append(float(e[last]) if last < k - 1 else float(e[-1]))
        parts.append(" AND ".join(conds) or "true")
    return " OR ".join(f"({p})" for p in parts), params
