"""The compute stage loops over registered calculators: one class adds metrics, reads decide reruns,
fitted state is kept per reference."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.calculators import base
from duckwatch.calculators.base import FittedStates, MetricRow, Read
from duckwatch.calculators.builtin import WindowBatch
from duckwatch.config import DataDir
from duckwatch.jobs.compute import compute_model
from duckwatch.jobs.tick import run_tick
from duckwatch.store.warehouse import Warehouse
from tests.jobs.three_days import three_days

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class Counting:
    """A test calculator: the mean score of each window it is given, and how often it ran and fit."""

    name: ClassVar[str] = "test_mean_score"
    reads: ClassVar[frozenset[Read]] = frozenset({"rows"})
    needs_rows: ClassVar[bool] = True

    def __init__(self) -> None:
        self.windows_seen = 0
        self.fits = 0

    def fit(self, batch: WindowBatch) -> int:
        self.fits += 1
        return self.fits

    def calculate(self, batch: WindowBatch, state: int) -> list[list[MetricRow]]:
        self.windows_seen += len(batch.windows)
        score = next(c.col_id for c in batch.columns if c.role == "score")
        return [
            [MetricRow("custom", self.name, float(batch.frames[i][score].mean()), n=len(batch.frames[i]))]
            if i in batch.frames
            else []
            for i in range(len(batch.windows))
        ]


class LabelReading(Counting):
    name: ClassVar[str] = "test_labelled_share"
    reads: ClassVar[frozenset[Read]] = frozenset({"rows", "labels"})


@pytest.fixture
def calculators() -> Iterator[tuple[Counting, LabelReading]]:
    before = dict(base._REGISTRY)
    free, labelled = Counting(), LabelReading()
    base.register(free)
    base.register(labelled)
    yield free, labelled
    base._REGISTRY.clear()
    base._REGISTRY.update(before)


def _data(root: Path, rng: np.random.Generator) -> tuple[DataDir, pd.DataFrame]:
    return three_days(root, rng, 600, labelled_reference=True)


def _stored(data: DataDir, metric: str) -> pd.DataFrame:
    wh = Warehouse(data)
    try:
        return wh.arrow(
            "SELECT window_start, value, n FROM metric_results WHERE metric = ? ORDER BY window_start",
            [metric],
        ).to_pandas()
    finally:
        wh.close()


def test_one_registered_class_adds_its_metric_and_reads_decide_what_reruns(
    tmp_path: Path, rng: np.random.Generator, calculators: tuple[Counting, LabelReading]
) -> None:
    free, labelled = calculators
    data, df = _data(tmp_path / "d", rng)
    run_tick(data, now=NOW, notify=False)
    got = _stored(data, "test_mean_score")
    want = df.groupby(df["ts"].dt.floor("D"))["score"].agg(["mean", "size"])
    assert np.allclose(got["value"], want["mean"]) and list(got["n"]) == list(want["size"])
    assert free.windows_seen == labelled.windows_seen == 3
    # Labels for the first day only: that window alone is dirty, and only for what reads labels.
    first = df[df["ts"] < pd.Timestamp("2026-01-02", tz="UTC")]
    with Collector(data.root) as c:
        c.log_outcomes("m", first[["id"]].assign(label=1), id="id", label="label")
    run_tick(data, now=NOW, notify=False)
    assert labelled.windows_seen == 4
    assert free.windows_seen == 3  # its rows were kept from the full computation
    assert np.allclose(_stored(data, "test_mean_score")["value"], want["mean"])  # still there


def test_fitted_state_is_kept_per_reference(
    tmp_path: Path, rng: np.random.Generator, calculators: tuple[Counting, LabelReading]
) -> None:
    free, _ = calculators
    data, df = _data(tmp_path / "d", rng)
    states = FittedStates()

    def compute(*args: Any) -> int:
        return compute_model(*args[:5], states)

    run_tick(data, now=NOW, notify=False, compute=compute)
    assert free.fits == 1
    with Collector(data.root) as c:  # new predictions: windows recomputed with the same reference
        c.log_predictions("m", df.assign(id=df["id"] + "b"))
    run_tick(data, now=NOW, notify=False, compute=compute)
    assert free.fits == 1
    with Collector(data.root) as c:  # a new reference: fit again, the old state dropped
        c.log_reference("m", df.assign(label=0, score=df["score"] / 2))
        c.log_predictions("m", df.assign(id=df["id"] + "c"))
    run_tick(data, now=NOW, notify=False, compute=compute)
    assert free.fits == 2
    assert len([k for k in states.fitted() if k[0] == free.name]) == 1


def test_an_unknown_field_is_an_error() -> None:
    with pytest.raises(TypeError):
        MetricRow.of({"family": "drift", "metric": "ks", "value": 0.1, "colour": "red"})
    assert np.isnan(MetricRow.of({"family": "drift", "metric": "ks", "value": None}).value)
