"""Decompression bombs: a small compressed file that would expand to gigabytes is refused early, with a
message naming the limit, by a process that stays small; genuine compressed files still land."""

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
from duckwatch.errors import BadInputError
from duckwatch.store.files import read_file
from duckwatch.store.input_checks import InputLimits
from tests.conftest import CLI

MB = 1_000_000


def _gzip_bomb(path: Path, expands_to: int, line: bytes = b"7,7\n", header: bytes = b"x,y\n") -> None:
    """A gzip CSV of ``expands_to`` bytes made of repeated gzip members (valid gzip, built in ms)."""
    chunk = line * (MB // len(line))  # 1 MB of text compresses to ~1 KB
    member = gzip.compress(chunk, compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(header))
        for _ in range(expands_to // len(chunk)):
            out.write(member)


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run a CLI process to its end (a bomb that is not refused would take minutes: the timeout fails it)."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, done.stdout, done.stderr


# Runs its arguments as its only child and reports that child's peak RSS (RUSAGE_CHILDREN: waited-for children).
_WRAPPER = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
print(f"PEAK_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
sys.exit(done.returncode)
"""


def _run_with_peak(args: list[str], env: dict[str, str]) -> tuple[int, str, str, int]:
    """Like ``_run``, plus the process's peak resident memory in MB."""
    code, out, err = _run([CLI[0], "-c", _WRAPPER, *args], env)
    lines = err.splitlines()
    peak_kb = next(int(line.split("=")[1]) for line in lines if line.startswith("PEAK_KB="))
    return code, out, "\n".join(line for line in lines if not line.startswith("PEAK_KB=")), peak_kb // 1000


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCKWATCH_MAX_")}
    env.update(extra)
    return env


def _landed(data: DataDir) -> list[Path]:
    return [p for p in data.landing.rglob("*") if p.is_file()] if data.landing.exists() else []


def test_a_gzip_bomb_is_refused_quickly_by_a_small_process(data_dir: DataDir, tmp_path: Path) -> None:
    bomb = tmp_path / "x.csv.gz"
    _gzip_bomb(bomb, 1000 * MB)  # ~1 MB expanding to 1 GB, as in the report
    assert bomb.stat().st_size < 2 * MB
    args = [*CLI, "ingest", "predictions", str(bomb), "--model", "m", "--format", "csv"]
    code, out, err, peak_mb = _run_with_peak([*args, "--data-dir", str(data_dir.root)], _env())
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "x.csv.gz" in err and "decompression bomb" in err and "DUCKWATCH_MAX_EXPANSION_RATIO" in err
    assert peak_mb < 500, f"peak RSS {peak_mb} MB"  # the whole CLI with DuckDB and Arrow loaded
    assert _landed(data_dir) == []


def test_the_size_limit_applies_below_the_ratio_and_names_its_variable(
    data_dir: DataDir, tmp_path: Path
) -> None:
    bomb = tmp_path / "big.csv.gz"
    _gzip_bomb(bomb, 12 * MB, line=b"7," + b"7" * 97 + b"\n")  # 100-byte rows
    env = _env(DUCKWATCH_MAX_INPUT_BYTES="10MB", DUCKWATCH_MAX_EXPANSION_RATIO="100000")
    args = [*CLI, "ingest", "inputs", str(bomb), "--model", "m", "--data-dir", str(data_dir.root)]
    code, out, err = _run(args, env)
    assert code == 2, (out, err)
    assert "more than 10.0 MB" in err and "DUCKWATCH_MAX_INPUT_BYTES=" in err and "Traceback" not in err
    assert _landed(data_dir) == []
    # Raised far enough, the same file is genuine input and lands.
    env = _env(DUCKWATCH_MAX_INPUT_BYTES="20MB", DUCKWATCH_MAX_EXPANSION_RATIO="100000")
    code, out, err = _run(args, env)
    assert code == 0, err
    assert "120000 rows landed" in out.replace(",", "")


def test_a_bad_limit_value_is_refused_with_the_accepted_forms(data_dir: DataDir, tmp_path: Path) -> None:
    src = tmp_path / "ok.csv.gz"
    src.write_bytes(gzip.compress(b"x,y\n1,2\n"))
    args = [*CLI, "ingest", "inputs", str(src), "--model", "m", "--data-dir", str(data_dir.root)]
    code, _, err = _run(args, _env(DUCKWATCH_MAX_INPUT_BYTES="lots"))
    assert code == 2 and "DUCKWATCH_MAX_INPUT_BYTES='lots' is not a size" in err and "500MB" in err


def test_zstd_and_compressed_json_bombs_are_refused(tmp_path: Path) -> None:
    limits = InputLimits(ratio_floor=2 * MB)  # the floor lowered: small bombs trip the ratio
    zst = tmp_path / "x.csv.zst"
    with pa.CompressedOutputStream(str(zst), "zstd") as out:
        out.write(b"x,y\n")
        for _ in range(20):
            out.write(b"7,7\n" * 250_000)
    jsonl = tmp_path / "x.jsonl.gz"
    with gzip.open(jsonl, "wb") as fh:
        for _ in range(20):
            fh.write(b'{"x": 7}\n' * 110_000)
    for path in (zst, jsonl):
        with pytest.raises(BadInputError, match="decompression bomb"):
            read_file(path, limits=limits)
    # A gzip file named .csv is recognised by its first bytes, not let through as text.
    disguised = tmp_path / "plain-name.csv"
    disguised.write_bytes(jsonl.read_bytes())
    with pytest.raises(BadInputError, match="decompression bomb"):
        read_file(disguised, "json", limits=limits)


def test_genuine_compressed_files_land_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    rows = [f'r{i},{rng.random():.6f},"a, {i}"' for i in range(5000)]
    text = ("id,score,note\n" + "\n".join(rows) + "\n").encode()
    gz = tmp_path / "p.csv.gz"
    gz.write_bytes(gzip.compress(text))
    zst = tmp_path / "p.csv.zst"
    with pa.CompressedOutputStream(str(zst), "zstd") as out:
        out.write(text)
    jsonl = tmp_path / "p.jsonl.gz"
    jsonl.write_bytes(gzip.compress(b"".join(b'{"id": "r%d", "score": 0.5}\n' % i for i in range(5000))))
    for path in (gz, zst):
        read = read_file(path)
        assert read.rejects == [] and read.table.num_rows == 5000
        assert read.table.column("note")[3].as_py() == "a, 3"
    assert read_file(jsonl).table.num_rows == 5000


def test_a_parquet_bomb_is_refused_from_its_footer(data_dir: DataDir, tmp_path: Path) -> None:
    # 20 million equal values: dictionary and run-length encoding store them in ~0.2 MB.
    n = 20_000_000
    bomb = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"id": np.zeros(n, dtype=np.int64), "score": np.zeros(n)}), bomb)
    assert bomb.stat().st_size < MB
    args = [*CLI, "ingest", "predictions", str(bomb), "--model", "m", "--data-dir", str(data_dir.root)]
    code, out, err = _run(args, _env())
    assert code == 2, (out, err)
    assert "bomb.parquet" in err and "once decoded" in err and "DUCKWATCH_MAX_EXPANSION_RATIO" in err
    assert "Traceback" not in err
    assert _landed(data_dir) == []  # the byte copy started early was discarded too
