"""Temp files left by writers that died are swept when the landing zone is next opened (a Collector, the
CLI, the job), as soon as their writer is gone; a live writer's temp file is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.store.landing import pending
from duckwatch.store.landing_temp import ORPHAN_AFTER_S, STALE_AFTER_S, owner_pid, sweep_temp_files
from tests.conftest import CLI

# A writer killed while sealing: after its temp files are written and fsynced, before the rename.
DYING_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from duckwatch import Collector

    def die(*args, **kwargs):
        os._exit(17)

    data, source = sys.argv[1], sys.argv[2]
    os.link = die
    os.replace = die
    col = Collector(data)
    if source == "rows":
        col.log_predictions("m", pa.table({"id": ["a", "b"], "score": [0.1, 0.2]}))
    else:
        col.log_parquet("m", "predictions", source)
    """
)


def _temps(data: DataDir) -> list[Path]:
    return sorted(data.landing.glob("*/*/.tmp-*"))


def _age(paths: list[Path], seconds: float) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def _crash_writers(data: DataDir, tmp_path: Path) -> list[Path]:
    src = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(100)], "score": np.linspace(0, 1, 100)}), src)
    for source in ("rows", str(src)):
        done = subprocess.run([sys.executable, "-c", DYING_WRITER, str(data.root), source], timeout=120)
        assert done.returncode == 17
    temps = _temps(data)
    # Row-by-row temp file, the byte copy, and the byte copy's read plan: each names its dead writer.
    assert len(temps) == 3 and all(owner_pid(p.name) not in (None, os.getpid()) for p in temps), temps
    return temps


def test_a_dead_writers_temp_files_are_swept_when_a_collector_opens(
    data_dir: DataDir, tmp_path: Path
) -> None:
    with Collector(data_dir.root) as col:
        col.log_predictions("m", {"id": "kept", "score": 0.5})
    sealed = pending(data_dir.landing, "predictions", "m")
    temps = _crash_writers(data_dir, tmp_path)
    Collector(data_dir.root).close()
    assert _temps(data_dir) == temps  # just written: a writer in another PID namespace may still own them
    _age(temps, ORPHAN_AFTER_S + 60)
    Collector(data_dir.root).close()
    assert _temps(data_dir) == []
    assert pending(data_dir.landing, "predictions", "m") == sealed  # sealed batches are never touched


def test_the_cli_and_the_job_sweep_them_too(data_dir: DataDir, tmp_path: Path) -> None:
    temps = _crash_writers(data_dir, tmp_path)
    _age(temps, ORPHAN_AFTER_S + 60)
    done = subprocess.run(
        [*CLI, "run", "--no-notify", "--quiet", "--data-dir", str(data_dir.root)],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _temps(data_dir) == []


def test_a_live_writers_temp_file_is_kept_until_it_is_stale(data_dir: DataDir) -> None:
    folder = data_dir.landing / "predictions" / "m"
    folder.mkdir(parents=True)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        mine = folder / f".tmp-b1-p{live.pid}-0123abcd.parquet"
        legacy = folder / ".tmp-b2-89abcdef.parquet"  # named before writers were recorded
        orphan_plan = folder / "b3.plan.json"  # its data file never arrived
        for p in (mine, legacy, orphan_plan):
            p.write_bytes(b"partial")
        _age([mine, legacy, orphan_plan], ORPHAN_AFTER_S + 60)
        assert sweep_temp_files(data_dir.landing) == 0
        _age([mine, legacy, orphan_plan], STALE_AFTER_S + 60)
        assert sweep_temp_files(data_dir.landing) == 3
        assert list(folder.iterdir()) == []
    finally:
        live.kill()
        live.wait()
