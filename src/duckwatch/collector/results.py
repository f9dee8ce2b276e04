"""What the collector reports: per-call results and per-process counters."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CollectorStats", "LogResult"]


@dataclass
class CollectorStats:
    """Counters a model server can export: nothing is dropped silently."""

    accepted: int = 0
    landed: int = 0
    quarantined: int = 0
    refused: int = 0
    flush_errors: int = 0
    last_error: str = ""


@dataclass
class LogResult:
    """What happened to one call's rows (bulk calls land at once; one-row calls are buffered)."""

    accepted: int
    landed: int = 0
    quarantined: int = 0
    buffered: int = 0
    reasons: list[str] = field(default_factory=list)
    replayed: bool = False  # the same batch with the same idempotency key was acknowledged before
