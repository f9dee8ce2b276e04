"""The demo data dir: every model present, planted incidents flagged where (and only where) planted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch.config import DataDir
from duckwatch.demo import MODELS, generate
from duckwatch.readmodels.views import export_frame, models_overview

END = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 24


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataDir, dict[str, object]]:
    data = DataDir(tmp_path_factory.mktemp("demo") / "data").ensure()
    return data, generate(data, seed=7, days=DAYS, end=END, progress=lambda _m: None)


def _decider(frame: pd.DataFrame, family: str, col: str) -> pd.DataFrame:
    """The column's decision per window, champion only: its deciding rows (those with a threshold: two
    tests per column), the first of them with the status of any that flagged."""
    rows = frame[
        (frame["family"] == family)
        & (frame["column"] == col)
        & frame["threshold"].notna()
        & (frame["segment"] == "")
        & (frame["experiment"] == "")
    ]
    rows = rows.set_index(pd.to_datetime(rows["window_start"], utc=True)).sort_index()
    flagged = (rows["status"] != "ok").groupby(level=0).any()
    first = rows[~rows.index.duplicated()].copy()
    first["status"] = np.where(flagged.reindex(first.index), "warning", "ok")
    return first


def _day(n_before_end: int) -> pd.Timestamp:
    return pd.Timestamp(END) - pd.Timedelta(days=n_before_end)


def test_every_model_has_rows(demo: tuple[DataDir, dict[str, object]]) -> None:
    data, summary = demo
    assert summary["tick_errors"] == [] or all("resolve()" in e for e in summary["tick_errors"])  # type: ignore[attr-defined]
    overview = {row["model"]: row for row in models_overview(data)}
    assert set(overview) == set(MODELS)
    for model in MODELS:
        assert overview[model]["predictions"] > 1000, model
        assert not export_frame(data, "metrics", model).empty, model
    assert overview["credit-default"]["display_name"] == "Credit default risk"
    assert "v1" in overview["credit-default"]["versions"] and "v2" in overview["credit-default"]["versions"]


def test_fraud_unit_switch_is_flagged_from_the_switch_day_only(
    demo: tuple[DataDir, dict[str, object]],
) -> None:
    data, _ = demo
    rows = _decider(export_frame(data, "metrics", "fraud-detector"), "drift", "txn_seconds_since_last")
    switch = _day(12)
    assert (rows.loc[rows.index >= switch, "status"] != "ok").all()
    assert (rows.loc[rows.index < switch, "status"] == "ok").all()
    assert len(rows.loc[rows.index >= switch]) == 12


def test_churn_null_spike_only_on_the_spike_days(demo: tuple[DataDir, dict[str, object]]) -> None:
    data, _ = demo
    frame = export_frame(data, "metrics", "churn-model")
    rows = frame[
        (frame["metric"] == "null_share") & (frame["column"] == "tenure_months") & (frame["segment"] == "")
    ]
    rows = rows.set_index(pd.to_datetime(rows["window_start"], utc=True)).sort_index()
    flagged = set(rows.index[rows["status"] != "ok"])
    assert flagged == {_day(15), _day(14)}
    assert rows.loc[_day(15), "value"] == pytest.approx(0.35, abs=0.06)


def test_house_market_shift_drifts_but_error_holds(demo: tuple[DataDir, dict[str, object]]) -> None:
    data, _ = demo
    frame = export_frame(data, "metrics", "house-price")
    rows = _decider(frame, "drift", "market_index")
    shift = _day(20)
    assert (rows.loc[rows.index >= shift, "status"] != "ok").all()
    assert (rows.loc[rows.index < shift, "status"] == "ok").all()
    mae = frame[(frame["metric"] == "mae") & (frame["segment"] == "")]
    mae = mae.set_index(pd.to_datetime(mae["window_start"], utc=True))["value"].dropna()
    before, after = mae[mae.index < shift], mae[mae.index >= shift]
    assert len(before) >= 3 and len(after) >= 3
    # Prices rise 40% with the market, so absolute error scales at most by that; relative error holds.
    assert after.max() <= before.max() * 1.4 * 1.25


def test_same_seed_same_metrics(tmp_path: Path) -> None:
    frames = []
    for name in ("a", "b"):
        data = DataDir(tmp_path / name).ensure()
        generate(data, seed=3, days=21, end=END, progress=lambda _m: None, models=["churn-model"])
        frames.append(export_frame(data, "metrics", "churn-model"))
    a, b = frames
    assert len(a) == len(b) > 0
    key = ["window_start", "family", "metric", "column", "version", "experiment", "segment"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*key, "status", "n"]], b[[*key, "status", "n"]])
    pd.testing.assert_series_equal(a["value"], b["value"], rtol=1e-9, atol=1e-12)
