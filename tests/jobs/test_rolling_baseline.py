"""Rolling baseline: a window against its K previous windows merged, explanatory only."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.calculators.drift_rolling import rolling_windows
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.loading.profiling import load_reference
from duckwatch.metrics import drift
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile, profile_categorical, profile_numeric
from duckwatch.readmodels.views import export_frame
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse
from tests.conftest import make_predictions

NOW = datetime(2026, 3, 1, tzinfo=UTC)
K = 3


def test_rolling_baseline_equals_profiling_the_union_of_previous_windows(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    ref = make_predictions(rng, 4000, prefix="ref").drop(columns=["request_id", "ts"])
    cur = make_predictions(rng, 6 * 720, start="2026-01-01", freq="2min")
    cur.loc[cur["ts"] >= "2026-01-06", "income"] *= 1.3  # day 6 moves away from days 3-5
    with Collector(data_dir.root) as c:
        c.declare("m", meta={"rolling_baseline_windows": K})
        c.log_reference("m", ref)
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    rolling = m[m["metric"].str.endswith("_vs_rolling")].copy()
    rolling["day"] = pd.to_datetime(rolling["window_start"]).dt.day
    assert set(rolling["day"]) == {2, 3, 4, 5, 6}  # day 1 has no earlier window
    assert (rolling["status"] == "ok").all()  # explains, never decides
    assert rolling.loc[rolling["day"] == 2, "method"].iloc[0].startswith("vs last 1 window ")
    assert rolling.loc[rolling["day"] == 6, "method"].iloc[0].startswith(f"vs last {K} windows")

    settings = Settings(data_dir.settings)
    by_name = {col.name: col for col in catalog.get_columns(settings, "m")}
    wh = Warehouse(data_dir)
    try:
        reference = load_reference(wh, "m")
    finally:
        wh.close()
    day = cur["ts"].dt.day
    for name, metric in (("income", "ks_vs_rolling"), ("region", "js_distance_vs_rolling")):
        ref_profile = reference[by_name[name].col_id]
        for d in (4, 6):
            base_rows = cur.loc[(day >= d - K) & (day < d), name].to_numpy()
            now_rows = cur.loc[day == d, name].to_numpy()
            if isinstance(ref_profile, NumericProfile):
                base = profile_numeric(base_rows.astype(float), ref_profile.binning)
                now = profile_numeric(now_rows.astype(float), ref_profile.binning)
            else:
                assert isinstance(ref_profile, CategoricalProfile)
                base = profile_categorical(base_rows, ref_profile.vocabulary)
                now = profile_categorical(now_rows, ref_profile.vocabulary)
            cell = drift.drift_cell(base, now)
            row = rolling[(rolling["metric"] == metric) & (rolling["column"] == name) & (rolling["day"] == d)]
            assert len(row) == 1
            assert row["value"].iloc[0] == pytest.approx(cell.value, rel=1e-9, abs=1e-12)
            assert row["upper"].iloc[0] == pytest.approx(cell.result.upper, rel=1e-9, abs=1e-12)
            assert row["threshold"].iloc[0] == pytest.approx(max(cell.threshold, cell.floor), rel=1e-9)
    ks_roll = rolling[(rolling["metric"] == "ks_vs_rolling") & (rolling["column"] == "income")]
    by_day = ks_roll.set_index("day")["value"]
    assert by_day[6] > max(by_day[5], 0.1)


def test_rolling_baseline_is_opt_in_and_meta_is_validated(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    cur = make_predictions(rng, 3 * 720, start="2026-01-01", freq="2min")
    with Collector(data_dir.root) as c:
        c.log_reference("m", make_predictions(rng, 2000, prefix="ref").drop(columns=["request_id", "ts"]))
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    assert not m["metric"].str.endswith("_vs_rolling").any()
    assert rolling_windows({}) == 0 and rolling_windows({"rolling_baseline_windows": 7}) == 7
    assert rolling_windows({"rolling_baseline_windows": "x"}) == 0
    assert rolling_windows({"rolling_baseline_windows": True}) == 0
    assert rolling_windows({"rolling_baseline_windows": 10_000}) == 60
