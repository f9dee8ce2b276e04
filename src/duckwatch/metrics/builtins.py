"""The modules whose import registers the built-in metrics (``registry.load_builtins`` imports this).

Built-ins register exactly as a user's metric does: through ``registry.register``/``metric`` when
their module is imported. Plain imports, so the layering test can see every one of them.
"""

from __future__ import annotations

from duckwatch.metrics import drift, estimate, fairness, performance, quality

__all__ = ["MODULES"]

MODULES = (drift, quality, performance, estimate, fairness)
