"""No-drift thresholds are kept in the warehouse: a new job process reads them instead of resampling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.loading.profiling import load_reference
from duckwatch.metrics import drift_decision
from duckwatch.store.warehouse import Warehouse

DAY = datetime(2026, 5, 4, tzinfo=UTC)
ROWS = 1500


def _frame(rng: np.random.Generator, n: int, day: int | None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
            "score": rng.random(n),
        }
    )
    if day is not None:
        frame["ts"] = [DAY + timedelta(days=day, seconds=int(s)) for s in rng.integers(0, 86_400, n)]
    return frame


def _new_process() -> None:
    """What a fresh `duckwatch run` process starts with: no simulation in memory."""
    drift_decision._NULL_CACHE.clear()
    drift_decision._REF_DRAWS.clear()
    drift_decision._NEW.clear()


def _kept(data: DataDir) -> dict[str, tuple[float, datetime]]:
    wh = Warehouse(data)
    try:
        return {k: (v, t) for k, v, t in wh.rows("SELECT key, value, created_at FROM null_thresholds")}
    finally:
        wh.close()


def _thresholds(data: DataDir, day: int) -> dict[tuple[str, str], float]:
    """(column, metric) -> the no-drift threshold the window of ``day`` was judged with."""
    wh = Warehouse(data)
    try:
        rows = wh.rows(
            "SELECT col, metric, details FROM metric_results WHERE window_start = ? AND details LIKE '%null_threshold%'",
            [DAY + timedelta(days=day)],
        )
    finally:
        wh.close()
    return {(c, m): float(json.loads(d)["null_threshold"]) for c, m, d in rows}


def _tick(data: DataDir, day: int) -> None:
    _new_process()
    report = run_tick(data, now=DAY + timedelta(days=day + 1, hours=1), notify=False)
    assert report.errors == []


def test_kept_thresholds_equal_a_fresh_simulation_and_are_read_back(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    with Collector(data_dir.root) as col:
        col.declare("m", window="day", timestamp="ts", scores=["score"])
        col.log_reference("m", _frame(rng, 5000, None), scores="score")
        col.log_predictions("m", _frame(rng, ROWS, 0), timestamp="ts", scores="score")
    _tick(data_dir, 0)
    first = _thresholds(data_dir, 0)
    kept = _kept(data_dir)
    # income, region, score, two tests each: the two KS nulls are one simulation (both references have
    # equal-count bins and the KS null depends on the counts alone), so are the two tail_h nulls;
    # region's JS distance and L-infinity two more.
    assert len(first) == 6 and len(kept) == 4

    # Known answer: each kept value is what the simulation gives from scratch for that reference.
    _new_process()
    wh = Warehouse(data_dir)
    try:
        reference = load_reference(wh, "m")
    finally:
        wh.close()
    fresh = sorted(
        drift_decision.null_threshold(metric, p, ROWS)
        for p in reference.values()
        for metric in (
            ("ks", "tail_h") if isinstance(p, drift_decision.NumericProfile) else ("js_distance", "linf")
        )
    )
    assert fresh == sorted(first.values())
    assert sorted(v for v, _ in kept.values()) == sorted(set(fresh))

    # A new process with a window of the same size reads them: nothing is simulated or written again.
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _frame(rng, ROWS, 1), timestamp="ts", scores="score")
    _tick(data_dir, 1)
    assert _kept(data_dir) == kept
    assert _thresholds(data_dir, 1) == first

    # ... and uses what is kept (a tampered value shows up in the next window's decision).
    wh = Warehouse(data_dir)
    try:
        wh.execute("UPDATE null_thresholds SET value = 0.4321 WHERE value = ?", [first[("income", "ks")]])
    finally:
        wh.close()
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _frame(rng, ROWS, 2), timestamp="ts", scores="score")
    _tick(data_dir, 2)
    third = _thresholds(data_dir, 2)
    assert third[("income", "ks")] == third[("score", "ks")] == 0.4321
    assert third[("region", "js_distance")] == first[("region", "js_distance")]


def test_a_new_reference_drops_the_kept_thresholds(data_dir: DataDir, rng: np.random.Generator) -> None:
    with Collector(data_dir.root) as col:
        col.declare("m", window="day", timestamp="ts", scores=["score"])
        col.log_reference("m", _frame(rng, 5000, None), scores="score")
        col.log_predictions("m", _frame(rng, ROWS, 0), timestamp="ts", scores="score")
    _tick(data_dir, 0)
    before = _kept(data_dir)
    with Collector(data_dir.root) as col:
        col.log_reference("m", _frame(rng, 4000, None), scores="score", version="v2")
        col.log_predictions("m", _frame(rng, 2 * ROWS, 1), timestamp="ts", scores="score")
    _tick(data_dir, 1)
    after = _kept(data_dir)
    assert before and after and not set(before) & set(after)
    assert {t for _, t in after.values()} == {DAY + timedelta(days=2, hours=1)}
