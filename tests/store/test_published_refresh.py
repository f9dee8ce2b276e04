"""A published file refreshed window by window holds exactly what a file built afresh holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store import published
from duckwatch.store.duck import reading
from duckwatch.store.warehouse import Warehouse

DAY = datetime(2026, 6, 1, tzinfo=UTC)
FULL_BUILD = published._build  # the reference: the file written from scratch
TABLES = ("metric_results", "profiles", "window_state", "reference_profiles", "quarantine", "stream_stats",
          "quarantine_counts", "schema_version")  # fmt: skip


def _day(rng: np.random.Generator, day: int, n: int, prefix: str, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{day}-{i}" for i in range(n)],
            "ts": [DAY + timedelta(days=day, seconds=int(s)) for s in rng.integers(0, 86_400, n)],
            "x": x,
            "region": rng.choice(["north", "south", "east"], n),
            "score": 1 / (1 + np.exp(-x)),
        }
    )


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with reading(path, "UTC") as con:
        assert con is not None
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def _assert_same_as_full_build(data: DataDir, model: str = "m") -> None:
    """Every table of the published file equals a full build of the same warehouse."""
    fresh = data.root / "fresh.duckdb"
    fresh.unlink(missing_ok=True)
    wh = Warehouse(data)
    try:
        key = int(wh.rows("SELECT DISTINCT model_key FROM stream_stats")[0][0])
        FULL_BUILD(wh, model, key, fresh)
    finally:
        wh.close()
    final = published.path_for(data, model)
    for table in TABLES:
        assert _rows(final, table) == _rows(fresh, table), table
    fresh.unlink()


def _tick(data: DataDir, day: int) -> None:
    report = run_tick(data, now=DAY + timedelta(days=day + 1, hours=2), notify=False)
    assert report.errors == []


def test_refreshed_file_equals_a_full_build_through_a_models_life(
    data_dir: DataDir, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []

    def counting_build(wh: Warehouse, model: str, model_key: int, tmp: Path) -> None:
        builds.append(model)
        FULL_BUILD(wh, model, model_key, tmp)

    monkeypatch.setattr(published, "_build", counting_build)
    roles = {"timestamp": "ts", "id": "request_id", "scores": "score", "segments": "region"}
    with Collector(data_dir.root) as col:
        col.declare("m", window="day", **roles)
        col.log_reference("m", _day(rng, 0, 3000, "ref").drop(columns=["ts"]), scores="score")
        for day in range(3):
            col.log_predictions("m", _day(rng, day, 800, "p"), **roles)
    _tick(data_dir, 2)
    assert builds == ["m"]  # nothing published yet: built afresh
    _assert_same_as_full_build(data_dir)

    # A new window; late rows, a repeated id and a bad row for an earlier one (recomputed, quarantined).
    late = _day(rng, 1, 200, "late", shift=0.5)
    late.loc[0, "request_id"] = "p1-0"
    late.loc[1, "score"] = 7.0
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _day(rng, 3, 900, "p", shift=1.0), **roles)
        col.log_predictions("m", late, **roles)
    _tick(data_dir, 3)
    _assert_same_as_full_build(data_dir)

    # Windows that disappear from the warehouse disappear from the published file.
    wh = Warehouse(data_dir)
    try:
        for table in ("metric_results", "profiles"):
            wh.execute(f"DELETE FROM {table} WHERE window_start = ?", [DAY])
        published.publish_model(wh, "m", int(wh.rows("SELECT DISTINCT model_key FROM stream_stats")[0][0]))
    finally:
        wh.close()
    _assert_same_as_full_build(data_dir)

    # A new reference changes every profile and metric.
    with Collector(data_dir.root) as col:
        col.log_reference(
            "m", _day(rng, 0, 2000, "ref2", shift=0.3).drop(columns=["ts"]), scores="score", version="v2"
        )
        col.log_predictions("m", _day(rng, 4, 700, "p"), **roles)
    _tick(data_dir, 4)
    _assert_same_as_full_build(data_dir)
    assert builds == ["m"]  # every later publish refreshed the copy in place


def test_a_file_of_another_schema_is_built_afresh(data_dir: DataDir, rng: np.random.Generator) -> None:
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _day(rng, 0, 500, "p"), timestamp="ts", scores="score")
    _tick(data_dir, 0)
    final = published.path_for(data_dir, "m")
    # An older layout: a column the warehouse has is missing from the published copy.
    con = duckdb.connect(str(final))
    con.execute("ALTER TABLE metric_results DROP COLUMN details")
    con.close()
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _day(rng, 1, 500, "p"), timestamp="ts", scores="score")
    _tick(data_dir, 1)
    _assert_same_as_full_build(data_dir)


def test_only_a_mostly_free_file_is_built_afresh(
    data_dir: DataDir, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh that makes the file much bigger is kept (no full build every other tick after it);
    a file whose blocks are mostly free after refreshes is written afresh."""
    builds: list[str] = []

    def counting_build(wh: Warehouse, model: str, model_key: int, tmp: Path) -> None:
        builds.append(model)
        FULL_BUILD(wh, model, model_key, tmp)

    monkeypatch.setattr(published, "_build", counting_build)
    monkeypatch.setattr(published, "_SLACK", 0)  # no small-file allowance at this test's scale
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _day(rng, 0, 50, "p"), timestamp="ts", scores="score")
    _tick(data_dir, 0)
    assert builds == ["m"]
    with Collector(data_dir.root) as col:  # many more windows: the file grows far past its first size
        for day in range(1, 30):
            col.log_predictions("m", _day(rng, day, 400, f"p{day}-"), timestamp="ts", scores="score")
    _tick(data_dir, 30)
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _day(rng, 30, 400, "p30-"), timestamp="ts", scores="score")
    _tick(data_dir, 31)
    assert builds == ["m"]
    final = published.path_for(data_dir, "m")
    con = duckdb.connect(str(final))  # blocks that refreshes left free, in the middle of the file
    con.execute("CREATE TABLE filler AS SELECT range AS i, md5(range::VARCHAR) AS h FROM range(1000000)")
    con.execute("CHECKPOINT")
    con.execute("CREATE TABLE tail AS SELECT range AS i FROM range(100000)")
    con.execute("CHECKPOINT")
    con.execute("DROP TABLE filler")
    con.execute("CHECKPOINT")
    con.close()
    with Collector(data_dir.root) as col:
        col.log_predictions("m", _day(rng, 31, 400, "p31-"), timestamp="ts", scores="score")
    _tick(data_dir, 33)
    assert builds == ["m", "m"]
    _assert_same_as_full_build(data_dir)
