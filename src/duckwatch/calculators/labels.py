"""Shared helpers for label-driven metrics: which labels count as positive, and the reference's stamp."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from duckwatch.store import reference_rows
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse

_POSITIVE_WORDS = ("1", "1.0", "true", "yes")
T = TypeVar("T")


def binary(values: pd.Series, positive: str) -> np.ndarray:
    """0/1 as floats with NaN for missing; the model's positive label (default '1') counts as 1."""
    fast = _binary_by_distinct(values, positive)
    return fast if fast is not None else _binary_text(values, positive)


def _binary_text(values: pd.Series, positive: str) -> np.ndarray:
    text = values.astype("string").str.strip().str.lower()
    known = text.notna().to_numpy()
    hit = text.isin(_positives(positive)).to_numpy(dtype=bool)
    return np.where(known, hit.astype(float), np.nan)


def _positives(positive: str) -> list[str]:
    """The label spellings that count as positive. The usual words for "positive" (1, true, yes)
    go together; a label the model named outside them (``"no"`` for a churn-prevention model,
    ``"bad"`` for a credit model) counts alone, so that "yes" is then a negative."""
    named = positive.strip().lower()
    if named in _POSITIVE_WORDS:
        return [named, *_POSITIVE_WORDS]
    try:  # a number also as float labels spell it: "0" matches 0.0
        number = float(named)
    except ValueError:
        return [named]
    return [named, str(number).lower(), *([str(int(number))] if number.is_integer() else [])]


def _binary_by_distinct(values: pd.Series, positive: str) -> np.ndarray | None:
    """`_binary_text` decided once per distinct value (numbers, booleans, all-missing columns).

    The text rule is applied element by element, so applying it to the distinct values and spreading
    the answers back is the same result, without formatting a million numbers as strings (~50x).
    None when the column is text-like (or holds -0.0, which the hashing would merge with 0.0).
    """
    dtype = values.dtype
    if dtype.kind == "O":
        if len(values) and values.isna().all():
            return np.full(len(values), np.nan)
        return None
    if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
        return None
    if pd.api.types.is_float_dtype(dtype):
        raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.signbit(raw[raw == 0.0]).any():
            return None
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    answers = _distinct_answers(str(dtype), tuple(uniques.tolist()), positive)
    # A missing value gets code -1: append NaN so that it indexes "missing".
    return np.asarray([*answers, np.nan], dtype=np.float64)[codes]


@functools.lru_cache(maxsize=1024)
def _distinct_answers(dtype: str, uniques: tuple[Any, ...], positive: str) -> tuple[float, ...]:
    """`_binary_text` of a few distinct values, kept: every window of a tick has the same ones (0 and 1),
    and the pandas string rule cost ~1 ms a call (2 s over a 720-window tick)."""
    return tuple(_binary_text(pd.Series(list(uniques), dtype=dtype), positive).tolist())


def reference_cache_key(wh: Warehouse, info: ModelInfo, columns: Sequence[ColumnInfo]) -> tuple[str, ...]:
    """Key for a per-process cache of something built from the model's reference data.

    A long-running job loop keeps such caches across ticks, so the key holds everything the cached
    value may depend on besides the reference rows (their stamp): the data dir, the model, its
    positive label and value matrix, and its column roles. A product manager who edits the value
    matrix, or renames the positive label, sees it at the next tick instead of after a restart.
    """
    settings = json.dumps(
        [info.positive_label, info.value_matrix, sorted((c.col_id, c.role) for c in columns)],
        sort_keys=True,
        default=str,
    )
    return (str(wh.data.root), info.model, str(reference_stamp(wh, info) or 0), settings)


def remember(cache: dict[tuple[str, ...], T], key: tuple[str, ...], value: T) -> T:
    """Store ``value`` under a `reference_cache_key`, dropping the model's older entries (a new
    reference or edited settings make them unreachable; a long-running loop would keep them all)."""
    for old in [k for k in cache if k[:2] == key[:2]]:
        del cache[old]
    cache[key] = value
    return value


def reference_stamp(wh: Warehouse, info: ModelInfo) -> int | None:
    """A number that changes whenever the model's reference data changes (None: no reference).

    Caches built from the reference (calibrator, per-segment rates, value baseline) key on it; the
    reference cannot change within a tick after ingestion, so it is read once per tick.
    """
    if not wh.has_table(info.model_key, "reference"):
        return None
    memo_key = ("reference_stamp", info.model)
    if memo_key not in wh.memo:
        wh.memo[memo_key] = reference_rows.reference_change_stamp(wh, info.model_key)
    return int(wh.memo[memo_key])
