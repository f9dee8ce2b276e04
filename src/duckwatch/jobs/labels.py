"""Shared helpers for label-driven metrics: which labels count as positive, and the reference's stamp."""

from __future__ import annotations

import numpy as np
import pandas as pd

from duckwatch.store.catalog import ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

_POSITIVE_WORDS = ("1", "1.0", "true", "yes")


def binary(values: pd.Series, positive: str) -> np.ndarray:
    """0/1 as floats with NaN for missing; the model's positive label (default '1') counts as 1."""
    text = values.astype("string").str.strip().str.lower()
    known = text.notna().to_numpy()
    hit = text.isin([positive.lower(), *_POSITIVE_WORDS]).to_numpy(dtype=bool)
    return np.where(known, hit.astype(float), np.nan)


def reference_stamp(wh: Warehouse, info: ModelInfo) -> int | None:
    """A number that changes whenever the model's reference data changes (None: no reference).

    Caches built from the reference (calibrator, per-segment rates, value baseline) key on it; the
    reference cannot change within a tick after ingestion, so it is read once per tick.
    """
    if not wh.has_table(info.model_key, "reference"):
        return None
    memo_key = ("reference_stamp", info.model)
    if memo_key not in wh.memo:
        table = raw_table(info.model_key, "reference")
        wh.memo[memo_key] = int(wh.rows(f"SELECT count(*) + coalesce(max(_seq), 0) FROM {table}")[0][0])
    return int(wh.memo[memo_key])
