"""Named queries on the ledger of profile files merged from elsewhere (a Spark pass): migration 0020.

A window whose ledger holds rows has rows the warehouse never saw: its profiles and row count include
them, its raw rows do not (calculators that need rows say so for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.store.warehouse import Warehouse

__all__ = ["forget", "record", "rows_elsewhere", "seen_hashes", "seen_sources"]

LedgerRow = tuple[str, str, str, str, datetime, str, int, str]  # hash, source, v, e, start, seg, rows, name


def seen_hashes(wh: Warehouse, model: str, hashes: Sequence[str]) -> set[str]:
    """The content hashes among ``hashes`` already merged for ``model``."""
    if not hashes:
        return set()
    found = wh.rows(
        "SELECT file_hash FROM profile_files WHERE model = ? AND list_contains(?, file_hash)",
        [model, list(hashes)],
    )
    return {str(r[0]) for r in found}


def seen_sources(wh: Warehouse, model: str) -> dict[tuple[str, str, str, Any, str], str]:
    """(source, version, experiment, window start in UTC, segment) -> file name, of every merged file."""
    rows = wh.rows(
        "SELECT source, version, experiment, window_start, segment, file_name FROM profile_files "
        "WHERE model = ?",
        [model],
    )
    return {(str(s), str(v), str(e), _utc(ws), str(g)): str(n) for s, v, e, ws, g, n in rows}


def record(wh: Warehouse, model: str, rows: Sequence[LedgerRow], now: datetime) -> None:
    """Remember merged files (inside the transaction that merged their profiles)."""
    for file_hash, source, v, e, ws, segment, n, name in rows:
        wh.execute(
            "INSERT INTO profile_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [model, file_hash, source, v, e, ws, segment, int(n), name, now],
        )


def rows_elsewhere(wh: Warehouse, model: str, windows: Sequence[Sequence[Any]]) -> dict[Any, int]:
    """Rows merged from profile files per window (version, experiment, start in UTC) of ``windows``
    (version, experiment, start, ...); windows without any are left out."""
    if not windows:
        return {}
    found = wh.rows(
        "SELECT f.version, f.experiment, f.window_start, sum(f.rows) FROM profile_files f, "
        "(SELECT unnest(CAST(? AS VARCHAR[])) AS v, unnest(CAST(? AS VARCHAR[])) AS e, "
        "unnest(CAST(? AS TIMESTAMPTZ[])) AS ws) w WHERE f.model = ? AND f.segment = '' "
        "AND f.version = w.v AND f.experiment = w.e AND f.window_start = w.ws GROUP BY ALL",
        [[w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows], model],
    )
    return {(str(v), str(e), _utc(ws)): int(n) for v, e, ws, n in found if int(n) > 0}


def forget(wh: Warehouse, model: str) -> None:
    """Forget the model's merged files: their profiles were dropped (a new reference rebuilds them)."""
    wh.execute("DELETE FROM profile_files WHERE model = ?", [model])


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
