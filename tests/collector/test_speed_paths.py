"""The fast write paths keep every guarantee: row order, first-valid-row dedupe, validation, fork safety."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.convert import rows_to_arrow
from duckwatch.errors import BadInputError
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import models_overview
from duckwatch.store.landing import BatchPlan, ColumnPlan, LandingPool, pending


def _landed(data: DataDir, stream: str, model: str) -> pa.Table:
    files = pending(data.landing, stream, model)
    assert len(files) == 1
    return pq.read_table(files[0])


def test_landed_file_keeps_source_row_order_across_row_groups(data_dir: DataDir) -> None:
    n = 300_000  # several Parquet row groups, written by more than one thread
    score = np.linspace(0, 1, n)
    score[::1000] = 2.0  # out of range: quarantined
    ids = [f"r{i}" for i in range(n)]
    ids[5] = "r4"  # duplicate of the row before: quarantined, r4 kept
    table = pa.table({"id": ids, "score": score})
    with Collector(data_dir.root) as c:
        res = c.log_predictions("order", table, idempotency_key="k1")
    bad = set(range(0, n, 1000)) | {5}
    assert (res.landed, res.quarantined) == (n - len(bad), len(bad))
    landed = _landed(data_dir, "predictions", "order")
    rows = landed.column("_row").to_numpy()
    assert (np.diff(rows) > 0).all()
    assert set(rows.tolist()) == set(range(n)) - bad
    assert landed.column("_id").to_pylist() == [f"r{r}" for r in rows.tolist()]  # rows stay whole
    q = _landed(data_dir, "quarantine", "order").to_pydict()
    assert q["_row"] == sorted(bad)
    assert q["_reason"][q["_row"].index(5)] == "duplicate id r4 within this batch (first row kept)"


def test_duplicate_ids_keep_the_first_valid_row_and_missing_ids_are_not_duplicates(
    data_dir: DataDir,
) -> None:
    table = pa.table(
        {
            "id": ["a", "a", "a", "b", None, None, "", "b", "c"],
            "score": [9.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        }
    )
    with Collector(data_dir.root) as c:
        res = c.log_predictions("dup", table)
    q = _landed(data_dir, "quarantine", "dup").to_pydict()
    reasons = dict(zip(q["_row"], q["_reason"], strict=True))
    assert sorted(reasons) == [0, 2, 4, 5, 6, 7]
    assert "probability in [0, 1]" in reasons[0]  # invalid first "a": the next valid "a" is kept
    assert reasons[2] == "duplicate id a within this batch (first row kept)"
    assert reasons[7] == "duplicate id b within this batch (first row kept)"
    assert all(reasons[r].startswith("missing id") for r in (4, 5, 6))
    assert res.landed == 3
    assert _landed(data_dir, "predictions", "dup").column("_id").to_pylist() == ["a", "b", "c"]


def test_one_row_fast_path_still_validates_names_labels_and_roles(data_dir: DataDir) -> None:
    c = Collector(data_dir.root, flush_interval_s=3600)
    for _ in range(2):  # validation is not skipped once a name was seen
        with pytest.raises(BadInputError, match="invalid model name"):
            c.log_predictions("../etc", {"id": "1"})
    with pytest.raises(BadInputError, match="invalid version"):
        c.log_predictions("m", {"id": "1"}, version="a/b")
    with pytest.raises(BadInputError, match="unknown role"):
        c.log_predictions("m", {"id": "1"}, colour="x")
    c.log_predictions("m", {"id": "1", "score": 0.5})
    c.log_predictions("m", {"id": "2", "score": 0.5}, version=None)  # type: ignore[arg-type]
    c.log_predictions("m", {"id": "3", "score": 0.5, "extra": "x"})  # a different key set
    c.log_predictions("m", {"id": "4", "score": 0.5}, version="v2")
    c.close()
    run_tick(data_dir)
    assert models_overview(data_dir)[0]["predictions"] == 4


def test_rows_to_arrow_fast_and_general_paths_agree() -> None:
    same: list[dict[str, object]] = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    assert rows_to_arrow(same).to_pylist() == same
    mixed: list[dict[str, object]] = [{"a": 1}, {"b": "y", "a": 2}, {"a": "three"}]
    assert rows_to_arrow(mixed).to_pylist() == [
        {"a": "1", "b": None},
        {"a": "2", "b": "y"},
        {"a": "three", "b": None},
    ]
    assert rows_to_arrow([{1: 0.5}, {1: 0.25}]).column_names == ["1"]  # type: ignore[dict-item]


def _plan(batch_id: str, timezone: str = "UTC") -> BatchPlan:
    return BatchPlan(
        model="pool",
        stream="inputs",
        batch_id=batch_id,
        version="",
        experiment="",
        timezone=timezone,
        received_at=datetime.now(UTC),
        id_index=0,
        ts_index=None,
        ts_kind="none",
        columns=(ColumnPlan(index=1, source="x", col_id="c1", dtype="numeric", role="feature"),),
        dedupe_ids=True,
        id_required=False,
    )


def test_pool_reuses_connections_and_drops_one_that_failed(tmp_path: Path) -> None:
    pool = LandingPool(max_idle=1)
    table = pa.table({"id": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    out = pool.land(table, _plan("b1"), tmp_path)
    assert (out.landed, out.quarantined) == (2, [(2, "duplicate id a within this batch (first row kept)")])
    first = pool._idle[0]
    pool.land(table, _plan("b2"), tmp_path)
    assert pool._idle == [first]  # reused, and its views were unregistered
    with pytest.raises(Exception, match=r"(?i)time ?zone"):
        pool.land(table, _plan("b3", timezone="Not/AZone"), tmp_path)
    assert pool._idle == []
    assert pool.land(table, _plan("b4"), tmp_path).landed == 2
    pool.close_idle()
    assert pool._idle == []


FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import pyarrow as pa
    from duckwatch import Collector

    c = Collector(sys.argv[1], flush_interval_s=3600)
    c.log_predictions("fork", pa.table({"id": ["p1", "p2"], "score": [0.1, 0.2]}))  # a pooled connection
    pid = os.fork()
    if pid == 0:
        c.log_predictions("fork", pa.table({"id": ["c1"], "score": [0.3]}))
        c.log_predictions("fork", {"id": "c2", "score": 0.4})
        c.close()
        sys.exit(0)  # a normal exit: an inherited open DuckDB database would crash here
    _, status = os.waitpid(pid, 0)
    c.log_predictions("fork", {"id": "p3", "score": 0.5})
    c.close()
    print("CHILD", os.waitstatus_to_exitcode(status))
    """
)


def test_fork_after_landing_gives_the_child_no_open_connection(data_dir: DataDir, tmp_path: Path) -> None:
    script = tmp_path / "fork.py"
    script.write_text(FORK_SCRIPT, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(data_dir.root)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "CHILD 0" in proc.stdout, proc.stdout + proc.stderr
    run_tick(data_dir)
    assert models_overview(data_dir)[0]["predictions"] == 5
