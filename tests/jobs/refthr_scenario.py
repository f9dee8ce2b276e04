"""A binary model with a labelled reference, logged through the SDK and judged by real ticks.

The population: x ~ N(0, spread), P(y=1 | x) = sigmoid(1.5 x - 1), and the model's score is exactly that
probability (calibrated on the reference). Two ways to make it worse:
- ``label_beta`` < 1.5: labels follow x more loosely than the model believes (the concept moved; the
  scores do not show it, so only realised performance can);
- ``spread`` < 1: inputs crowd where the model separates poorly (an input shift; P(y | x) is unchanged,
  so the scores show it and the estimate follows).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.metrics.performance import compute_classification
from duckwatch.metrics.reference_band import metric_bands
from duckwatch.store.incidents import list_alerts
from duckwatch.store.published import query
from duckwatch.store.settings import Settings

BETA, BIAS = 1.5, -1.0
T0 = datetime(2026, 1, 5, tzinfo=UTC)
WINDOW_ROWS = 2000
REFERENCE_ROWS = 20_000  # ten windows' worth: the reference's own noise adds ~5% to a window's spread


def _sigmoid(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-v))
    return out


def draw(rng: np.random.Generator, n: int, *, spread: float = 1.0, label_beta: float = BETA) -> pd.DataFrame:
    """``n`` rows: the input, the model's score and decision, and the label."""
    x = rng.normal(0.0, spread, n)
    score = _sigmoid(BETA * x + BIAS)
    label = (rng.random(n) < _sigmoid(label_beta * x + BIAS)).astype(int)
    return pd.DataFrame({"x": x, "score": score, "prediction": (score >= 0.5).astype(int), "label": label})


def true_auc(*, spread: float = 1.0, label_beta: float = BETA, rows: int = 200_000) -> float:
    """The population's ROC AUC (one big seeded sample)."""
    df = draw(np.random.default_rng(7), rows, spread=spread, label_beta=label_beta)
    return float(compute_classification(df["label"], df["score"], df["prediction"])["roc_auc"].value)


def auc_se(rows: int) -> float:
    """Standard error of a healthy window's ROC AUC at ``rows`` rows (DeLong on a big sample)."""
    df = draw(np.random.default_rng(8), 200_000)
    band = metric_bands(compute_classification(df["label"], df["score"], df["prediction"]))["roc_auc"]
    return band.unit_se / float(np.sqrt(rows))


def solve(target: float, knob: str) -> float:
    """The ``spread`` or ``label_beta`` whose population AUC is ``target`` (bisection; AUC rises with both)."""
    lo, hi = (0.05, 1.0) if knob == "spread" else (0.0, BETA)
    for _ in range(18):
        mid = (lo + hi) / 2
        if true_auc(**{knob: mid}) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def window(i: int) -> datetime:
    return T0 + timedelta(hours=i)


def log_model(
    data: DataDir,
    rng: np.random.Generator,
    windows: list[dict[str, Any]],
    *,
    model: str = "m",
    reference_labels: bool = True,
) -> None:
    """Declare the model, log its reference (with its labels, or without) and one hourly window per
    entry of ``windows`` (the keyword arguments of `draw`), each with its labels."""
    preds, outs = [], []
    for i, kw in enumerate(windows):
        df = draw(rng, WINDOW_ROWS, **kw)
        ids = [f"w{i}r{j}" for j in range(WINDOW_ROWS)]
        ts = pd.date_range(window(i), periods=WINDOW_ROWS, freq="1700ms", tz="UTC")
        preds.append(df[["x", "score", "prediction"]].assign(request_id=ids, ts=ts))
        outs.append(pd.DataFrame({"request_id": ids, "label": df["label"]}))
    with Collector(data.root) as c:
        c.declare(model, task="binary", window="hour", label_horizon_hours=1)
        reference = draw(rng, REFERENCE_ROWS)
        c.log_reference(model, reference if reference_labels else reference.drop(columns="label"))
        c.log_predictions(model, pd.concat(preds, ignore_index=True))
        c.log_outcomes(model, pd.concat(outs, ignore_index=True))


def tick(data: DataDir, windows: int) -> None:
    """One tick, late enough that every window is closed and its labels final."""
    run_tick(data, now=window(windows) + timedelta(hours=3), notify=False)


def alerts_of(data: DataDir, metric: str, model: str = "m") -> list[dict[str, Any]]:
    """Every alert of ``metric``, oldest window first."""
    found = [a for a in list_alerts(Settings(data.settings), model) if a["metric"] == metric]
    return sorted(found, key=lambda a: str(a["window_start"]))


def first_alert_window(data: DataDir, metric: str) -> int | None:
    """Index of the first breaching window of ``metric``'s alerts (None: it never alerted)."""
    found = alerts_of(data, metric)
    if not found:
        return None
    start = min(datetime.fromisoformat(str(a["since"])) for a in found)
    return int((start - T0).total_seconds() // 3600)


def judged_rows(data: DataDir, model: str = "m") -> pd.DataFrame:
    """The whole-window performance and estimate rows, with their status."""
    return query(
        data,
        model,
        "SELECT family, metric, window_start, value, n, status, threshold, details FROM metric_results "
        "WHERE family IN ('performance', 'estimate') AND segment = '' AND col = '' ORDER BY window_start",
    )
