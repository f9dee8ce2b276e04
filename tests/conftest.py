"""Shared fixtures: a temporary data dir with migrations applied, seeded random data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch.config import DataDir
from duckwatch.store.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "duckwatch.cli"]


def run_cli(
    data: DataDir, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``duckwatch ARGS --data-dir DATA`` as a real process (2 minutes at most), output captured."""
    return subprocess.run(
        [*CLI, *args, "--data-dir", str(data.root)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ if env is None else env),
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    """An initialised, empty data dir."""
    data = DataDir(tmp_path / "data").ensure()
    Settings(data.settings).schema_version()
    return data


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


def make_predictions(
    rng: np.random.Generator, n: int, start: str = "2026-01-01", freq: str = "1min", prefix: str = "r"
) -> pd.DataFrame:
    """A realistic binary-classifier prediction frame."""
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-x))
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq=freq, tz="UTC"),
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.integers(18, 90, n).astype(float),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "score": p,
            "prediction": (p > 0.5).astype(int),
        }
    )


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests talk only to 127.0.0.1; a proxy in the environment must never intercept that.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("DUCKWATCH_DUCKDB_THREADS", "2")
