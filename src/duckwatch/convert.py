"""Turn whatever a caller passes (dict, list of dicts, pandas, Arrow) into an Arrow table, losing nothing."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from duckwatch.errors import BadInputError


def _nested(arrow_type: pa.DataType) -> bool:
    """Structs, maps and lists of them: stored as JSON text (their field names may collide in SQL)."""
    if pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _nested(arrow_type.value_type)
    return False


def _as_json(values: Sequence[Any]) -> pa.Array:
    return pa.array(
        [
            None if v is None else json.dumps(v, default=str, ensure_ascii=False, sort_keys=True)
            for v in values
        ],
        pa.string(),
    )


def _loose_array(values: Sequence[Any], nan_is_null: bool = False) -> pa.Array:
    """A column Arrow cannot type (mixed str/float, odd objects) is kept as text; validation decides."""
    try:
        # Rows keep NaN apart from a missing value (a NaN score is a model bug, a missing one is not);
        # pandas input follows pandas, where NaN means missing.
        arr = pa.array(values, from_pandas=nan_is_null)
        return _as_json(values) if _nested(arr.type) else arr
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        out: list[str | None] = []
        for v in values:
            if v is None or (nan_is_null and isinstance(v, float) and math.isnan(v)):
                out.append(None)
            else:
                out.append(str(v))
        return pa.array(out, pa.string())


def _from_columns(columns: Mapping[str, Sequence[Any]], nan_is_null: bool = False) -> pa.Table:
    arrays = [_loose_array(v if isinstance(v, list) else list(v), nan_is_null) for v in columns.values()]
    return pa.Table.from_arrays(arrays, names=[str(k) for k in columns])


def to_arrow(data: Any) -> pa.Table:
    """Accept one row (a mapping), rows (a sequence of mappings), a pandas DataFrame or an Arrow table."""
    if isinstance(data, pa.Table):
        return _flatten_nested(data)
    if isinstance(data, pa.RecordBatch):
        return _flatten_nested(pa.Table.from_batches([data]))
    if _is_pandas_frame(data):
        frame = data.reset_index(drop=True)
        try:
            table = _flatten_nested(pa.Table.from_pandas(frame, preserve_index=False))
            # Non-string column names (ints) are allowed in pandas; Arrow names are strings.
            return table.rename_columns([str(c) for c in frame.columns])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return _from_columns(
                {str(c): frame.iloc[:, i].tolist() for i, c in enumerate(frame.columns)}, nan_is_null=True
            )
    if isinstance(data, Mapping):
        return rows_to_arrow([data])
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        if not all(isinstance(r, Mapping) for r in data):
            raise BadInputError(
                "rows must be mappings of column name to value, e.g. [{'id': 'a1', 'score': 0.3}], "
                "or pass a pandas DataFrame or an Arrow table"
            )
        return rows_to_arrow(list(data))
    raise BadInputError(
        f"cannot log data of type {type(data).__name__}: pass a dict (one row), a list of dicts, "
        "a pandas DataFrame or a pyarrow Table"
    )


def _is_pandas_frame(data: Any) -> bool:
    """True for a pandas DataFrame, without importing pandas (~0.5 s) for callers that never use it."""
    pd = sys.modules.get("pandas")  # a DataFrame cannot exist before pandas is imported
    # While another thread is importing pandas the module is there without DataFrame yet.
    frame = getattr(pd, "DataFrame", None)
    return frame is not None and isinstance(data, frame)


def rows_to_arrow(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (possibly with different keys) to a table; missing keys become nulls."""
    if rows:
        first = rows[0].keys()
        # Common case (buffered one-row calls): every row has the same string keys; build columns directly.
        if all(type(k) is str for k in first) and all(r.keys() == first for r in rows):
            return _from_columns({k: [r[k] for r in rows] for k in first})
    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            name = str(key)
            if name not in columns:
                columns[name] = [None] * len(rows)
            columns[name][i] = value
    return _from_columns(columns)


def _flatten_nested(table: pa.Table) -> pa.Table:
    """Nested columns of an Arrow/pandas input become JSON text, like those of row input."""
    for i, field in enumerate(table.schema):
        if _nested(field.type):
            table = table.set_column(i, field.name, _as_json(table.column(i).to_pylist()))
    return table
