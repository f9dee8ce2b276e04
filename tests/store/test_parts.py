"""Parquet files landed as byte copies and kept as raw parts read exactly like rows landed one by one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.convert import to_arrow
from duckwatch.jobs.retention import drop_before
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.store import parts
from duckwatch.store.catalog import get_columns, get_model
from duckwatch.store.landing import pending
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse, raw_table
from tests.conftest import make_predictions

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "PART_MIN_ROWS", 100)  # test-sized batches become parts


def _frame(rng: np.random.Generator, n: int, start: str = "2026-01-20", prefix: str = "r") -> pd.DataFrame:
    df = make_predictions(rng, n, start=start, freq="17min", prefix=prefix)
    df["age"] = df["age"].astype("int64")  # integers stored as numbers (cast)
    df["ts"] = df["ts"].dt.tz_localize(None)  # naive wall-clock times: the model's zone applies
    return df


def _rows(data: DataDir, model: str, stream: str = "predictions") -> pd.DataFrame:
    info = get_model(Settings(data.settings), model)
    assert info is not None
    wh = Warehouse(data)
    try:
        view = raw_table(info.model_key, stream)
        df = wh.arrow(f"SELECT * EXCLUDE (_batch, _received_at, _seq) FROM {view}").to_pandas()
    finally:
        wh.close()
    return df.sort_values("_id").reset_index(drop=True)


def _nan_null(data: DataDir, model: str, name: str) -> tuple[int, int]:
    info = get_model(Settings(data.settings), model)
    assert info is not None
    col_id = {c.name: c.col_id for c in get_columns(Settings(data.settings), model)}[name]
    wh = Warehouse(data)
    try:
        row = wh.rows(
            f"SELECT count(*) FILTER (isnan({col_id})), count(*) FILTER ({col_id} IS NULL) "
            f"FROM {raw_table(info.model_key, 'predictions')}"
        )[0]
    finally:
        wh.close()
    return int(row[0]), int(row[1])


def _write(tmp: Path, df: pd.DataFrame) -> Path:
    path = tmp / "batch.parquet"
    pq.write_table(to_arrow(df), path)
    return path


def _declare(c: Collector, model: str) -> None:
    c.declare(model, id="request_id", timestamp="ts", scores="score", timezone="Europe/Berlin")


def test_byte_copied_part_equals_row_by_row(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    df = _frame(rng, 3000)
    table = to_arrow(df)
    income = table.column("income").to_numpy(zero_copy_only=False).copy()
    income[::11] = np.nan  # NaN (a float value) next to NULL (missing): both kept apart
    i = table.schema.get_field_index("income")
    table = table.set_column(i, "income", pa.array(income, mask=np.arange(3000) % 7 == 0))
    src = tmp_path / "batch.parquet"
    pq.write_table(table, src)
    with Collector(data_dir.root) as c:
        for model in ("copied", "rows"):
            _declare(c, model)
        res = c.log_parquet("copied", "predictions", src)
        c.log_predictions("rows", table)
    assert res.landed == 3000 and res.quarantined == 0
    landed = pending(data_dir.landing, "predictions", "copied")
    assert len(landed) == 1 and landed[0].read_bytes() == src.read_bytes()  # sealed as a byte copy
    run_tick(data_dir, now=NOW, notify=False)
    found = sorted(
        str(f.relative_to(data_dir.root / "parts")) for f in (data_dir.root / "parts").rglob("*.parquet")
    )
    assert len(found) == 2 and sum("/seq=" in f for f in found) == 1, found  # a byte copy and a sealed part
    a, b = _rows(data_dir, "copied"), _rows(data_dir, "rows")
    pd.testing.assert_frame_equal(a.drop(columns="_row"), b.drop(columns="_row"))
    assert a["_ts"].min() == pd.Timestamp(df["ts"].min()).tz_localize("Europe/Berlin")
    nan_null = [_nan_null(data_dir, m, "income") for m in ("copied", "rows")]
    nans = int(((np.arange(3000) % 11 == 0) & (np.arange(3000) % 7 != 0)).sum())
    assert nan_null[0] == nan_null[1] == (nans, int((np.arange(3000) % 7 == 0).sum()))
    metrics = [export_frame(data_dir, "metrics", m).drop(columns=["model"]) for m in ("copied", "rows")]
    cols = ["window_start", "family", "metric", "column", "value", "status"]
    pd.testing.assert_frame_equal(
        metrics[0][cols].sort_values(cols[:4]).reset_index(drop=True),
        metrics[1][cols].sort_values(cols[:4]).reset_index(drop=True),
    )


def test_bad_rows_take_the_row_by_row_path(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    df = _frame(rng, 500)
    df.loc[3, "score"] = 1.7  # not a probability
    df.loc[9, "request_id"] = df.loc[8, "request_id"]  # repeated id
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        res = c.log_parquet("m", "predictions", _write(tmp_path, df))
    assert (res.landed, res.quarantined) == (498, 2)
    assert not list(data_dir.landing.rglob("*.plan.json"))
    run_tick(data_dir, now=NOW, notify=False)
    assert len(_rows(data_dir, "m")) == 498


def test_duplicates_of_earlier_batches_count_once(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    df = _frame(rng, 1000)
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        c.log_parquet("m", "predictions", _write(tmp_path, df))
    run_tick(data_dir, now=NOW, notify=False)
    again = pd.concat([df.iloc[:400], _frame(rng, 300, prefix="new")])
    with Collector(data_dir.root) as c:
        c.log_parquet("m", "predictions", _write(tmp_path, again))
    run_tick(data_dir, now=NOW, notify=False)
    rows = _rows(data_dir, "m")
    assert len(rows) == 1300 and rows["_id"].is_unique
    quarantine = export_frame(data_dir, "quarantine", "m")
    assert len(quarantine) == 400


def test_retention_cuts_through_a_part(data_dir: DataDir, rng: np.random.Generator, tmp_path: Path) -> None:
    df = _frame(rng, 4000, start="2026-01-20")  # ~47 days: January and February
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        c.log_parquet("m", "predictions", _write(tmp_path, df))
    run_tick(data_dir, now=NOW, notify=False)
    ts = pd.Series(df["ts"]).dt.tz_localize("Europe/Berlin").dt.tz_convert("UTC")
    january = int((ts < pd.Timestamp("2026-02-01", tz="UTC")).sum())
    assert 0 < january < 4000
    assert drop_before(data_dir, "m", "2026-02") == january
    assert len(_rows(data_dir, "m")) == 4000 - january
    assert not list((data_dir.root / "parts").rglob("*.parquet")), "the spanning part became rows"


def test_reference_replaced_by_version_and_data_dir_moved(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    ref = _frame(rng, 800, prefix="ref").drop(columns=["request_id", "ts"])
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        c.log_parquet("m", "reference", _write(tmp_path, ref))
    run_tick(data_dir, now=NOW, notify=False)
    with Collector(data_dir.root) as c:
        c.log_parquet("m", "reference", _write(tmp_path, ref.iloc[:300]))
    run_tick(data_dir, now=NOW, notify=False)
    assert len(_rows(data_dir, "m", "reference")) == 300
    assert len(list((data_dir.root / "parts").rglob("*.parquet"))) == 1  # the replaced part is deleted
    moved = DataDir(tmp_path / "moved")
    shutil.move(str(data_dir.root), moved.root)
    assert len(_rows(moved, "m", "reference")) == 300  # views follow the data dir


def test_killed_after_linking_a_part_then_rerun(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    df = _frame(rng, 2000)
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        c.log_parquet("m", "predictions", _write(tmp_path, df))
    child = (
        "import os, signal, sys\n"
        "from datetime import datetime\n"
        "from pathlib import Path\n"
        "import duckwatch.store.parts as parts, duckwatch.store.warehouse as warehouse\n"
        "from duckwatch.config import DataDir\n"
        "from duckwatch.jobs.tick import run_tick\n"
        "parts.PART_MIN_ROWS = 100\n"
        "warehouse.Warehouse._ledger = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "run_tick(DataDir(Path(sys.argv[1])), now=datetime.fromisoformat(sys.argv[2]), notify=False)\n"
    )
    p = subprocess.run([sys.executable, "-c", child, str(data_dir.root), NOW.isoformat()], check=False)
    assert p.returncode == -9
    assert list((data_dir.root / "parts").rglob("*.parquet")), "linked before the kill"
    assert pending(data_dir.landing, "predictions", "m"), "the landing file is still there"
    run_tick(data_dir, now=NOW, notify=False)
    rows = _rows(data_dir, "m")
    assert len(rows) == 2000 and rows["_id"].is_unique
    assert not pending(data_dir.landing, "predictions", "m")
    assert not list(data_dir.landing.rglob("*.plan.json"))


def test_a_warehouse_from_before_parts_is_upgraded(data_dir: DataDir, rng: np.random.Generator) -> None:
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        c.log_predictions("m", _frame(rng, 60, prefix="small"))  # below PART_MIN_ROWS: stored rows
    run_tick(data_dir, now=NOW, notify=False)
    # Turn it back into the layout of earlier versions: plain raw tables, no stream stats.
    wh = Warehouse(data_dir)
    for (view,) in wh.rows("SELECT view_name FROM duckdb_views() WHERE starts_with(view_name, 'raw_')"):
        wh.execute(f"DROP VIEW {view}")
        wh.execute(f"ALTER TABLE {parts.rows_table(view)} RENAME TO {view}")
    wh.execute("DELETE FROM stream_stats")
    wh.execute("DELETE FROM job_state WHERE key IN ('parts_root', 'stream_stats')")
    wh.close()
    with Collector(data_dir.root) as c:
        c.log_predictions("m", _frame(rng, 40, start="2026-02-10", prefix="late"))
    run_tick(data_dir, now=NOW, notify=False)
    assert len(_rows(data_dir, "m")) == 100
    info = get_model(Settings(data_dir.settings), "m")
    assert info is not None
    wh = Warehouse(data_dir)
    try:
        stats = wh.rows(
            "SELECT rows FROM stream_stats WHERE model_key = ? AND stream = 'predictions'", [info.model_key]
        )
    finally:
        wh.close()
    assert stats == [(100,)]  # backfilled from the old rows, then the new batch merged in


def test_new_rows_read_through_a_source_narrowed_to_their_parts(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    # Four ticks: a byte-copied part, a row-by-row part, small batches in the rows table, a new column.
    with Collector(data_dir.root) as c:
        _declare(c, "m")
        c.log_parquet("m", "predictions", _write(tmp_path, _frame(rng, 400, prefix="a")))
    run_tick(data_dir, now=NOW, notify=False)
    with Collector(data_dir.root) as c:
        c.log_predictions("m", _frame(rng, 300, start="2026-01-25", prefix="b"))
    run_tick(data_dir, now=NOW, notify=False)
    with Collector(data_dir.root) as c:
        c.log_predictions("m", _frame(rng, 50, start="2026-01-27", prefix="c"))  # below PART_MIN_ROWS
    run_tick(data_dir, now=NOW, notify=False)
    with Collector(data_dir.root) as c:
        c.log_predictions("m", _frame(rng, 200, start="2026-01-28", prefix="d").assign(extra=1.5))
    run_tick(data_dir, now=NOW, notify=False)
    info = get_model(Settings(data_dir.settings), "m")
    assert info is not None
    wh = Warehouse(data_dir)
    try:
        view = raw_table(info.model_key, "predictions")
        seqs = [r[0] for r in wh.rows(f"SELECT DISTINCT _seq FROM {view} ORDER BY 1")]
        assert len(seqs) == 4
        cols = sorted(wh.table_columns(view))
        for lo, hi in [(0, seqs[-1]), (seqs[0], seqs[1]), (seqs[1], seqs[3]), (seqs[3], seqs[3] + 1)]:
            order = " ORDER BY _id"
            narrowed = wh.raw_since(info.model_key, "predictions", lo, hi)
            got = wh.arrow(
                f"SELECT {', '.join(cols)} FROM {narrowed} WHERE _seq > ? AND _seq <= ?{order}", [lo, hi]
            )
            want = wh.arrow(
                f"SELECT {', '.join(cols)} FROM {view} WHERE _seq > ? AND _seq <= ?{order}", [lo, hi]
            )
            assert got.equals(want) and got.num_rows == want.num_rows
        assert wh.rows(f"SELECT count(*) FROM {view} WHERE _seq > ?", [seqs[0]])[0][0] == 550
    finally:
        wh.close()
