"""Event times outside the accepted range are quarantined on every ingest path; the rest of a batch lands."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.cli import main
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import quarantine_rows
from duckwatch.store.landing import pending
from duckwatch.store.landing_files import plan_path
from duckwatch.store.settings import Settings
from tests.collector.test_http import AUTH, serve
from tests.conftest import make_predictions, run_cli

OUTSIDE = "is outside the accepted range"


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args)


def _waiting_quarantine(data: DataDir, model: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in pending(data.landing, "quarantine", model)])


def test_sdk_quarantines_far_future_and_1900_times_and_readers_keep_working(data_dir: DataDir) -> None:
    rows = [
        {"id": f"r{i}", "ts": f"2026-01-01T{i % 24:02d}:00:00Z", "x": float(i), "score": 0.5}
        for i in range(50)
    ]
    rows += [
        {"id": "future", "ts": "99999-01-01T00:00:00Z", "x": 1.0, "score": 0.5},
        {"id": "past", "ts": "1900-01-01T00:00:00Z", "x": 2.0, "score": 0.5},
    ]
    with Collector(data_dir.root) as c:
        res = c.log_predictions("m1", rows, idempotency_key="a")
    assert (res.landed, res.quarantined) == (50, 2)
    assert len(res.reasons) == 2 and all(OUTSIDE in r and "duckwatch time-range" in r for r in res.reasons)
    assert run_tick(data_dir, notify=False).errors == []
    q = quarantine_rows(data_dir, "m1")
    assert sorted(q["row_no"]) == [50, 51] and q["reason"].str.contains(OUTSIDE).all()
    assert {json.loads(raw)["id"] for raw in q["raw"]} == {"future", "past"}
    models = _cli(data_dir, "models")
    assert models.returncode == 0, models.stderr
    windows = _cli(data_dir, "export", "windows", "--model", "m1")
    assert windows.returncode == 0, windows.stderr
    assert "2026-01-01" in windows.stdout and "99999" not in windows.stdout and "1900" not in windows.stdout


def test_range_is_a_data_dir_setting_that_the_environment_overrides(
    data_dir: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duckwatch.store import time_range

    time_range.save(Settings(data_dir.settings), actor="test", min_time="2026-01-01", reason="no replays")
    edge = [
        {"id": "before", "ts": "2025-12-31T23:59:59Z", "score": 0.5},
        {"id": "first", "ts": "2026-01-01T00:00:00Z", "score": 0.5},  # the lower bound is inclusive
    ]
    with Collector(data_dir.root) as c:
        res = c.log_predictions("m", edge)
    assert (res.landed, res.quarantined) == (1, 1) and "2026-01-01T00:00:00Z" in res.reasons[0]
    monkeypatch.setenv(time_range.MIN_TIME_ENV, "2025-01-01")
    monkeypatch.setenv(time_range.MAX_FUTURE_DAYS_ENV, "1")
    soon = datetime.now(UTC) + timedelta(hours=12)
    later = datetime.now(UTC) + timedelta(days=2)
    rows = [
        {"id": "b2", "ts": "2025-12-31T23:59:59Z", "score": 0.5},
        {"id": "soon", "ts": soon.isoformat(), "score": 0.5},
        {"id": "later", "ts": later.isoformat(), "score": 0.5},
    ]
    with Collector(data_dir.root) as c:
        res = c.log_predictions("m", rows)
    assert (res.landed, res.quarantined) == (2, 1)
    assert time_range.stored(Settings(data_dir.settings)).min_time == datetime(2026, 1, 1, tzinfo=UTC)


def test_cli_ingest_quarantines_out_of_range_times_in_csv_and_in_byte_copied_parquet(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    csv = make_predictions(rng, 300)
    csv["ts"] = csv["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    csv.loc[5, "ts"] = "99999-01-01T00:00:00Z"
    csv.to_csv(tmp_path / "preds.csv", index=False)
    frame = make_predictions(rng, 300, prefix="p")
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    frame.loc[7, "ts"] = pd.Timestamp("1900-01-01", tz="UTC")
    frame.to_parquet(tmp_path / "preds.parquet", index=False)
    for model, name in (("c", "preds.csv"), ("p", "preds.parquet")):
        args = ["ingest", "predictions", str(tmp_path / name), "--model", model, "--id-col", "request_id"]
        assert main([*args, "--score-col", "score", "--data-dir", str(data_dir.root)]) == 0
        [sealed] = pending(data_dir.landing, "predictions", model)
        assert not plan_path(sealed).exists()  # validated and landed row by row, never byte-copied
        assert len(pd.read_parquet(sealed)) == 299
        bad = _waiting_quarantine(data_dir, model)
        assert list(bad["_row"]) == [5 if model == "c" else 7]
        assert OUTSIDE in bad["_reason"].iloc[0] and bad["_ts"].isna().all()


def test_http_answers_200_and_quarantines_out_of_range_times(data_dir: DataDir) -> None:
    with serve(data_dir) as base, httpx.Client(base_url=base, timeout=30, headers=AUTH) as client:
        one = client.post(
            "/v1/models/h/predictions", json={"id": "x", "ts": "99999-01-01T00:00:00Z", "score": 0.5}
        )
        assert one.status_code == 200, one.text
        assert (one.json()["landed"], one.json()["quarantined"]) == (0, 1)
        assert OUTSIDE in one.json()["reasons"][0]
        epochs = [{"id": "y", "ts": 1e20, "score": 0.5}, {"id": "z", "ts": 1.7e9, "score": 0.5}]
        batch = client.post("/v1/models/h/predictions", json={"rows": epochs})
        assert batch.status_code == 200, batch.text
        assert (batch.json()["landed"], batch.json()["quarantined"]) == (1, 1)
        assert OUTSIDE in batch.json()["reasons"][0]


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
def test_every_timestamp_resolution_is_checked_and_lands(data_dir: DataDir, unit: str) -> None:
    """pandas keeps nanoseconds: a TIMESTAMP_NS column (times between microseconds) lands like any other."""
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(100) * 1.0000001, unit="s")
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(100)], "ts": ts.as_unit(unit), "x": np.arange(100.0)})
    frame.loc[99, "ts"] = pd.Timestamp("1900-01-01", tz="UTC")
    with Collector(data_dir.root) as c:
        result = c.log_predictions("m", frame)
    assert (result.landed, result.quarantined) == (99, 1)
    assert OUTSIDE in result.reasons[0]
