"""Compute stage of a tick: profiles and metrics for new and dirty, closed windows."""

from __future__ import annotations

from datetime import datetime

from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse


def compute_model(
    wh: Warehouse, settings: Settings, info: catalog.ModelInfo, now: datetime, notify: bool
) -> int:
    """Compute metrics for the model's dirty, closed windows; return how many windows were computed."""
    return 0
