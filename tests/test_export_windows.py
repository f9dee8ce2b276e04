"""`duckwatch export windows` fills `row_count` for row-count windows as it does for time windows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from tests.conftest import make_predictions, run_cli


def test_row_count_of_rows_n_windows_is_exported(data_dir: DataDir, rng: np.random.Generator) -> None:
    frame = make_predictions(rng, 2500, start="2026-01-01", freq="1min")
    with Collector(data_dir.root) as c:
        c.declare("m", window="rows:1000")
        c.log_predictions("m", frame, id="request_id", timestamp="ts")
    assert run_cli(data_dir, "run", "--no-notify", "--quiet").returncode == 0
    done = run_cli(data_dir, "export", "windows", "--model", "m")
    assert done.returncode == 0, done.stderr
    windows = pd.read_csv(io.StringIO(done.stdout))
    assert list(windows["row_count"]) == [1000, 1000]  # the 500-row remainder is still open
