"""Custom metrics: a Python plugin through the registry and a per-model SQL aggregate, computed per
window by the job like the built-ins, with known answers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _sessions(rng: np.random.Generator, n: int) -> pd.DataFrame:
    cats = np.array(["books", "garden", "music"])
    fav = rng.choice(cats, n)
    first = np.where(rng.uniform(size=n) < 0.6, fav, rng.choice(cats, n))
    items = [[f"{c}-{i}", f"music-{i + 1}"] for i, c in enumerate(first)]
    return pd.DataFrame(
        {
            "session": [f"s{i}" for i in range(n)],
            "ts": pd.date_range("2026-01-01", periods=n, freq="3min", tz="UTC"),
            "favourite_category": fav,
            "recommended_items": items,
            "basket_value": rng.exponential(20.0, n).round(2),
        }
    )


def test_python_plugin_and_sql_metric_are_computed_per_window(
    data_dir: DataDir, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUCKWATCH_PLUGINS", "tests.plugins.favourite")
    df = _sessions(rng, 960)  # two days
    with Collector(data_dir.root) as c:
        c.declare("reco", id="session", timestamp="ts", prediction="recommended_items",
                  meta={"sql_metrics": {"big_baskets": "avg(CASE WHEN basket_value > 50 THEN 1.0 ELSE 0.0 END)",
                                        "broken": "avg(no_such_column)"}})  # fmt: skip
        c.log_predictions("reco", df)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "reco")
    df["day"] = df["ts"].dt.strftime("%Y-%m-%d")
    for day, part in df.groupby("day"):
        rows = m[pd.to_datetime(m["window_start"]).dt.strftime("%Y-%m-%d") == day].set_index("metric")
        first = part["recommended_items"].map(lambda items: items[0].split("-")[0])
        assert rows.loc["favourite_first", "value"] == pytest.approx(
            (first == part["favourite_category"]).mean()
        )
        assert rows.loc["favourite_first", "family"] == "heuristic"
        assert rows.loc["big_baskets", "value"] == pytest.approx((part["basket_value"] > 50).mean())
        assert (
            rows.loc["broken", "status"] == "insufficient"
        )  # a bad expression is reported, the tick goes on
