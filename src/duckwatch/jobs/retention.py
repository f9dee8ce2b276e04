"""Retention: raw history is partitioned by month; old months can be dropped while summaries stay."""

from __future__ import annotations

import re

from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.jobs.lock import job_lock
from duckwatch.names import check_model_name
from duckwatch.store import catalog
from duckwatch.store.published import publish_model
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse, drop_months_before

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def drop_before(data: DataDir, model: str, month: str) -> int:
    """Delete the model's raw rows of every month before ``month`` (YYYY-MM); holds the job lock."""
    check_model_name(model)
    if not _MONTH.match(month):
        raise BadInputError(f"invalid month {month!r}: use YYYY-MM, e.g. 2026-01")
    info = catalog.get_model(Settings(data.settings), model)
    if info is None:
        raise BadInputError(f"unknown model {model!r}: see `duckwatch models`")
    with job_lock(data.locks):  # the warehouse has one owner: wait for no job, take its lock
        wh = Warehouse(data)
        try:
            rows = drop_months_before(wh, info.model_key, month)
            publish_model(wh, info.model, info.model_key)
        finally:
            wh.close()
    return rows
