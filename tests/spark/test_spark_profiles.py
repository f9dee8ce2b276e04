"""Spark profiles (PySpark local mode) against the single-node run on the same generated data.

Several Parquet files, two versions, a segment column, NULL/NaN/inf and a sentinel value, windows cut
in the model's time zone: `duckwatch spark profile` + `duckwatch ingest profiles` + a tick must give
the same profiles and the same drift and quality metrics as ingesting the rows locally.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.spark import profile, write_profiles
from tests.conftest import run_cli

MODEL = "credit"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROLES: dict[str, Any] = {
    "id": "request_id", "timestamp": "ts", "scores": "score", "prediction": "prediction",
    "segments": "region", "label": "label",
}  # fmt: skip


def _features(rng: np.random.Generator, n: int, shift: float) -> dict[str, pa.Array]:
    income = rng.lognormal(10 + shift, 0.5, n)
    income[rng.uniform(size=n) < 0.03] = -1.0  # a sentinel: a special value of its own
    age = rng.integers(18, 90, n).astype(float)
    age[rng.uniform(size=n) < 0.01] = np.nan
    age[rng.uniform(size=n) < 0.005] = np.inf
    score = 1 / (1 + np.exp(-rng.normal(shift, 1, n)))
    channels = np.array(["web", "app", "branch", "phone", "partner"])
    channel = rng.choice(channels[: 4 if shift == 0 else 5], n)  # "partner": unseen in the reference
    return {
        "income": pa.array(income),
        "age": pa.array(age, mask=rng.uniform(size=n) < 0.02, from_pandas=False),  # NULL and NaN apart
        "region": pa.array(rng.choice(["north", "south", "east", "west"], n)),
        "channel": pa.array(channel, mask=rng.uniform(size=n) < 0.01),
        "score": pa.array(score),
        "prediction": pa.array((score > 0.5).astype(np.int64)),
    }


def _reference(rng: np.random.Generator) -> pa.Table:
    cols = _features(rng, 4000, 0.0)
    cols["label"] = pa.array((rng.uniform(size=4000) < 0.3).astype(np.int64))
    return pa.table(cols)


def _files(rng: np.random.Generator) -> list[tuple[str, pa.Table]]:
    """(version, rows) of four files: two versions, three days, the last one drifted in v2."""
    out = []
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    for k, (version, day0, days) in enumerate([("v1", 0, 2), ("v1", 2, 1), ("v2", 0, 1), ("v2", 1, 2)]):
        n = 700 * days
        ts = (
            start
            + pd.Timedelta(days=day0)
            + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s")
        )
        cols = _features(rng, n, 0.4 if version == "v2" and day0 > 0 else 0.0)
        table = pa.table(
            {"request_id": pa.array([f"{version}-{k}-{i}" for i in range(n)]),
             "ts": pa.array(ts.to_numpy(), pa.timestamp("us", tz="UTC")), **cols}
        )  # fmt: skip
        out.append((version, table))
    return out


def _new_dir(root: Path, reference: pa.Table) -> DataDir:
    data = DataDir(root).ensure()
    with Collector(data.root) as c:
        c.declare(MODEL, timezone="Europe/Paris", window="day", **ROLES)
        c.log_reference(MODEL, reference)
    run_tick(data, now=NOW, notify=False)  # the reference profiles, which the Spark pass bins against
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> dict[str, Any]:
    rng = np.random.default_rng(20261207)
    root = tmp_path_factory.mktemp("spark")
    reference, files = _reference(rng), _files(rng)
    local, remote = _new_dir(root / "local", reference), _new_dir(root / "spark", reference)
    lake = root / "lake"
    lake.mkdir()
    with Collector(local.root) as c:
        for i, (version, table) in enumerate(files):
            c.log_predictions(MODEL, table, version=version)
            pq.write_table(table.append_column("model_version", pa.array([version] * table.num_rows)),
                           lake / f"part-{i}.parquet")  # fmt: skip
    run_tick(local, now=NOW, notify=False)
    df = spark.read.parquet(str(lake))
    result = profile(df, remote.root, MODEL, version_col="model_version")
    out = root / "profiles"
    written = write_profiles(result, out)
    first = run_cli(remote, "ingest", "profiles", str(out), "--model", MODEL)
    again = run_cli(remote, "ingest", "profiles", str(out), "--model", MODEL)
    run_tick(remote, now=NOW, notify=False)
    return {"local": local, "spark": remote, "written": written, "first": first, "again": again, "df": df}


def _profiles(data: DataDir) -> dict[tuple[Any, ...], dict[str, Any]]:
    import json

    with duckdb.connect(str(data.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT version, experiment, epoch_us(window_start), col_id, profile FROM profiles WHERE segment = ''"
        ).fetchall()
    return {(v, e, ws, c): json.loads(p) for v, e, ws, c, p in rows}


def _metrics(data: DataDir) -> pd.DataFrame:
    frame = export_frame(data, "metrics", MODEL)
    keys = ["version", "experiment", "window_start", "family", "metric", "column", "segment"]
    return frame.sort_values(keys).reset_index(drop=True)


def test_files_per_window_and_ingest_counts_a_file_once(runs: dict[str, Any]) -> None:
    # v1 and v2 over three days cut at midnight in Paris (23:00 UTC): four windows per version.
    assert len(runs["written"]) == 8
    assert runs["first"].returncode == 0, runs["first"].stderr
    assert runs["first"].stdout.startswith("8 profile files merged (4200 rows, 8 windows marked dirty)")
    assert runs["again"].returncode == 0, runs["again"].stderr
    assert "0 profile files merged" in runs["again"].stdout and "8 already merged" in runs["again"].stdout


def test_spark_profiles_equal_local_profiles(runs: dict[str, Any]) -> None:
    local, remote = _profiles(runs["local"]), _profiles(runs["spark"])
    assert local.keys() == remote.keys() and len(local) == 8 * 6
    for key, a in local.items():
        b = remote[key]
        for field in (
            "counts",
            "special_counts",
            "n_null",
            "n_nan",
            "n_inf",
            "n",
            "other",
            "unseen",
            "unseen_examples",
            "edges",
            "specials",
            "values",
        ):
            assert a.get(field) == b.get(field), (key, field)
        for field in ("sums", "mean", "m2", "min", "max"):
            if field in a:
                np.testing.assert_allclose(
                    b[field], a[field], rtol=1e-12, atol=1e-9, err_msg=str((key, field))
                )


def test_drift_and_quality_from_spark_profiles_equal_the_single_node_run(runs: dict[str, Any]) -> None:
    a, b = _metrics(runs["local"]), _metrics(runs["spark"])
    keys = ["version", "experiment", "window_start", "family", "metric", "column", "segment"]
    # What the calculators that need rows compute (duplicate ids, labels) is compared in the next test.
    from_rows = a["metric"].isin(["duplicate_id_share", "label_coverage_at_age"])
    a = a[a["family"].isin(["drift", "output", "quality", "volume"]) & ~from_rows]
    b_same = b[b["metric"] != "not_available"]
    merged = a.merge(b_same, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", [*keys, "_merge"]]
    assert len(merged) > 100
    exact = merged["exact_a"] == merged["exact_b"]
    np.testing.assert_allclose(
        merged.loc[exact, "value_b"], merged.loc[exact, "value_a"], rtol=1e-9, atol=1e-12
    )
    assert (merged.loc[exact, "status_a"] == merged.loc[exact, "status_b"]).all()
    # Where the single-node run read raw rows to decide an undecided bound, Spark keeps the bound.
    refined = merged[~exact]
    assert (refined["exact_a"] & ~refined["exact_b"]).all()
    assert (
        (refined["value_a"] >= refined["lower_b"] - 1e-12)
        & (refined["value_a"] <= refined["upper_b"] + 1e-12)
    ).all()


def _open_alerts(data: DataDir) -> set[tuple[str, ...]]:
    import sqlite3

    with sqlite3.connect(data.settings) as con:
        rows = con.execute(
            "SELECT version, family, metric, col, severity, window_start FROM alerts WHERE state != 'resolved'"
        ).fetchall()
    return {
        tuple(str(x) for x in r) for r in rows if r[2] not in ("duplicate_id_share", "label_coverage_at_age")
    }


# What a Spark-profiled window cannot compute (it says "not_available" instead): no alert either.
NEEDS_ROWS = ("performance", "estimate")


def test_the_same_alerts_open(runs: dict[str, Any]) -> None:
    local = {a for a in _open_alerts(runs["local"]) if a[1] not in NEEDS_ROWS}
    assert local, "the drifted v2 windows open alerts"
    assert _open_alerts(runs["spark"]) == local


def test_metrics_that_need_rows_say_they_are_not_available(runs: dict[str, Any]) -> None:
    b = _metrics(runs["spark"])
    missing = b[b["metric"] == "not_available"]
    assert set(missing["column"]) >= {"performance", "label_free", "duplicate_ids"}
    assert missing["value"].isna().all()
    assert not b["family"].isin(["performance", "estimate"]).any()


def test_merge_property_1_4_16_partitions(runs: dict[str, Any]) -> None:
    from pyspark.sql import functions as F

    from duckwatch.spark.assemble import assemble
    from duckwatch.spark.frame import aggregate
    from duckwatch.spark.state import load_state

    state = load_state(runs["spark"], MODEL)
    df = runs["df"]
    cols = state.columns
    found = []
    for parts in (1, 4, 16):
        agg = aggregate(df.repartition(parts), state, cols, "ts", F.col("model_version"), F.lit(""))
        found.append(assemble([tuple(r) for r in agg.collect()], cols, state.reference)[0])
    base = found[0]
    for other in found[1:]:
        assert other.keys() == base.keys()
        for key, (n, profiles) in base.items():
            assert other[key][0] == n
            for col_id, p in profiles.items():
                q = other[key][1][col_id].to_dict()
                d = p.to_dict()
                for field in ("counts", "special_counts", "n_null", "n_nan", "n_inf", "n", "other", "unseen"):
                    assert q.get(field) == d.get(field)
                for field in ("sums", "mean", "m2"):
                    if field in d:
                        np.testing.assert_allclose(q[field], d[field], rtol=1e-12, atol=0)


def test_cli_spark_profile_writes_the_same_profiles(runs: dict[str, Any], tmp_path: Path) -> None:
    lake = str(Path(runs["local"].root).parent / "lake")
    out = tmp_path / "cli"
    done = run_cli(runs["spark"], "spark", "profile", "--model", MODEL, "--input", lake, "--out", str(out),
                   "--master", "local[1]", "--version-col", "model_version")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote 8 profile files to ")
    import json

    def counts(paths: list[Path]) -> dict[tuple[str, str], Any]:
        docs = [json.loads(p.read_text()) for p in paths]
        return {
            (d["version"], d["window_start"]): (
                d["rows"],
                {c: p["profile"].get("counts") for c, p in d["profiles"].items()},
            )
            for d in docs
        }

    assert counts(sorted(out.iterdir())) == counts(runs["written"])
    # The same input profiled again: other float sums may give another hash, never a second count.
    again = run_cli(runs["spark"], "ingest", "profiles", str(out), "--model", MODEL)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("0 profile files merged")


def test_bad_input_is_refused_with_one_line(runs: dict[str, Any], tmp_path: Path) -> None:
    lake = str(Path(runs["local"].root).parent / "lake")
    unknown = run_cli(
        runs["spark"], "spark", "profile", "--model", "nope", "--input", lake, "--out", str(tmp_path)
    )
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: unknown model 'nope'")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.dwprofile.json").write_text("{}")
    refused = run_cli(runs["spark"], "ingest", "profiles", str(bad), "--model", MODEL)
    assert refused.returncode == 2 and "x.dwprofile.json is not a duckwatch profile file" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_row_count_windows_are_refused(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "rows").ensure()
    with Collector(data.root) as c:
        c.declare("counted", window="rows:1000")
    done = run_cli(data, "spark", "profile", "--model", "counted", "--input", "x", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "rows in a lake have no arrival order" in done.stderr and "Traceback" not in done.stderr
