"""A generated data dir for the app tests: made through the public SDK and one real job tick."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store.alerting import create_threshold
from duckwatch.store.settings import Settings
from tests.conftest import make_predictions

NOW = datetime(2026, 1, 8, tzinfo=UTC)


def build_data_dir(root: Path) -> DataDir:
    """Two models: `credit` (reference, two versions, labels, drift in income late on), `fraud` (bare)."""
    rng = np.random.default_rng(7)
    data = DataDir(root).ensure()
    # A real threshold that fires (a day holds ~720 rows here), so incidents and alerts exist for the pages.
    create_threshold(
        Settings(data.settings), actor="test", role="admin", reason="fixture", model="credit",
        family="volume", metric="row_count", kind="absolute", direction="below", warning=5000, critical=1000,
    )  # fmt: skip
    with Collector(data.root) as c:
        c.declare(
            "credit", display_name="Credit risk", owner="ana@example.com", purpose="Approve small loans"
        )
        ref = make_predictions(rng, 2000, start="2025-12-01", prefix="ref")
        ref["label"] = (rng.random(len(ref)) < ref["score"]).astype(int)
        c.log_reference("credit", ref, id="request_id", timestamp="ts")
        for version, experiment in (("v1", "champion"), ("v2", "challenger")):
            pred = make_predictions(rng, 4000, start="2026-01-01", freq="2min", prefix=f"{version}-")
            late = pred["ts"] >= pd.Timestamp("2026-01-04", tz="UTC")
            pred.loc[late, "income"] *= 3.0  # a unit change upstream: drift the app must show
            c.log_predictions(
                "credit", pred, version=version, experiment=experiment, id="request_id", timestamp="ts"
            )
            labels = pd.DataFrame(
                {
                    "request_id": pred["request_id"],
                    "label": (rng.random(len(pred)) < pred["score"]).astype(int),
                }
            )
            c.log_outcomes("credit", labels.head(3000), id="request_id")
        c.log_predictions("fraud", make_predictions(rng, 600, prefix="f"), id="request_id", timestamp="ts")
    run_tick(data, now=NOW, notify=False)
    return data


DEMO_END = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataDir]:
    """`duckwatch demo` (six models, planted incidents) ending on a fixed day, shared read-only."""
    from duckwatch.demo import generate

    data = DataDir(tmp_path_factory.mktemp("demo") / "data").ensure()
    assert generate(data, end=DEMO_END, progress=lambda _line: None)["tick_errors"] == []
    yield data


@pytest.fixture(scope="session")
def app_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataDir]:
    """One generated data dir shared by the app tests (read-only for them)."""
    yield build_data_dir(tmp_path_factory.mktemp("appdata") / "data")
