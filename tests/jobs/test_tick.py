"""The job tick end to end: incremental equals all-at-once, late labels, open windows, references."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame, models_overview
from tests.conftest import make_predictions

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _frames(rng: np.random.Generator, days: int = 4) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ref = make_predictions(rng, 4000, prefix="ref")
    ref["label"] = (rng.uniform(size=len(ref)) < ref["score"]).astype(int)
    cur = make_predictions(rng, days * 720, start="2026-01-01", freq="2min")
    out = pd.DataFrame(
        {"request_id": cur["request_id"], "label": (rng.uniform(size=len(cur)) < cur["score"]).astype(int)}
    )
    return ref.drop(columns=["request_id", "ts"]), cur, out


def _metrics(data: DataDir) -> pd.DataFrame:
    frame = export_frame(data, "metrics", "m")
    keys = ["window_start", "family", "metric", "column", "version", "experiment", "segment"]
    return frame.sort_values(keys).reset_index(drop=True)[[*keys, "value", "status", "n"]]


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b) and len(a) > 0
    pd.testing.assert_frame_equal(a.drop(columns=["value"]), b.drop(columns=["value"]))
    np.testing.assert_allclose(a["value"].to_numpy(float), b["value"].to_numpy(float), rtol=1e-9, atol=1e-9)


def test_incremental_ticks_equal_one_tick(tmp_path: pytest.TempPathFactory, rng: np.random.Generator) -> None:
    ref, cur, out = _frames(rng)
    one, many = DataDir(tmp_path / "one").ensure(), DataDir(tmp_path / "many").ensure()  # type: ignore[operator]
    with Collector(one.root) as c:
        c.log_reference("m", ref)
        c.log_predictions("m", cur)
        c.log_outcomes("m", out)
    run_tick(one, now=NOW, notify=False)
    with Collector(many.root) as c:
        c.log_reference("m", ref)
    run_tick(many, now=NOW, notify=False)
    for part in np.array_split(np.arange(len(cur)), 7):  # pieces cut across window boundaries
        with Collector(many.root) as c:
            c.log_predictions("m", cur.iloc[part])
        run_tick(many, now=NOW, notify=False)
    for part in np.array_split(rng.permutation(len(out)), 3):  # labels late, out of order
        with Collector(many.root) as c:
            c.log_outcomes("m", out.iloc[np.sort(part)])
        run_tick(many, now=NOW, notify=False)
    _assert_same(_metrics(one), _metrics(many))


def test_late_labels_corrections_and_outcomes_before_predictions(
    tmp_path: pytest.TempPathFactory, rng: np.random.Generator
) -> None:
    ref, cur, out = _frames(rng, days=2)
    truth, late = DataDir(tmp_path / "t").ensure(), DataDir(tmp_path / "l").ensure()  # type: ignore[operator]
    with Collector(truth.root) as c:
        c.log_reference("m", ref)
        c.log_predictions("m", cur)
        c.log_outcomes("m", out)
    run_tick(truth, now=NOW, notify=False)
    wrong = out.copy()
    wrong["label"] = 1 - wrong["label"]
    with Collector(late.root) as c:
        c.log_reference("m", ref)
        c.log_outcomes("m", wrong.iloc[:500])  # outcomes before their predictions, and wrong
    run_tick(late, now=NOW, notify=False)
    with Collector(late.root) as c:
        c.log_predictions("m", cur)
    run_tick(late, now=NOW, notify=False)
    with Collector(late.root) as c:
        c.log_outcomes("m", out.iloc[::-1])  # corrections for the first 500 plus all the rest
    run_tick(late, now=NOW, notify=False)
    with Collector(late.root) as c:
        c.log_outcomes("m", out.iloc[1000:1200])  # a re-delivery: must not count twice
    run_tick(late, now=NOW, notify=False)
    _assert_same(_metrics(truth), _metrics(late))
    acc = _metrics(late).query("metric == 'accuracy'")
    assert acc["value"].notna().all()


def test_open_window_is_never_evaluated(data_dir: DataDir, rng: np.random.Generator) -> None:
    cur = make_predictions(rng, 3 * 1440, start="2026-01-01")
    with Collector(data_dir.root) as c:
        c.log_predictions("m", cur)
    run_tick(data_dir, now=datetime(2026, 1, 3, 12, tzinfo=UTC), notify=False)
    starts = set(pd.to_datetime(export_frame(data_dir, "metrics", "m")["window_start"]).dt.day)
    assert starts == {1, 2}  # Jan 3 is still open at noon


def test_drift_is_flagged_only_where_injected(data_dir: DataDir, rng: np.random.Generator) -> None:
    ref, cur, _ = _frames(rng, days=3)
    cur.loc[cur["ts"] >= "2026-01-03", "income"] *= 1000  # unit change on day 3
    with Collector(data_dir.root) as c:
        c.log_reference("m", ref)
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    flagged = m[(m["status"] != "ok") & m["family"].isin(["drift", "quality", "output"])]
    assert set(flagged["column"]) == {"income"}
    assert set(pd.to_datetime(flagged["window_start"]).dt.day) == {3}


def test_time_zone_of_the_model_cuts_the_windows(data_dir: DataDir, rng: np.random.Generator) -> None:
    cur = make_predictions(rng, 2 * 1440, start="2026-01-01")
    with Collector(data_dir.root) as c:
        c.declare("m", timezone="America/New_York")
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    w = export_frame(data_dir, "windows", "m")
    hours = {pd.Timestamp(t).tz_convert("UTC").hour for t in w["window_start"]}
    assert hours == {5}  # midnight in New York is 05:00 UTC in January
    assert models_overview(data_dir)[0]["predictions"] == len(cur)


def test_cost_per_prediction_is_a_kpi_series(data_dir: DataDir, rng: np.random.Generator) -> None:
    cur = make_predictions(rng, 2 * 720, start="2026-01-01", freq="2min")
    cur["cost_usd"] = rng.uniform(0.001, 0.003, len(cur))
    with Collector(data_dir.root) as c:
        c.declare("m", cost="cost_usd")
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    per_day = cur.groupby(cur["ts"].dt.day)["cost_usd"]
    got = m[m["metric"] == "cost_per_prediction"].sort_values("window_start")
    np.testing.assert_allclose(got["value"].to_numpy(float), per_day.mean().to_numpy(), rtol=1e-9)
    assert (got["lower"] < got["value"]).all() and (got["value"] < got["upper"]).all()
    total = m[m["metric"] == "total_cost"].sort_values("window_start")
    np.testing.assert_allclose(total["value"].to_numpy(float), per_day.sum().to_numpy(), rtol=1e-9)


def test_golden_signals_latency_and_error_share(data_dir: DataDir, rng: np.random.Generator) -> None:
    cur = make_predictions(rng, 720, start="2026-01-01", freq="2min")
    cur["latency_ms"] = rng.gamma(2.0, 20.0, len(cur))
    cur["status"] = np.where(rng.uniform(size=len(cur)) < 0.05, "timeout", "ok")
    with Collector(data_dir.root) as c:
        c.declare("m", latency="latency_ms", status="status")
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m").set_index("metric")
    assert m.loc["latency_p95", "value"] == pytest.approx(np.quantile(cur["latency_ms"], 0.95))
    assert m.loc["error_share", "value"] == pytest.approx((cur["status"] == "timeout").mean())


def test_drift_against_the_previous_window_is_opt_in_and_finds_the_day_it_changed(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    ref, cur, _ = _frames(rng, days=3)
    cur.loc[cur["ts"] >= "2026-01-03", "income"] *= 1.5
    with Collector(data_dir.root) as c:
        c.declare("m", meta={"compare_previous_window": True})
        c.log_reference("m", ref)
        c.log_predictions("m", cur)
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    prev = m[(m["metric"] == "ks_vs_previous") & (m["column"] == "income")].sort_values("window_start")
    assert list(pd.to_datetime(prev["window_start"]).dt.day) == [2, 3]  # the first window has no previous
    day2, day3 = prev["value"].to_numpy(float)
    assert day3 > max(day2, 0.1) and (prev["status"] == "ok").all()  # explains, never decides
