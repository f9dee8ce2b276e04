"""Named queries on ``job_state``: the job's small key/value marks (profiled ticks, carried columns, ...)."""

from __future__ import annotations

from duckwatch.store.warehouse import Warehouse

__all__ = [
    "clear_publish_pending",
    "current_seq",
    "delete_value",
    "mark_publish_pending",
    "publish_pending",
    "read_value",
    "write_value",
]


def read_value(wh: Warehouse, key: str) -> str | None:
    """The value kept under ``key``, or None."""
    rows = wh.rows("SELECT value FROM job_state WHERE key = ?", [key])
    return str(rows[0][0]) if rows else None


def write_value(wh: Warehouse, key: str, value: str) -> None:
    """Keep ``value`` under ``key`` (replacing what was there)."""
    wh.execute("INSERT OR REPLACE INTO job_state VALUES (?, ?)", [key, value])


def delete_value(wh: Warehouse, key: str) -> None:
    """Forget what is kept under ``key`` (nothing if nothing is)."""
    wh.execute("DELETE FROM job_state WHERE key = ?", [key])


def current_seq(wh: Warehouse) -> int:
    """The tick's ingestion sequence number (0 before the first tick)."""
    rows = wh.rows("SELECT value FROM job_state WHERE key = 'seq'")
    return int(rows[0][0]) if rows else 0


def _publish_key(model: str) -> str:
    return f"publish_pending:{model}"


def mark_publish_pending(wh: Warehouse, model: str) -> None:
    """The model's results changed: publish it (kept until a publish succeeds, across ticks)."""
    wh.execute("INSERT OR REPLACE INTO job_state VALUES (?, '1')", [_publish_key(model)])


def publish_pending(wh: Warehouse, model: str) -> bool:
    """True while the model has results not yet published."""
    return bool(wh.rows("SELECT 1 FROM job_state WHERE key = ?", [_publish_key(model)]))


def clear_publish_pending(wh: Warehouse, model: str) -> None:
    """The model was published."""
    wh.execute("DELETE FROM job_state WHERE key = ?", [_publish_key(model)])
