"""An existing data dir upgrades in place: settings, thresholds, incidents and audit kept, every window
computed again by the new engine, and nobody notified of what the recomputation finds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from duckwatch.calculators.base import ENGINE_VERSION
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store import alert_state, alerting, incidents, job_state
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse
from tests.jobs.three_days import three_days

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 1, tzinfo=UTC)


def _data(root: Path, rng: np.random.Generator) -> DataDir:
    return three_days(root, rng, 900, labelled_reference=False)[0]


def _results(data: DataDir) -> pd.DataFrame:
    wh = Warehouse(data)
    try:
        return wh.arrow(
            "SELECT window_start, metric, col, value, computed_at FROM metric_results"
        ).to_pandas()
    finally:
        wh.close()


def _audit_rows(settings: Settings) -> list[dict[str, object]]:
    return settings.query("SELECT * FROM audit ORDER BY id")


def _pretend_older_engine(data: DataDir) -> None:
    wh = Warehouse(data)
    try:
        assert job_state.read_value(wh, "engine_version:m") == str(ENGINE_VERSION)
        job_state.write_value(wh, "engine_version:m", str(ENGINE_VERSION - 1))
    finally:
        wh.close()


def test_an_older_engines_history_is_recomputed_quietly_and_settings_stay(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    data = _data(tmp_path / "d", rng)
    assert run_tick(data, now=NOW, notify=False).windows_computed == 3
    before = _results(data)
    settings = Settings(data.settings)
    # A person's rule that the stored history breaks: only a recomputation of those windows can see it.
    alerting.create_threshold(
        settings, actor="ana", role="editor", reason="no fewer than 10,000 a day", model="m",
        metric="row_count", kind="absolute", direction="below", warning=20_000.0, critical=10_000.0,
    )  # fmt: skip
    audit_before = _audit_rows(settings)
    rules_before = alerting.list_thresholds(settings, "m")
    assert run_tick(data, now=NOW).windows_computed == 0  # same engine: nothing to do

    _pretend_older_engine(data)
    report = run_tick(data, now=LATER)  # notifications on, as `duckwatch run` has them
    assert report.errors == [] and report.windows_computed == 3
    after = _results(data)
    assert (after["computed_at"] > before["computed_at"].max()).all()  # every row computed again
    merged = before.merge(after, on=["window_start", "metric", "col"], suffixes=("_a", "_b"))
    assert len(merged) == len(before) == len(after)
    assert np.allclose(merged["value_a"], merged["value_b"], equal_nan=True)
    assert alerting.list_thresholds(settings, "m") == rules_before
    assert _audit_rows(settings)[: len(audit_before)] == audit_before  # kept; the job only appends
    opened = incidents.list_alerts(settings, "m")
    assert opened, "the recomputed windows breach the new rule"
    assert alert_state.outbox(settings) == []  # ...and nobody was paged for history
    # Done: the next breach notifies again.
    wh = Warehouse(data)
    try:
        assert job_state.read_value(wh, "recomputing_history:m") is None
    finally:
        wh.close()
