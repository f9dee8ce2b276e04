"""Duplicate-id share per window: predictions set aside because their id repeated, by event time."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from duckwatch.metrics import quality
from duckwatch.store import catalog
from duckwatch.store.duplicates import count_between, duplicate_times
from duckwatch.store.warehouse import Warehouse


def duplicate_id_rows(
    wh: Warehouse,
    info: catalog.ModelInfo,
    columns: Sequence[catalog.ColumnInfo],
    window: tuple[str, str, datetime, datetime],
    stored: int,
) -> list[dict[str, Any]]:
    """One quality row: duplicates / (``stored`` rows of the window + duplicates); none without an id column.

    ``stored`` is the window's stored prediction rows (its row count). Duplicates count by their event
    time; rows quarantined before the time was recorded (``quarantine.ts`` NULL) are left out.
    """
    id_col = next((c for c in columns if c.role == "id"), None)
    if id_col is None:
        return []
    version, experiment, ws, we = window
    dups = count_between(duplicate_times(wh, info.model).get((version, experiment)), ws, we)
    q = quality.duplicate_id_share(dups, stored)
    if math.isnan(q.value):
        return []
    return [
        {"family": "quality", "metric": q.metric, "col": id_col.name, "value": q.value, "exact": True,
         "threshold": q.threshold if q.threshold is not None else math.nan,
         "status": quality.duplicate_id_status(q.value), "n": stored + dups, "method": "count",
         "details": json.dumps({"duplicates": dups, "stored": stored, "detail": q.detail})}
    ]  # fmt: skip
