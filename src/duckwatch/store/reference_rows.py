"""Named queries on a model's raw reference rows (calibrator, label drift, segment and value baselines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from duckwatch.store.warehouse import Warehouse, raw_table

__all__ = [
    "latest_columns",
    "latest_label_counts",
    "latest_numeric_labels",
    "reference_change_stamp",
    "reference_columns",
    "reference_scores_and_labels",
]


def _table(model_key: int) -> str:
    return raw_table(model_key, "reference")


def reference_columns(wh: Warehouse, model_key: int, col_ids: Sequence[str]) -> pa.Table:
    """The columns ``col_ids`` of every reference row."""
    return wh.arrow(f"SELECT {', '.join(col_ids)} FROM {_table(model_key)}")


def reference_scores_and_labels(wh: Warehouse, model_key: int, score_id: str, label_id: str) -> pa.Table:
    """Every reference row's score (``s``) and label (``y``)."""
    return wh.arrow(f"SELECT {score_id} AS s, {label_id} AS y FROM {_table(model_key)}")


def reference_change_stamp(wh: Warehouse, model_key: int) -> int:
    """A number that changes whenever the reference rows change (rows plus the latest tick)."""
    return int(wh.rows(f"SELECT count(*) + coalesce(max(_seq), 0) FROM {_table(model_key)}")[0][0])


def _latest(model_key: int) -> str:
    # The rows build_reference (loading/profiling.py) profiles: the latest reference version.
    return f"_version = (SELECT _version FROM {_table(model_key)} ORDER BY _received_at DESC LIMIT 1)"


def latest_columns(wh: Warehouse, model_key: int, col_ids: Sequence[str]) -> pa.Table:
    """The columns ``col_ids`` of the latest reference version's rows."""
    return wh.arrow(f"SELECT {', '.join(col_ids)} FROM {_table(model_key)} WHERE {_latest(model_key)}")


def latest_numeric_labels(wh: Warehouse, model_key: int, label_id: str) -> pa.Table:
    """The non-null labels (as doubles, ``v``) of the latest reference version."""
    ref, lab = _table(model_key), label_id
    return wh.arrow(
        f"SELECT TRY_CAST({lab} AS DOUBLE) AS v FROM {ref} WHERE {_latest(model_key)} AND {lab} IS NOT NULL"
    )


def latest_label_counts(wh: Warehouse, model_key: int, label_id: str) -> list[tuple[Any, ...]]:
    """(label, rows) of the latest reference version, NULL labels included."""
    ref, lab = _table(model_key), label_id
    return wh.rows(f"SELECT {lab} AS v, count(*) AS n FROM {ref} WHERE {_latest(model_key)} GROUP BY {lab}")
