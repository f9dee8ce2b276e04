"""The engine rebuild changed how metrics are computed, not what they are: the code before it (pinned
below) and today's give the same metric rows on the same life of a model (first tick, late labels,
label corrections, relabel tick), at daily and hourly windows.

Identical: which rows exist, counts, exactness, provisional flags, every value (1e-9 relative), and
every status and threshold outside the listed exceptions. Exceptions, by design of the rebuild:
the interval bounds of the metrics whose interval became analytic or seeded per window (F1, log loss,
Brier, PR AUC: analytic; ECE: a seeded per-bin bootstrap), and so the statuses and alert bars that
compare a window with those bounds. And since reference-based thresholds: the threshold and status of
the rows a "reference" default judges (they carry their reference band in ``details``); their values,
counts and intervals stay identical.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BEFORE = "b9cdb43"  # main when the engine issue was filed
REPO = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("equivalence_scenario.py")
NEW_INTERVALS = {"f1", "log_loss", "brier", "pr_auc", "ece"}
KEYS = ["model", "version", "experiment", "segment", "window_start", "family", "metric", "col"]


def _git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def before_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _git("rev-parse", "--is-shallow-repository").strip() == b"true":
        pytest.skip(f"a shallow clone has no commit {BEFORE}: run `git fetch --unshallow`")
    root = tmp_path_factory.mktemp("before")
    with tarfile.open(fileobj=io.BytesIO(_git("archive", BEFORE, "src"))) as tar:
        tar.extractall(root, filter="data")
    return root / "src"


def _run(src: Path, root: Path, window: str, days: int) -> pd.DataFrame:
    out = root / "metrics.parquet"
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "HOME": str(root)}
    done = subprocess.run(
        [sys.executable, str(SCENARIO), str(root / "data"), window, "12000", str(days), str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return pd.read_parquet(out).sort_values(KEYS).reset_index(drop=True)


@pytest.mark.parametrize(("window", "days"), [("day", 30), ("hour", 3)])
def test_metric_rows_equal_the_code_before_the_rebuild(
    before_src: Path, tmp_path: Path, window: str, days: int
) -> None:
    old = _run(before_src, tmp_path / "before", window, days)
    new = _run(REPO / "src", tmp_path / "now", window, days)
    assert len(old) > 1000
    pd.testing.assert_frame_equal(old[KEYS], new[KEYS])
    for col in ("n", "exact", "provisional"):
        pd.testing.assert_series_equal(old[col], new[col])
    np.testing.assert_allclose(new["value"], old["value"], rtol=1e-9, atol=1e-12, equal_nan=True)
    fixed = ~old["metric"].isin(NEW_INTERVALS)
    for col in ("lower", "upper"):
        np.testing.assert_allclose(
            new.loc[fixed, col], old.loc[fixed, col], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=col
        )
    banded = new["details"].fillna("").str.contains('"reference"')
    assert banded.any()
    same = fixed & ~banded
    np.testing.assert_allclose(
        new.loc[same, "threshold"], old.loc[same, "threshold"], rtol=1e-9, atol=1e-12, equal_nan=True
    )
    pd.testing.assert_series_equal(old.loc[same, "status"], new.loc[same, "status"])
    # The exceptions are real metrics with values: only their bounds may differ.
    assert (~fixed).sum() > 0 and new.loc[~fixed, "value"].notna().any()
