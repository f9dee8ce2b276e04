"""Volume against the usual volume for that hour (or weekday): traffic has daily cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame

START = datetime(2026, 3, 2, tzinfo=UTC)


def _hours(rng: np.random.Generator, counts: dict[datetime, int]) -> pd.DataFrame:
    parts = []
    for hour, n in counts.items():
        ts = [hour + timedelta(seconds=int(s)) for s in rng.integers(0, 3600, n)]
        parts.append(pd.DataFrame({"ts": ts, "score": rng.random(n), "x": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


def test_an_hour_is_judged_against_the_same_hour_on_earlier_days(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    # Four days with a daily cycle (100 rows an hour in the day, 10 at night), then a fifth day whose
    # 03:00 holds its usual 10 rows and whose 12:00 holds 30 instead of 100.
    usual = {
        START + timedelta(days=d, hours=h): (100 if 8 <= h < 20 else 10) for d in range(4) for h in range(24)
    }
    day5 = {START + timedelta(days=4, hours=h): (100 if 8 <= h < 20 else 10) for h in range(24)}
    day5[START + timedelta(days=4, hours=12)] = 30
    with Collector(data_dir.root) as col:
        col.declare("traffic", window="hour", timestamp="ts", scores=["score"])
        col.log_predictions("traffic", _hours(rng, {**usual, **day5}), timestamp="ts", scores="score")
    run_tick(data_dir, now=START + timedelta(days=6), notify=False)
    rows = export_frame(data_dir, "metrics", "traffic")
    ratio = rows[rows["metric"] == "volume_ratio"].set_index("window_start")
    night = ratio.loc[pd.Timestamp(START + timedelta(days=4, hours=3))]
    noon = ratio.loc[pd.Timestamp(START + timedelta(days=4, hours=12))]
    assert night["value"] == 1.0  # 10 / median(10, 10, 10, 10): the previous 14 hours would say 0.18
    assert noon["value"] == 0.3  # 30 / median(100, 100, 100, 100)
    assert "the same hour on the previous 4 days" in night["method"]
    # Before three earlier days exist, the previous windows are the baseline (and say so).
    early = ratio.loc[pd.Timestamp(START + timedelta(days=1, hours=12))]
    assert "previous 14 windows" in early["method"]
