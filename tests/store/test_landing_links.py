"""Symbolic links planted in the landing zone are never followed: not listed, ingested, shown or
swept through, and each is reported with what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.store.landing import pending, pending_models
from duckwatch.store.landing_dir import QUARANTINE_SCHEMA
from tests.conftest import run_cli

SECRET = "root:x:0:0:SECRET-PASSWD-LINE"


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(data, *args)


def _plant(data: DataDir, tmp_path: Path) -> dict[str, Path]:
    """A model with real rows, and links into the landing zone that point outside it."""
    with Collector(data.root) as col:
        col.log_predictions("m", [{"id": f"r{i}", "score": 0.5} for i in range(3)])
        col.quarantine_lines("m", "predictions", [(2, "malformed line: test", "genuine raw")])
    outside = tmp_path / "outside"
    outside.mkdir()
    passwd = outside / "passwd"
    passwd.write_text(SECRET + "\n", encoding="utf-8")
    foreign = outside / "foreign.parquet"  # a quarantine file of someone else's, holding a secret
    row = {"_batch": "b", "_row": 1, "_stream": "predictions", "_version": "", "_experiment": "",
           "_reason": "x", "_raw": SECRET, "_received_at": None, "_ts": None}  # fmt: skip
    pq.write_table(pa.Table.from_pylist([row], schema=QUARANTINE_SCHEMA), foreign)
    elsewhere = outside / "model-dir"
    elsewhere.mkdir()
    [sealed] = pending(data.landing, "predictions", "m")
    shutil.copy(sealed, elsewhere / "00000000000000000001-1-000000.parquet")
    links = {
        "passwd": data.landing / "quarantine" / "m" / "evil.parquet",
        "foreign": data.landing / "quarantine" / "m" / "00000000000000000000-1-000000.parquet",
        "dir": data.landing / "predictions" / "m2",
        "stale temp": data.landing / "predictions" / "m" / ".tmp-x-p1-0123abcd.parquet",
    }
    links["passwd"].symlink_to(passwd)
    links["foreign"].symlink_to(foreign)
    links["dir"].symlink_to(elsewhere, target_is_directory=True)
    links["stale temp"].symlink_to(passwd)
    os.utime(links["stale temp"], (0, 0), follow_symlinks=False)
    return links


def test_links_in_the_landing_zone_are_never_read(data_dir: DataDir, tmp_path: Path) -> None:
    links = _plant(data_dir, tmp_path)
    assert all(not p.is_symlink() for p in pending(data_dir.landing, "quarantine", "m"))
    assert pending_models(data_dir.landing) == {"m"}

    shown = _cli(data_dir, "quarantine", "--model", "m", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert "genuine raw" in shown.stdout and "SECRET" not in shown.stdout
    assert "is a symbolic link" in shown.stderr and "Delete the link" in shown.stderr

    ran = _cli(data_dir, "run", "--no-notify", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert "3 rows ingested" in ran.stdout  # m's own rows; nothing through the linked folder
    for args in (("quarantine", "--model", "m", "--format", "json"), ("models", "--format", "json")):
        done = _cli(data_dir, *args)
        assert done.returncode == 0 and "SECRET" not in done.stdout and '"m2"' not in done.stdout, done
    # The links are left for their owner to remove; what they point to is untouched, never deleted.
    assert all(p.is_symlink() for p in links.values())
    assert (tmp_path / "outside" / "passwd").read_text(encoding="utf-8") == SECRET + "\n"
    assert len(list((tmp_path / "outside" / "model-dir").iterdir())) == 1


def test_a_linked_read_plan_stops_its_model_with_the_fix(data_dir: DataDir, tmp_path: Path) -> None:
    with Collector(data_dir.root) as col:
        col.log_predictions("m", [{"id": "r1", "score": 0.5}])
    [sealed] = pending(data_dir.landing, "predictions", "m")
    secret = tmp_path / "secret.json"
    secret.write_text('{"format": 1, "columns": ["' + SECRET + '"], "projection": "1"}', encoding="utf-8")
    sealed.with_name(sealed.stem + ".plan.json").symlink_to(secret)
    ran = _cli(data_dir, "run", "--no-notify", "--quiet")
    assert ran.returncode == 1
    assert (
        "is a symbolic link" in ran.stderr and "delete the link" in ran.stderr and "SECRET" not in ran.stderr
    )
    assert "Traceback" not in ran.stderr
