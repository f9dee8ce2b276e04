"""Labels logged with the predictions count (outcomes correct them); unreadable labels are set aside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.store.duck import reading
from duckwatch.store.published import path_for

DAY = datetime(2026, 4, 6, tzinfo=UTC)


def _scored(rng: np.random.Generator, n: int, day: int, prefix: str) -> pd.DataFrame:
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-x))
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": [DAY + timedelta(days=day, seconds=int(s)) for s in rng.integers(0, 86_400, n)],
            "x": x,
            "score": score,
            "label": (rng.random(n) < score).astype(int),
        }
    )


def _window(data: DataDir, model: str, day: int) -> pd.DataFrame:
    rows = export_frame(data, "metrics", model)
    return rows[pd.to_datetime(rows["window_start"]) == pd.Timestamp(DAY + timedelta(days=day))].set_index(
        "metric"
    )


def test_inline_labels_give_performance_and_outcomes_correct_them(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    frame = _scored(rng, 1200, 0, "a")
    roles = {"timestamp": "ts", "id": "request_id", "scores": "score", "label": "label"}
    with Collector(data_dir.root) as col:
        col.log_predictions("m", frame, **roles)
    run_tick(data_dir, now=DAY + timedelta(days=5), notify=False)
    got = _window(data_dir, "m", 0)
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    assert got.loc["label_coverage", "value"] == 1.0
    assert got.loc["label_coverage_at_age", "value"] == 1.0  # arrived with the predictions
    assert abs(got.loc["accuracy", "value"] - accuracy_score(y, s >= 0.5)) <= 1e-12
    assert abs(got.loc["roc_auc", "value"] - roc_auc_score(y, s)) <= 1e-12

    # Outcomes for 200 of the ids flip their labels: the correction wins over the inline label.
    fixed = frame.iloc[:200][["request_id", "ts"]].assign(label=1 - frame["label"].iloc[:200])
    with Collector(data_dir.root) as col:
        col.log_outcomes("m", fixed, id="request_id", timestamp="ts", label="label")
    run_tick(data_dir, now=DAY + timedelta(days=5, hours=1), notify=False)
    y2 = y.copy()
    y2[:200] = 1 - y2[:200]
    got = _window(data_dir, "m", 0)
    assert abs(got.loc["accuracy", "value"] - accuracy_score(y2, s >= 0.5)) <= 1e-12
    assert abs(got.loc["roc_auc", "value"] - roc_auc_score(y2, s)) <= 1e-12


def test_window_without_inline_labels_waits_for_outcomes(data_dir: DataDir, rng: np.random.Generator) -> None:
    frame = _scored(rng, 600, 0, "b")
    with Collector(data_dir.root) as col:
        col.log_predictions(
            "m", frame.drop(columns=["label"]), timestamp="ts", id="request_id", scores="score"
        )
        col.log_outcomes("m", frame[["request_id", "label"]].iloc[:300], id="request_id", label="label")
    run_tick(data_dir, now=DAY + timedelta(days=5), notify=False)
    got = _window(data_dir, "m", 0)
    assert got.loc["label_coverage", "value"] == 0.5


def test_text_labels_for_a_numeric_label_column_are_quarantined_with_the_fix(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    frame = _scored(rng, 400, 0, "c")
    with Collector(data_dir.root) as col:
        col.log_reference("m", frame.drop(columns=["request_id", "ts"]), scores="score", label="label")
        col.log_predictions(
            "m", frame.drop(columns=["label"]), timestamp="ts", id="request_id", scores="score"
        )
        words = (
            frame[["request_id", "label"]]
            .iloc[:100]
            .assign(label=lambda f: np.where(f["label"] == 1, "yes", "no"))
        )
        bad = col.log_outcomes("m", words, id="request_id", label="label")
        good = col.log_outcomes(
            "m", frame[["request_id", "label"]].iloc[100:300], id="request_id", label="label"
        )
    assert (bad.landed, bad.quarantined) == (0, 100)
    assert all("is not a number" in r for r in bad.reasons)  # the caller is told at once
    assert (good.landed, good.quarantined) == (200, 0)
    run_tick(data_dir, now=DAY + timedelta(days=5), notify=False)
    with reading(path_for(data_dir, "m"), "UTC") as con:
        assert con is not None
        reasons = {
            r[0] for r in con.execute("SELECT reason FROM quarantine WHERE stream = 'outcomes'").fetchall()
        }
    assert len(reasons) == 2  # 'yes' and 'no'
    assert all("is not a number" in r and "send them as numbers" in r for r in reasons)
    assert _window(data_dir, "m", 0).loc["label_coverage", "value"] == 0.5
