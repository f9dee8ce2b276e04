"""A provisional window's classification metrics, kept until its label horizon passes.

Every window is computed at least twice: when it closes, and again when its label horizon passes
(jobs/tick.py `_mark_matured`), when its results stop being provisional. Most of the time no label
arrived in between, and the intervals (a bootstrap: ~0.2 s for a 100k-row window) would come out
the same. So the metrics are kept in ``job_state`` with a digest of exactly what they were
computed from (labels, scores, predictions, code version) and served again while the digest
matches: the same numbers, bit for bit, since the computation is seeded. A late label changes the
digest, and the window is computed afresh. Entries live only while a window is provisional: the
computation after the horizon reads the entry, if it still matches, and drops it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from duckwatch import __version__
from duckwatch.metrics.performance import MetricValue, compute_classification
from duckwatch.store.warehouse import Warehouse

# Bump when compute_classification's results change for the same inputs.
MEMO_VERSION = 2  # 2: analytic intervals for F1, log loss and Brier


def _digest(arrays: list[NDArray[Any] | None]) -> str:
    h = hashlib.blake2b(f"{__version__}/{MEMO_VERSION}".encode(), digest_size=16)
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        c = np.ascontiguousarray(a)
        h.update(f"{c.dtype.str}{c.shape}".encode())
        h.update(c.tobytes())
    return h.hexdigest()


def _prefix(model: str) -> str:
    return f"classification:{model}\x1f"


def forget(wh: Warehouse, model: str) -> None:
    """Drop the model's kept metrics (raw rows deleted by retention: their windows will not mature)."""
    wh.execute("DELETE FROM job_state WHERE starts_with(key, ?)", [_prefix(model)])


def classification(
    wh: Warehouse,
    window: tuple[str, str, str, Any],
    y_true: NDArray[np.float64],
    score: NDArray[np.float64] | None,
    pred: NDArray[np.float64] | None,
    final: bool,
) -> dict[str, MetricValue]:
    """`compute_classification(y_true, score, pred)`, served from the last computation of this
    window (model, version, experiment, start) when its inputs are the same. ``final``: the label
    horizon has passed, so the entry is not kept for later."""
    model, version, experiment, start = window
    key = f"{_prefix(model)}{version}\x1f{experiment}\x1f{start.isoformat()}"
    digest = _digest([y_true, score, pred])
    stored = wh.rows("SELECT value FROM job_state WHERE key = ?", [key])
    found: dict[str, Any] = json.loads(stored[0][0]) if stored else {}
    same = found.get("digest") == digest
    if same:
        metrics = {name: MetricValue(**fields) for name, fields in found["metrics"].items()}
    else:
        metrics = compute_classification(y_true, score, pred)
    if final:
        if stored:
            wh.execute("DELETE FROM job_state WHERE key = ?", [key])
    elif not same:
        entry = {"digest": digest, "metrics": {name: asdict(m) for name, m in metrics.items()}}
        wh.execute("INSERT OR REPLACE INTO job_state VALUES (?, ?)", [key, json.dumps(entry)])
    return metrics
