"""One tick over a model's whole history and two ticks over its halves (late labels in between) end
with the same metric rows, bit for bit: values, interval bounds (seeded per window, never per tick),
thresholds and statuses. Drift persistence reads the windows before: column b's shift is significant
but under its (raised) minimum effect, so its third window is flagged by persistence, in the second
tick from a run that started in the first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick

DAY0 = datetime(2026, 2, 1, tzinfo=UTC)
NOW = DAY0 + timedelta(days=14)


def _day(rng: np.random.Generator, day: int, n: int, prefix: str) -> pd.DataFrame:
    x = rng.normal(size=(n, 3))
    x[:, 1] += 0.4 * (day >= 6)  # a shift half way
    score = 1 / (1 + np.exp(-(x[:, 0] + rng.normal(scale=0.5, size=n))))
    df = pd.DataFrame(x, columns=["a", "b", "c"])
    df["id"] = [f"{prefix}{day}-{i}" for i in range(n)]
    df["ts"] = [DAY0 + timedelta(days=day, seconds=int(t)) for t in rng.integers(0, 86400, n)]
    df["score"] = score
    df["label"] = (rng.random(n) < score).astype(int)
    return df


def _life(root: Path, reference: pd.DataFrame, days: list[pd.DataFrame], split: int | None) -> pd.DataFrame:
    with Collector(root) as c:
        c.declare("m", window="day", id="id", timestamp="ts", scores=["score"], label="label",
                  label_horizon_hours=48, meta={"drift_floors": {"columns": {"b": {"ks": 0.5, "tail_h": 1.0}}}})  # fmt: skip
        c.log_reference("m", reference)
    parts = [range(len(days))] if split is None else [range(split), range(split, len(days))]
    for part in parts:
        with Collector(root) as c:
            for d in part:
                c.log_predictions("m", days[d].drop(columns=["label"]))
                late = days[d].sample(frac=0.7, random_state=d)[["id", "label"]]
                c.log_outcomes("m", late, id="id", label="label")
        now = NOW if part.stop == len(days) else DAY0 + timedelta(days=part.stop, hours=1)
        assert run_tick(DataDir(root), now=now, notify=False).errors == []
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT * EXCLUDE (computed_at) FROM metric_results ORDER BY ALL").df()
    finally:
        con.close()


def test_one_shot_equals_incremental_bit_for_bit(tmp_path: Path, rng: np.random.Generator) -> None:
    reference = _day(rng, -30, 4000, "r")
    days = [_day(rng, d, 3000, "p") for d in range(10)]
    once = _life(tmp_path / "once", reference, days, None)
    halves = _life(tmp_path / "halves", reference, days, 7)
    assert len(once) > 500 and once["lower"].notna().sum() > 50
    pd.testing.assert_frame_equal(once, halves, check_exact=True)
    b = once[(once["col"] == "b") & (once["metric"] == "ks")].sort_values("window_start")
    by_persistence = b["details"].str.contains('"decided_by": "persistence"').tolist()
    assert by_persistence == [False] * 8 + [True] * 2  # days 8 and 9: runs from day 6 (first tick)
    assert (b["status"].tolist()[8:] == ["warning"] * 2) and (b["value"] < 0.5).all()
