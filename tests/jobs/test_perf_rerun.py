"""A window's classification metrics are the same, bit for bit, however often and in whichever ticks it is
computed; a late label gives what a fresh computation with that label gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.store.settings import Settings

DAY = datetime(2026, 5, 4, tzinfo=UTC)
OPEN = DAY + timedelta(days=1, hours=1)  # the window closed, its 24 h label horizon not yet passed
MATURED = DAY + timedelta(days=3)


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-x))
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "ts": [DAY + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)],
            "x": x,
            "score": score,
            "label": (rng.random(n) < score).astype(int),
        }
    )


def _dir(root: Path, name: str, frame: pd.DataFrame) -> DataDir:
    data = DataDir(root / name).ensure()
    Settings(data.settings).schema_version()
    with Collector(data.root) as c:
        c.declare("m", task="binary", label_horizon_hours=24)
        c.log_predictions("m", frame, timestamp="ts", id="request_id", scores="score", label="label")
    return data


def _performance(data: DataDir) -> pd.DataFrame:
    rows = export_frame(data, "metrics", "m")
    keep = rows[rows["family"] == "performance"].drop(columns=["computed_at"], errors="ignore")
    return keep.sort_values(["metric", "column", "segment"]).reset_index(drop=True)


def test_a_matured_window_without_new_labels_keeps_its_numbers(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    frame = _frame(rng, 30_000)
    twice = _dir(tmp_path, "twice", frame)
    run_tick(twice, now=OPEN, notify=False)
    first = _performance(twice)
    assert first["provisional"].all() and first["metric"].isin(["ece", "roc_auc"]).sum() == 2
    run_tick(twice, now=MATURED, notify=False)
    once = _dir(tmp_path, "once", frame)
    run_tick(once, now=MATURED, notify=False)  # computed once, final at once
    got, want = _performance(twice), _performance(once)
    assert not got["provisional"].any()
    pd.testing.assert_frame_equal(got, want)
    # Bit for bit the provisional numbers, only no longer provisional.
    pd.testing.assert_frame_equal(got.drop(columns="provisional"), first.drop(columns="provisional"))


def test_a_late_label_computes_the_window_afresh(tmp_path: Path, rng: np.random.Generator) -> None:
    frame = _frame(rng, 2_000)
    late = _dir(tmp_path, "late", frame)
    run_tick(late, now=OPEN, notify=False)
    fixed = frame.iloc[:300][["request_id", "ts"]].assign(label=1 - frame["label"].iloc[:300])
    with Collector(late.root) as c:
        c.log_outcomes("m", fixed, id="request_id", timestamp="ts", label="label")
    run_tick(late, now=MATURED, notify=False)
    corrected = frame.assign(label=np.r_[fixed["label"].to_numpy(), frame["label"].iloc[300:].to_numpy()])
    fresh = _dir(tmp_path, "fresh", corrected)
    run_tick(fresh, now=MATURED, notify=False)
    got, want = _performance(late), _performance(fresh)
    for metric in ("accuracy", "roc_auc", "pr_auc", "f1", "brier", "ece"):
        a, b = got.set_index("metric").loc[metric], want.set_index("metric").loc[metric]
        assert a["value"] == pytest.approx(b["value"], rel=1e-12), metric
        assert a["lower"] == pytest.approx(b["lower"], rel=1e-12), metric
