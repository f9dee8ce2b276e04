"""Files that cannot be input (empty, random bytes, mislabelled, a directory, truncated) get a short
error naming the file and the fix, a non-zero exit and no traceback, and leave nothing behind; a
50 MB line is quarantined as a short quote of itself, and its neighbours land."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckwatch.config import DataDir
from duckwatch.store.input_checks import RAW_KEEP_CHARS
from duckwatch.store.landing import pending
from tests.conftest import run_cli


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCKWATCH_MAX_")}
    return run_cli(data, *args, env=env)


def _parquet_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "real.parquet"
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(1000)], "score": np.linspace(0, 1, 1000)}), path)
    return path.read_bytes()


def _make(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """The bad input of ``kind`` and a fragment its error must contain."""
    rng = np.random.default_rng(11)
    noise = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    cases: dict[str, tuple[str, bytes | None, str]] = {
        "empty csv": ("e.csv", b"", "is empty (0 bytes)"),
        "empty parquet": ("e.parquet", b"", "is empty (0 bytes)"),
        "empty jsonl": ("e.jsonl", b"", "is empty (0 bytes)"),
        "random csv": ("r.csv", noise, "is not text"),
        "random parquet": ("r.parquet", noise, "is not a Parquet file"),
        "random jsonl": ("r.jsonl", noise, "is not text"),
        "csv named parquet": ("c.parquet", b"id,score\nr1,0.5\n", "looks like text (CSV?): name it .csv"),
        "parquet named csv": ("p.csv", _parquet_bytes(tmp_path), "is a Parquet file, not CSV"),
        "truncated parquet": ("t.parquet", _parquet_bytes(tmp_path)[:-300], "truncated"),
        "truncated gzip": ("t.csv.gz", gzip.compress(b"id,score\n" + b"r1,0.5\n" * 5000)[:-40], "truncated"),
        "only blank lines": ("b.csv", b"\n\r\n  \n", "only blank lines"),
        "directory": ("adir", None, "is a directory, not a file"),
    }
    name, content, fragment = cases[kind]
    path = tmp_path / name
    if content is None:
        (path / "part-0.csv").parent.mkdir()
        (path / "part-0.csv").write_text("id,score\nr1,0.5\n", encoding="utf-8")
    else:
        path.write_bytes(content)
    return path, fragment


KINDS = [
    "empty csv",
    "empty parquet",
    "empty jsonl",
    "random csv",
    "random parquet",
    "random jsonl",
    "csv named parquet",
    "parquet named csv",
    "truncated parquet",
    "truncated gzip",
    "only blank lines",
    "directory",
]


@pytest.mark.parametrize("kind", KINDS)
def test_unusable_input_gets_a_short_clear_error_and_leaves_nothing(
    data_dir: DataDir, tmp_path: Path, kind: str
) -> None:
    path, fragment = _make(kind, tmp_path)
    done = _cli(data_dir, "ingest", "predictions", str(path), "--model", "m")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= 2 and lines[0].startswith("error: "), done.stderr
    assert path.name in done.stderr and fragment in done.stderr, done.stderr
    assert len(done.stderr) < 600
    assert [p for p in data_dir.landing.rglob("*") if p.is_file()] == []  # nothing half-landed, no temp file


def test_a_50_mb_line_is_quarantined_as_a_short_quote_and_its_neighbours_land(
    data_dir: DataDir, tmp_path: Path
) -> None:
    src = tmp_path / "long.csv"
    huge = "x" * 50_000_000
    src.write_text(f"id,score,comment\nr1,0.1,ok\nr2,0.2,{huge}\nr3,0.3,fine\n", encoding="utf-8")
    done = _cli(data_dir, "ingest", "predictions", str(src), "--model", "m", "--id-col", "id")
    assert done.returncode == 0, done.stderr
    assert "2 rows landed" in done.stdout and "1 quarantined" in done.stdout
    assert len(done.stdout) + len(done.stderr) < 1000  # was 10 KB of the line itself
    assert "line 3: line is 50.0 MB long, more than the 16.0 MB limit" in done.stdout
    assert "DUCKWATCH_MAX_LINE_BYTES" in done.stdout
    [row] = pq.read_table(pending(data_dir.landing, "quarantine", "m")).to_pylist()
    assert len(row["_reason"]) < 300
    assert row["_raw"].startswith("r2,0.2,xxx") and "cut: 50,000,008 bytes in all" in row["_raw"]
    assert len(row["_raw"]) <= RAW_KEEP_CHARS  # quarantine keeps the start, and says so


def test_long_values_are_quoted_short_in_reasons_and_capped_in_quarantine(
    data_dir: DataDir, tmp_path: Path
) -> None:
    big = "y" * 1_000_000  # under the line limit: the row is parsed, and refused for its values
    src = tmp_path / "values.csv"
    src.write_text(
        f"id,score,ts\nr1,{big},2026-01-01\nr1,0.5,{big}\n{big},0.5,2026-01-01\n{big},0.7,2026-01-02\n"
    )
    done = _cli(
        data_dir, "ingest", "predictions", str(src), "--model", "m", "--id-col", "id", "--score-col", "score",
        "--time-col", "ts",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) < 3000, done.stdout
    rows = pq.read_table(pending(data_dir.landing, "quarantine", "m")).to_pylist()
    reasons = sorted(r["_reason"] for r in rows)
    assert len(reasons) == 3, reasons
    assert all(len(r) < 500 and "(1000000 characters)" in r for r in reasons), reasons
    assert {r.split(" ")[0] for r in reasons} == {"duplicate", "score", "timestamp"}
    assert all(
        len(r["_raw"]) <= RAW_KEEP_CHARS and "in all; quarantine keeps the start" in r["_raw"] for r in rows
    )
