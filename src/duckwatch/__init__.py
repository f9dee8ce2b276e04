"""duckwatch: local, single-node monitoring for machine-learning models in production."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Collector", "__version__"]

if TYPE_CHECKING:
    from duckwatch.collector.sdk import Collector


def __getattr__(name: str) -> Any:
    # Lazy so that `import duckwatch` stays cheap and runs nothing (no duckdb import at import time).
    if name == "Collector":
        from duckwatch.collector.sdk import Collector

        return Collector
    raise AttributeError(name)
