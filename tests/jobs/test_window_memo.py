"""Dependency-aware recomputation: labels that change recompute only what reads labels."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.calculators import drift_rows
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.store import window_memo
from duckwatch.store.warehouse import Warehouse
from tests.conftest import make_predictions

NOW = datetime(2026, 2, 1, tzinfo=UTC)
LATER = datetime(2026, 2, 2, tzinfo=UTC)


def _build(root: Path, rng: np.random.Generator) -> tuple[DataDir, pd.DataFrame]:
    data = DataDir(root).ensure()
    with Collector(data.root) as c:
        c.declare("m", window="day", label_horizon_hours=24 * 60)
        ref = make_predictions(rng, 3000, start="2025-12-01", prefix="ref")
        ref["label"] = (rng.random(len(ref)) < ref["score"]).astype(int)
        c.log_reference("m", ref, id="request_id", timestamp="ts")
        pred = make_predictions(rng, 6000, start="2026-01-01", freq="1min", prefix="p")
        pred.loc[pred["ts"] >= pd.Timestamp("2026-01-03", tz="UTC"), "income"] *= 2.0  # drift to decide
        c.log_predictions("m", pred, id="request_id", timestamp="ts")
        labels = pd.DataFrame(
            {"request_id": pred["request_id"], "label": (rng.random(len(pred)) < pred["score"]).astype(int)}
        )
        c.log_outcomes("m", labels.sample(frac=0.7, random_state=1), id="request_id")
    assert run_tick(data, now=NOW, notify=False).errors == []
    return data, labels


def _correct(data: DataDir, labels: pd.DataFrame, rng: np.random.Generator) -> None:
    fix = labels.sample(n=300, random_state=2).assign(label=lambda f: 1 - f["label"])
    with Collector(data.root) as c:
        c.log_outcomes("m", fix, id="request_id")


def _results(data: DataDir) -> pd.DataFrame:
    frame = export_frame(data, "metrics", "m").drop(columns=["computed_at"], errors="ignore")
    keys = ["window_start", "family", "metric", "column", "segment"]
    return frame.sort_values(keys).reset_index(drop=True)


def _forget(data: DataDir) -> None:
    wh = Warehouse(data)
    try:
        window_memo.forget(wh, "m")
    finally:
        wh.close()


def test_label_only_ticks_equal_full_recomputation_and_skip_drift(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, labels = _build(tmp_path / "a" / "data", rng)
    _correct(data, labels, rng)
    full = DataDir(tmp_path / "b" / "data")
    shutil.copytree(data.root, full.root)
    _forget(full)  # as if the window had never been computed label-free: everything again

    drift_calls: list[object] = []
    real = drift_rows.drift_and_quality_rows_many

    def counted(*args: object, **kwargs: object) -> object:
        drift_calls.extend(args[1])  # type: ignore[call-overload]  # one profile dict per window
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(drift_rows, "drift_and_quality_rows_many", counted)
    report = run_tick(data, now=LATER, notify=False)
    assert report.errors == [] and report.windows_computed > 0
    assert drift_calls == []  # labels changed, inputs did not: no drift or quality recomputed
    report_full = run_tick(full, now=LATER, notify=False)
    assert report_full.windows_computed == report.windows_computed
    assert len(drift_calls) == report.windows_computed
    a, b = _results(data), _results(full)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=0)
    # Performance did change: the corrections count.
    assert (a["family"] == "performance").any()


def test_changed_settings_are_not_served_from_kept_rows(tmp_path: Path, rng: np.random.Generator) -> None:
    """Labels alone changed, but the model's settings did too: the digest sends the window to a full run."""
    data, labels = _build(tmp_path / "data", rng)
    assert not _results(data)["metric"].str.endswith("_vs_previous").any()
    with Collector(data.root) as c:
        c.declare("m", meta={"compare_previous_window": True})
    _correct(data, labels, rng)
    assert run_tick(data, now=LATER, notify=False).errors == []
    after = _results(data)
    recomputed = after[after["family"] == "performance"]["window_start"].unique()
    compared = after[after["metric"].str.endswith("_vs_previous")]["window_start"].unique()
    assert len(compared) > 0 and set(compared) <= set(recomputed)
