"""`export metrics` ends with the p-value and, on deciding rows, the decision and the test that made it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from tests.conftest import run_cli


def test_export_metrics_ends_with_p_value_and_decision(tmp_path: Path, rng: np.random.Generator) -> None:
    data = DataDir(tmp_path / "d").ensure()
    n = 3_000
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 2 * 86400, n)), "s")
    shifted = rng.normal(size=n) + np.where(ts >= pd.Timestamp("2026-01-02", tz="UTC"), 1.0, 0.0)
    with Collector(data.root) as c:
        c.declare("m", window="day", id="id", timestamp="ts")
        c.log_reference("m", pd.DataFrame({"x": rng.normal(size=5_000), "y": rng.normal(size=5_000)}))
        c.log_predictions(
            "m",
            pd.DataFrame(
                {"id": [f"p{i}" for i in range(n)], "ts": ts, "x": shifted, "y": rng.normal(size=n)}
            ),
        )
    run_tick(data, notify=False, now=pd.Timestamp("2026-02-01", tz="UTC").to_pydatetime())
    out = run_cli(data, "export", "metrics", "--model", "m", "--format", "csv", "--raw")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert list(frame.columns[-2:]) == ["p_value", "decision"]
    deciding = frame[frame["decision"].notna()]
    # every test that decides a column's drift, per column and day (KS and the tail test for numbers)
    assert set(deciding["column"]) == {"x", "y"}
    assert deciding.groupby(["column", "window_start"]).size().tolist() == [2, 2, 2, 2]
    x_day2 = deciding[(deciding["column"] == "x") & deciding["window_start"].str.startswith("2026-01-02")]
    ks = x_day2[x_day2["metric"] == "ks"]
    assert ks["decision"].tolist() == ["drift (ks)"] and ks["p_value"].iloc[0] < 1e-6
    assert deciding["decision"].str.fullmatch(r"(no )?drift \((ks|tail_h)(, persistent)?\)").all()
    assert (deciding["p_value"].between(0, 1)).all()
    assert frame.loc[frame["metric"] == "row_count", "p_value"].isna().all()
