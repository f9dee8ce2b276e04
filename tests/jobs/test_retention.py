"""Raw data is partitioned by month: old months can be dropped, summaries stay, the job lock is held."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.jobs.lock import JobBusyError, job_lock
from duckwatch.jobs.retention import drop_before
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame, models_overview
from tests.conftest import make_predictions


def test_dropping_old_months_keeps_newer_rows_and_all_metrics(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    jan = make_predictions(rng, 2000, start="2026-01-20", freq="10min", prefix="j")
    feb = make_predictions(rng, 2000, start="2026-02-10", freq="10min", prefix="f")
    with Collector(data_dir.root) as c:
        c.log_predictions("m", jan)
        c.log_predictions("m", feb)
    run_tick(data_dir, now=datetime(2026, 3, 1, tzinfo=UTC), notify=False)
    metrics_before = len(export_frame(data_dir, "metrics", "m"))
    assert drop_before(data_dir, "m", "2026-02") == 2000 - int((jan["ts"] >= "2026-02-01").sum())
    assert models_overview(data_dir)[0]["predictions"] == 2000 + int((jan["ts"] >= "2026-02-01").sum())
    assert len(export_frame(data_dir, "metrics", "m")) == metrics_before
    out = subprocess.run(
        [sys.executable, "-m", "duckwatch.cli", "retention", "--model", "m", "--before", "2026-13",
         "--data-dir", str(data_dir.root)], capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 2 and "YYYY-MM" in out.stderr


def test_retention_waits_for_no_job(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.log_predictions("m", {"id": "1", "score": 0.5})
    run_tick(data_dir, notify=False)
    with job_lock(data_dir.locks), pytest.raises(JobBusyError):
        drop_before(data_dir, "m", "2026-01")
    with pytest.raises(BadInputError, match="unknown model"):
        drop_before(data_dir, "nope", "2026-01")
