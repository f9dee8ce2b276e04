"""The console script's quick exit after ingest/run loses nothing: output, files, heartbeat, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from duckwatch.config import DataDir
from duckwatch.store.heartbeat import last_heartbeat
from duckwatch.store.landing import pending
from duckwatch.store.settings import Settings
from tests.conftest import make_predictions, run_cli


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    # Buffered output, as when stdout is a file or a pipe: what the quick exit must flush itself.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return run_cli(data, *args, env=env)


def test_ingest_and_run_leave_everything_written_and_report_fully(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    src = tmp_path / "preds.parquet"
    make_predictions(rng, 3000, freq="30s").to_parquet(src, index=False)
    done = _cli(data_dir, "ingest", "predictions", str(src), "--model", "m", "--id-col", "request_id",
                "--time-col", "ts", "--score-col", "score")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3000" in done.stdout.replace(",", "")  # the summary line made it out of the buffer
    [sealed] = pending(data_dir.landing, "predictions", "m")
    assert sealed.read_bytes() == src.read_bytes()  # the copy thread finished and sealed it
    assert not list(data_dir.landing.glob("*/*/.tmp-*"))

    ran = _cli(data_dir, "run", "--no-notify")
    assert ran.returncode == 0, ran.stderr
    assert "3000 rows ingested" in ran.stdout
    beat = last_heartbeat(Settings(data_dir.settings))
    assert beat is not None and beat["rows_ingested"] == 3000 and not beat["errors"]
    assert (data_dir.published / "m.duckdb").is_file()
    assert pending(data_dir.landing, "predictions", "m") == []
    exported = _cli(data_dir, "export", "metrics", "--model", "m", "--format", "csv")
    assert exported.returncode == 0 and "row_count" in exported.stdout

    models = _cli(data_dir, "models", "--format", "json")
    assert [m["model"] for m in json.loads(models.stdout)] == ["m"]


def test_a_refused_ingest_still_says_why_and_exits_2(data_dir: DataDir, tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    done = _cli(data_dir, "ingest", "predictions", str(missing), "--model", "m")
    assert done.returncode == 2
    assert "error:" in done.stderr and "nope.parquet" in done.stderr
