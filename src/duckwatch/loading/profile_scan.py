"""Profile raw rows column by column: bounded memory, one pass per chunk of columns, exact results."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from duckwatch.metrics.profile import (
    CategoricalProfile,
    CategoricalVocabulary,
    NumericBinning,
    NumericProfile,
    profile_category_counts,
    profile_numeric,
)
from duckwatch.store import scan_queries as q
from duckwatch.store.catalog import ColumnInfo, row_window_size
from duckwatch.store.warehouse import Warehouse

Profile = NumericProfile | CategoricalProfile
GroupKey = tuple[str, str, Any]
# Numbers held at once while profiling (columns x rows): ~32 MB of float64, so a 5M-row window is
# read one column at a time instead of as one table of every column (~1 GB).
CHUNK_CELLS = 4_000_000
# numpy releases the GIL in the sort, gather and reduce loops that dominate a column's profile, so
# columns are profiled side by side (each column's result is the same as profiled alone).
THREADS = min(4, os.cpu_count() or 1)


class _Categories:
    """A categorical column as dictionary codes (NULL = the last code) plus the dictionary."""

    def __init__(self, arr: pa.ChunkedArray) -> None:
        encoded = pc.dictionary_encode(arr.combine_chunks())
        self.names: list[str] = [str(v) for v in encoded.dictionary.to_pylist()]
        self.codes = np.asarray(
            pc.fill_null(encoded.indices, len(self.names)).to_numpy(zero_copy_only=False), dtype=np.int64
        )

    def counts(self, idx: np.ndarray | None = None) -> tuple[dict[str, int], int]:
        """Non-null rows per category, and NULL rows, of all rows or of the rows ``idx``."""
        codes = self.codes if idx is None else self.codes[idx]
        counts = np.bincount(codes, minlength=len(self.names) + 1)
        hit = np.flatnonzero(counts[:-1])
        return {self.names[i]: int(counts[i]) for i in hit}, int(counts[-1])


Column = tuple[np.ndarray, np.ndarray | None] | _Categories


def _numeric(arr: pa.ChunkedArray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 values (NaN at NULL positions, which are never read) and the NULL mask (None: no NULLs).

    One chunk without NULLs is used in place; otherwise the chunks are joined into ``out`` when it is
    long enough (a buffer reused across columns: fresh pages cost as much as the copy).
    """
    nulls = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    if arr.num_chunks == 1 and nulls is None:
        return np.asarray(arr.chunk(0).to_numpy(), dtype=np.float64), None
    parts = [np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.float64) for c in arr.chunks]
    if not parts:
        return np.empty(0, dtype=np.float64), nulls
    if out is not None and out.size >= len(arr):
        return np.concatenate(parts, out=out[: len(arr)]), nulls
    return np.concatenate(parts), nulls


def columns_frame(table: pa.Table, cols: Sequence[ColumnInfo]) -> dict[str, Column]:
    """Per column id: numeric (values, null mask) as numpy, NaN kept distinct from NULL; or categories."""
    out: dict[str, Column] = {}
    for col in cols:
        if col.col_id not in table.column_names:
            continue
        arr = table.column(col.col_id)
        out[col.col_id] = _numeric(arr) if col.dtype == "numeric" else _Categories(arr)
    return out


def profile_column(
    column: Column, ref: Profile | None, idx: np.ndarray | None = None, scratch: np.ndarray | None = None
) -> Profile:
    """Profile all rows (or rows ``idx``) of a column, against ``ref``'s bins (None: build them here)."""
    if isinstance(column, _Categories):
        counts, n_null = column.counts(idx)
        return _categorical(counts, n_null, ref)
    values, nulls = column
    if idx is not None:
        values = values[idx]
        nulls = nulls[idx] if nulls is not None else None
    if isinstance(ref, NumericProfile):
        binning = ref.binning
    else:
        binning = NumericBinning.from_reference(values if nulls is None else values[~nulls])
    return profile_numeric(values, binning, nulls, scratch=scratch)


def _categorical(counts: dict[str, int], n_null: int, ref: Profile | None) -> CategoricalProfile:
    vocab = (
        ref.vocabulary if isinstance(ref, CategoricalProfile) else CategoricalVocabulary.from_counts(counts)
    )
    return profile_category_counts(counts, vocab, n_null)


def group_rows(table: pa.Table) -> dict[GroupKey, np.ndarray | None]:
    """Row positions (ascending) per (version, experiment, window start), sorted by key; None = all rows.

    A row's group is a number in the mixed radix of the three columns' dictionary codes (a NULL is
    one more code). There are few groups (a backfill: one per day), so they are counted with a
    bincount and the rows put in group order by a radix sort of small integers, or not at all when
    they already come in window order, as time-ordered data does: a 5M-row backfill of 5 windows
    spent ~0.7 s per chunk of columns in np.unique and a 64-bit sort.
    """
    parts = [
        pc.dictionary_encode(table.column(name).combine_chunks())
        for name in ("_version", "_experiment", "ws")
    ]
    radix = [len(part.dictionary) + 1 for part in parts]
    codes = [
        np.asarray(pc.fill_null(p.indices, len(p.dictionary)).to_numpy(zero_copy_only=False), dtype=np.int64)
        for p in parts
    ]
    key = (codes[0] * radix[1] + codes[1]) * radix[2] + codes[2]
    span = radix[0] * radix[1] * radix[2]
    if span > 1 << 22:  # more groups than a counting pass suits: sort the keys
        uniq, inverse = np.unique(key, return_inverse=True)
        counts = np.bincount(inverse, minlength=len(uniq))
    else:
        counts_all = np.bincount(key, minlength=span)
        uniq = np.flatnonzero(counts_all)
        counts = counts_all[uniq]
        lut = np.zeros(span, dtype=np.int64)
        lut[uniq] = np.arange(len(uniq))
        inverse = lut[key]
    names = [[*part.dictionary.to_pylist(), None] for part in parts]
    digits = (uniq // (radix[1] * radix[2]), uniq // radix[2] % radix[1], uniq % radix[2])
    keys = [tuple(names[j][int(digits[j][i])] for j in range(3)) for i in range(len(uniq))]
    if len(uniq) == 1:
        return {} if None in keys[0] else {keys[0]: None}  # type: ignore[dict-item]
    if bool(np.all(inverse[1:] >= inverse[:-1])):
        order = np.arange(len(inverse))  # already in group order
    else:  # numpy sorts 8/16-bit integers stably by radix, in linear time
        small = np.uint8 if len(uniq) <= 1 << 8 else np.uint16 if len(uniq) <= 1 << 16 else np.int64
        order = np.argsort(inverse.astype(small), kind="stable")
    bounds = np.cumsum(counts)[:-1]
    # Like pandas' groupby: rows with a NULL key belong to no group.
    found = {k: idx for k, idx in zip(keys, np.split(order, bounds), strict=True) if None not in k}
    return dict(sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1], pd.Timestamp(kv[0][2]))))  # type: ignore[arg-type]


def window_key(key: GroupKey) -> GroupKey:
    """One spelling of a (version, experiment, window start) key, whichever time zone the start came back in."""
    ts = pd.Timestamp(key[2])
    return (key[0], key[1], ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC"))


def scan_profiles(
    wh: Warehouse,
    source: str,
    params: list[Any],
    cols: Sequence[ColumnInfo],
    reference: Callable[[ColumnInfo], Profile | None],
    window: str | None,
) -> dict[GroupKey | None, dict[str, Profile]]:
    """Profiles of the rows ``SELECT ... FROM {source}`` (a table plus its WHERE clause), per column id.

    With ``window`` (the model's window unit) they come per (version, experiment, window start),
    sorted by that key, rows with a NULL key in no group; without, under the key None. Exactly what
    profiling one table of every column gives: the same rows in the same (scan) order per group.
    Categorical columns are counted by DuckDB; numeric ones are read a chunk of columns at a time.
    """
    # Row-count windows: the source carries each row's window start as _ws (loading/windows_rows.py).
    keys_sql = q.group_keys(window)
    if window:
        found = _one_window(wh, source, params, window)
        if found is None:
            found = q.group_row_counts(wh, source, params, keys_sql)
        total = sum(int(r[3]) for r in found)
        valid = sorted(
            (window_key((r[0], r[1], r[2])) for r in found if None not in r[:3]),
            key=lambda k: (k[0], k[1], k[2]),
        )
        single = len(found) == 1 and len(valid) == 1
    else:
        total = q.count_rows(wh, source, params)
        valid, single = [], True
    if window and (total == 0 or not valid):
        return {}
    out: dict[GroupKey | None, dict[str, Profile]] = {k: {} for k in valid} if window else {None: {}}
    # With one group there is nothing to split: read the columns alone (no keys, no grouping).
    group_sql = keys_sql if window and not single else ""
    target: GroupKey | None = valid[0] if window and single else None
    numeric = [c for c in cols if c.dtype == "numeric"]
    # At least THREADS columns per chunk so that every thread has one; more while they fit.
    per_chunk = max(THREADS, CHUNK_CELLS // max(total, 1))
    chunks = [numeric[i : i + per_chunk] for i in range(0, len(numeric), per_chunk)]

    def fetch(chunk: list[ColumnInfo]) -> pa.Table:
        return q.read_columns(wh, source, params, group_sql, [_read_as(c) for c in chunk])

    def categories() -> list[tuple[Any, str, Profile]]:
        return [
            found
            for col in cols
            if col.dtype != "numeric"
            for found in _count_categories(wh, source, params, col, reference(col), group_sql, target, out)
        ]

    # DuckDB reads the next chunk (and, last, counts the categories) on one thread while numpy
    # profiles the current chunk on the others; the connection is never used by two at once.
    buffers = threading.local()  # per worker thread, dropped with the pool
    with ThreadPoolExecutor(max_workers=1) as reader, ThreadPoolExecutor(max_workers=THREADS) as pool:
        pending = reader.submit(fetch, chunks[0]) if chunks else None
        counted = reader.submit(categories) if not chunks else None
        for i, _chunk in enumerate(chunks):
            assert pending is not None
            table = pending.result()
            if i + 1 < len(chunks):
                pending = reader.submit(fetch, chunks[i + 1])
            else:
                counted = reader.submit(categories)
            _profile_chunk(table, chunks[i], group_sql, target, reference, pool, buffers, out)
            del table
        assert counted is not None
        for key, col_id, profile in counted.result():
            out[key][col_id] = profile
    return out


def _profile_chunk(
    table: pa.Table,
    chunk: list[ColumnInfo],
    group_sql: str,
    target: GroupKey | None,
    reference: Callable[[ColumnInfo], Profile | None],
    pool: ThreadPoolExecutor,
    buffers: threading.local,
    out: dict[GroupKey | None, dict[str, Profile]],
) -> None:
    """Profile the numeric columns of one fetched chunk, per group, a column per thread."""
    groups: dict[Any, np.ndarray | None] = (
        {window_key(k): idx for k, idx in group_rows(table).items()} if group_sql else {target: None}
    )

    def work(col: ColumnInfo) -> tuple[str, dict[Any, Profile]]:
        values, scratch = _buffers(buffers, table.num_rows)
        column = _numeric(table.column(col.col_id), values)
        ref = reference(col)
        return col.col_id, {key: profile_column(column, ref, idx, scratch) for key, idx in groups.items()}

    for col_id, profiles in pool.map(work, chunk):
        for key, profile in profiles.items():
            out[key][col_id] = profile


def _read_as(col: ColumnInfo) -> str:
    """SQL reading a column as it is analysed: a retyped column's stored values converted (catalog)."""
    if not col.stored_as:
        return col.col_id
    if col.dtype == "numeric":  # text read as numbers: what is not a number is missing
        return f"TRY_CAST({col.col_id} AS DOUBLE) AS {col.col_id}"
    # Numbers read as categories: whole numbers without a decimal part ('2019', not '2019.0').
    return (
        f"CASE WHEN {col.col_id} = trunc({col.col_id}) AND abs({col.col_id}) < 1e15 "
        f"THEN CAST(CAST({col.col_id} AS BIGINT) AS VARCHAR) ELSE CAST({col.col_id} AS VARCHAR) END"
    )


def _buffers(local: threading.local, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's two float64 buffers of at least ``rows`` values (values, and a temporary)."""
    found: tuple[np.ndarray, np.ndarray] | None = getattr(local, "buffers", None)
    if found is None or found[0].size < rows:
        found = (np.empty(rows, dtype=np.float64), np.empty(rows, dtype=np.float64))
        local.buffers = found
    return found


def _one_window(wh: Warehouse, source: str, params: list[Any], window: str) -> list[tuple[Any, ...]] | None:
    """[(version, experiment, window start, rows)] when all rows share one key, else None.

    Truncating each row's time costs ~0.2 s per million rows; the first and last times of the
    (version, experiment) tell the same when they fall in one window, since truncation is monotone.
    """
    if row_window_size(window):
        return None
    found = q.window_span_counts(wh, source, params, window)
    if len(found) != 1:
        return None
    v, e, first, last, rows, timed = found[0]
    if v is None or e is None or first is None or first != last or rows != timed:
        return None
    return [(v, e, first, rows)]


def _count_categories(
    wh: Warehouse,
    source: str,
    params: list[Any],
    col: ColumnInfo,
    ref: Profile | None,
    group_sql: str,
    target: GroupKey | None,
    out: dict[GroupKey | None, dict[str, Profile]],
) -> list[tuple[Any, str, Profile]]:
    """(group, column id, profile) of a categorical column for every group of ``out``, counted in
    SQL: no strings cross into Python."""
    found = q.category_counts(wh, source, params, group_sql, _read_as(col))
    counts: dict[Any, dict[str, int]] = {}
    nulls: dict[Any, int] = {}
    for row in found:
        if group_sql:
            if None in row[:3]:
                continue
            key: Any = window_key((row[0], row[1], row[2]))
        else:
            key = target
        value, n = row[-2], int(row[-1])
        if value is None:
            nulls[key] = nulls.get(key, 0) + n
        else:
            per = counts.setdefault(key, {})
            per[str(value)] = per.get(str(value), 0) + n
    return [(key, col.col_id, _categorical(counts.get(key, {}), nulls.get(key, 0), ref)) for key in out]
