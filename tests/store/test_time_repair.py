"""A warehouse that already holds event times outside the accepted range is repaired when the job opens it."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.collector._prepare import ColumnCache
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import models_overview, quarantine_rows
from duckwatch.store.parts import PART_MIN_ROWS
from duckwatch.store.warehouse import Warehouse
from tests.conftest import CLI

OUTSIDE = "is outside the accepted range"
REPAIR_KEY = "repair:time_range"


def _as_an_older_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Collectors before the range check: every readable time was accepted."""
    prepare = ColumnCache.prepare

    def unchecked(self: ColumnCache, *args: Any) -> Any:
        plan, *rest = prepare(self, *args)
        if hasattr(plan, "ts_min"):
            plan = dataclasses.replace(plan, ts_min=None, ts_max=None)
        return (plan, *rest)

    monkeypatch.setattr(ColumnCache, "prepare", unchecked)


def _older_data_dir(data: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Out-of-range rows stored in a byte-copied part and in the rows table, with their windows;
    the warehouse has never been repaired. Returns the rows logged."""
    n = PART_MIN_ROWS
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "ts": pd.date_range("2026-01-01", periods=n, freq="10s", tz="UTC").astype("datetime64[us, UTC]"),
            "x": np.arange(n, dtype=float),
            "score": 0.5,
        }
    )
    frame.loc[100, "ts"] = pd.Timestamp("1900-01-01", tz="UTC")
    frame.loc[200, "ts"] = pd.Timestamp("5000-01-01", tz="UTC")
    frame.to_parquet(tmp_path / "big.parquet", index=False)
    small = [{"id": f"s{i}", "ts": f"2026-01-02T{i:02d}:00:00Z", "x": 1.0, "score": 0.5} for i in range(20)]
    small.append({"id": "far", "ts": "99999-01-01T00:00:00Z", "x": 2.0, "score": 0.5})
    with monkeypatch.context() as m:
        _as_an_older_version(m)
        with Collector(data.root) as c:
            c.log_parquet("m1", "predictions", tmp_path / "big.parquet")
            c.log_predictions("m1", small, idempotency_key="small")
            c.log_outcomes("m1", [{"id": "r1", "label": 1, "ts": "99999-01-01T00:00:00Z"}])
        run_tick(data, notify=False)  # stores them (the older job's compute stage may fail on them)
    wh = Warehouse(data)
    try:
        assert wh.rows("SELECT count(*) FROM raw_parts")[0][0] == 1
        outside = "SELECT count(*) FROM window_state WHERE window_start < '1970-01-01' OR window_start > '2100-01-01'"
        assert wh.rows(outside)[0][0] == 3
        wh.execute("DELETE FROM job_state WHERE key = ?", [REPAIR_KEY])  # as in a warehouse of that version
    finally:
        wh.close()
    return n + len(small)


def test_job_moves_stored_out_of_range_rows_to_quarantine_once(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged = _older_data_dir(data_dir, tmp_path, monkeypatch)
    report = run_tick(data_dir, notify=False)
    assert report.errors == [] and report.windows_computed > 0
    q = quarantine_rows(data_dir, "m1")
    moved = q[q["reason"].str.contains(OUTSIDE)]
    assert sorted(moved["stream"]) == ["outcomes", "predictions", "predictions", "predictions"]
    assert {json.loads(raw)["id"] for raw in moved["raw"]} == {"r1", "r100", "r200", "far"}
    [row] = models_overview(data_dir)
    assert (row["predictions"], row["outcomes"]) == (logged - 3, 0)
    assert row["first_ts"].startswith("2026-01-01") and row["last_ts"].startswith("2026-01-")
    assert list((data_dir.root / "parts").rglob("*.parquet")) == []  # the part's other rows stay, as rows
    for args in (["models"], ["export", "windows", "--model", "m1"]):
        out = subprocess.run([*CLI, *args, "--data-dir", str(data_dir.root)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    windows = pd.read_csv(io.StringIO(out.stdout))
    assert len(windows) == 6 and windows["window_start"].str.startswith("2026-01-0").all()
    assert not windows["dirty"].any()

    wh = Warehouse(data_dir)
    try:
        done = wh.rows("SELECT value FROM job_state WHERE key = ?", [REPAIR_KEY])
        assert done and not wh.rows("SELECT 1 FROM job_state WHERE starts_with(key, 'publish_pending:')")
    finally:
        wh.close()
    again = run_tick(data_dir, notify=False)  # nothing left to repair: nothing moves, nothing recomputed
    assert again.errors == [] and again.windows_computed == 0
    assert len(quarantine_rows(data_dir, "m1")) == len(q)
    wh = Warehouse(data_dir)
    try:
        assert wh.rows("SELECT value FROM job_state WHERE key = ?", [REPAIR_KEY]) == done
    finally:
        wh.close()
