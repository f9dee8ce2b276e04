"""Column roles a user controls: `ignore`, `dtype` that takes effect, `--window`, `models set`.

Real CLI processes (tests/conftest.py `run_cli`), the SDK and monitors files on a real data dir.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.readmodels import app_views
from tests.conftest import CLI, run_cli

IGNORED = ("year", "batch_no")


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(data, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _frame(rng: np.random.Generator, start: str, n: int, shift: float, prefix: str) -> pd.DataFrame:
    """Predictions whose year and batch number change with every file (they would always read as drift)."""
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="10min", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "income": rng.normal(shift, 1.0, n),
            "zone": rng.integers(1, 6, n),
            "year": np.full(n, int(start[:4])),
            "batch_no": np.full(n, 7 if prefix == "ref" else 12),
            "score": rng.random(n),
        }
    )


def _csv(tmp_path: Path, name: str, frame: pd.DataFrame) -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _metrics(data: DataDir, model: str = "m") -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(_cli(data, "export", "metrics", "--model", model).stdout))


def _drift_columns(data: DataDir, model: str = "m") -> set[str]:
    frame = _metrics(data, model)
    return set(frame.loc[frame["family"] == "drift", "column"].dropna())


def _ingested(data: DataDir, tmp_path: Path, rng: np.random.Generator) -> None:
    """A new model from the CLI: two ignored columns, a day window, reference and 3 days of predictions."""
    ignore = [arg for col in IGNORED for arg in ("--ignore-col", col)]
    roles = ["--model", "m", "--id-col", "request_id", "--time-col", "ts", "--score-col", "score"]
    ref = _csv(tmp_path, "ref.csv", _frame(rng, "2024-06-01", 1500, 0.0, "ref"))
    _cli(data, "reference", ref, *roles, *ignore, "--window", "day")
    preds = _csv(tmp_path, "preds.csv", _frame(rng, "2026-01-01", 432, 0.0, "p"))
    _cli(data, "ingest", "predictions", preds, *roles, *ignore, "--window", "day")
    _cli(data, "run", "--no-notify", "--quiet")


def test_ignored_columns_land_but_are_never_monitored_and_survive_a_round_trip(
    data_dir: DataDir, tmp_path: Path, rng: np.random.Generator
) -> None:
    _ingested(data_dir, tmp_path, rng)
    frame = _metrics(data_dir)
    assert {"income", "zone"} <= set(frame["column"].dropna())
    assert not set(IGNORED) & set(frame["column"].dropna())  # no drift, no quality, no profile
    latest = app_views.drift_table(app_views.metrics(data_dir, "m"))
    assert not set(IGNORED) & set(latest["column"]) and "income" in set(latest["column"])
    exported = _cli(data_dir, "monitors", "export", "--model", "m").stdout
    doc = yaml.safe_load(exported)
    assert sorted(doc["ignore"]) == sorted(IGNORED) and doc["window"] == "day"
    assert not set(IGNORED) & set(doc["columns"])
    path = tmp_path / "m.yaml"
    path.write_text(exported, encoding="utf-8")
    _cli(data_dir, "monitors", "apply", str(path))
    assert _cli(data_dir, "monitors", "export", "--model", "m").stdout == exported
    # The rows were stored with their year: monitored again, it is computed from the stored rows.
    doc["ignore"] = ["batch_no"]
    doc["columns"]["year"] = {"role": "feature", "dtype": "numeric"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    applied = _cli(data_dir, "monitors", "apply", str(path)).stdout
    assert "column 'year' role ignore -> feature" in applied and "recomputed" in applied
    _cli(data_dir, "run", "--no-notify", "--quiet")
    drifted = _drift_columns(data_dir)
    assert {"income", "zone", "year"} <= drifted and "batch_no" not in drifted


def test_sdk_declare_ignore_stops_monitoring_a_known_feature(
    data_dir: DataDir, tmp_path: Path, rng: np.random.Generator
) -> None:
    _ingested(data_dir, tmp_path, rng)
    assert "income" in _drift_columns(data_dir)
    with Collector(data_dir.root) as c:
        c.declare("m", ignore=["income"])
    _cli(data_dir, "run", "--no-notify", "--quiet")
    assert "income" not in set(_metrics(data_dir)["column"].dropna())  # past windows too: recomputed
    assert "zone" in _drift_columns(data_dir)


def test_dtype_in_a_monitors_file_takes_effect_and_impossible_keys_stop_the_file(
    data_dir: DataDir, tmp_path: Path, rng: np.random.Generator
) -> None:
    _ingested(data_dir, tmp_path, rng)
    before = _metrics(data_dir).query("family == 'drift' and column == 'zone'")
    assert {"ks", "wasserstein_norm"} <= set(before["metric"])  # integer codes are binned as numbers
    doc = yaml.safe_load(_cli(data_dir, "monitors", "export", "--model", "m").stdout)
    doc["columns"]["zone"]["dtype"] = "categorical"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    said = _cli(data_dir, "monitors", "apply", str(path)).stdout
    assert "column 'zone' type numeric -> categorical" in said
    _cli(data_dir, "run", "--no-notify", "--quiet")
    after = _metrics(data_dir).query("family == 'drift' and column == 'zone'")
    assert "chi2" in set(after["metric"]) and not {"ks", "wasserstein_norm"} & set(after["metric"])
    again = yaml.safe_load(_cli(data_dir, "monitors", "export", "--model", "m").stdout)
    assert again["columns"]["zone"] == {"role": "feature", "dtype": "categorical"}
    # A stored column cannot become the event time: the file is refused, naming the key and its line.
    doc["columns"]["income"]["role"] = "timestamp"
    doc["columns"]["zone"]["dtype"] = "numeric"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    done = run_cli(data_dir, "monitors", "apply", str(path))
    assert done.returncode == 2 and "applied" not in done.stdout
    assert f"{path}:" in done.stderr and "columns.income.role" in done.stderr
    assert "nothing changed" in done.stderr and "Traceback" not in done.stderr
    unchanged = yaml.safe_load(_cli(data_dir, "monitors", "export", "--model", "m").stdout)
    assert unchanged["columns"]["zone"]["dtype"] == "categorical"


def _window_rows(data: DataDir) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(_cli(data, "export", "windows", "--model", "m").stdout))


def test_window_option_sets_a_new_model_and_models_set_recomputes_history(
    data_dir: DataDir, tmp_path: Path, rng: np.random.Generator
) -> None:
    roles = ["--model", "m", "--id-col", "request_id", "--time-col", "ts", "--score-col", "score"]
    preds = _csv(tmp_path, "preds.csv", _frame(rng, "2026-01-01", 432, 0.0, "p"))  # 3 days of 10 minutes
    _cli(data_dir, "ingest", "predictions", preds, *roles, "--window", "hour")
    _cli(data_dir, "run", "--no-notify", "--quiet")
    assert len(_window_rows(data_dir)) == 72
    # --window never changes an existing model's window: it says how to, and lands nothing.
    more = _csv(tmp_path, "more.csv", _frame(rng, "2026-01-04", 144, 0.0, "q"))
    done = run_cli(data_dir, "ingest", "predictions", more, *roles, "--window", "day")
    assert done.returncode == 2 and "duckwatch models set m --window day" in done.stderr
    assert "rows landed" not in done.stdout
    said = _cli(data_dir, "models", "set", "m", "--window", "day").stdout
    assert "hour -> day" in said and "recomputed" in said
    _cli(data_dir, "run", "--no-notify", "--quiet")
    days = _window_rows(data_dir)
    assert len(days) == 3 and pd.to_datetime(days["window_start"], utc=True).dt.hour.eq(0).all()
    row_counts = _metrics(data_dir).query("metric == 'row_count'")
    assert sorted(row_counts["value"]) == [144.0, 144.0, 144.0]
    assert "already day; nothing changed" in _cli(data_dir, "models", "set", "m", "--window", "day").stdout


def test_help_lists_the_new_options(data_dir: DataDir) -> None:
    for args, wanted in (
        (("ingest", "--help"), ("--ignore-col", "--window")),
        (("reference", "--help"), ("--ignore-col", "--window")),
        (("models", "set", "--help"), ("--window", "recomputed")),
    ):
        done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and all(w in done.stdout for w in wanted), done.stdout
