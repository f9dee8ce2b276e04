"""Fuzzing every file reader through `duckwatch ingest` (CSV, gzip and zstd CSV, JSON lines, Parquet):
whatever the damage (bad quoting, wrong types, huge fields, empty or repeated column names, BOMs, NUL
bytes, truncation, random bytes), there is never a traceback; good rows land, bad ones are
quarantined with a reason, and a file refused as a whole leaves nothing behind."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckwatch.cli import main
from duckwatch.config import DataDir
from duckwatch.store.landing import pending
from duckwatch.store.landing_files import plan_path

_MODELS = itertools.count()
LINE_LIMIT = 4096  # DUCKWATCH_MAX_LINE_BYTES for these tests: a "huge" field is 5 KB, fast to write
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(alphabet=st.sampled_from('ab ,;"\n\r\t\u00e9\u6f22\U0001f600'), max_size=10)
GOOD = st.lists(st.tuples(st.floats(0, 1, allow_nan=False), TEXT), min_size=1, max_size=15)


@pytest.fixture(autouse=True)
def _small_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUCKWATCH_MAX_LINE_BYTES", str(LINE_LIMIT))
    for name in ("DUCKWATCH_MAX_INPUT_BYTES", "DUCKWATCH_MAX_EXPANSION_RATIO"):
        monkeypatch.delenv(name, raising=False)


def _ingest(data: DataDir, path: Path, *extra: str) -> tuple[int, str, str, str]:
    """`duckwatch ingest` in this process: (exit code, stdout, stderr, model); any exception fails."""
    model = f"f{next(_MODELS)}"
    out, err = io.StringIO(), io.StringIO()
    args = ["ingest", "predictions", str(path), "--model", model, "--id-col", "id", "--score-col", "score"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, *extra, "--data-dir", str(data.root)])
    return code, out.getvalue(), err.getvalue(), model


def _landed(data: DataDir, model: str) -> list[str]:
    # A Parquet file whose rows are all good is sealed as a byte copy (with a read plan): its own columns.
    files = pending(data.landing, "predictions", model)
    return [
        str(i) for f in files for i in pq.read_table(f)["id" if plan_path(f).exists() else "_id"].to_pylist()
    ]


def _quarantined(data: DataDir, model: str) -> list[str]:
    files = pending(data.landing, "quarantine", model)
    return [r for f in files for r in pq.read_table(f)["_reason"].to_pylist()]


def _check_outcome(data: DataDir, result: tuple[int, str, str, str]) -> tuple[list[str], list[str]]:
    """The rules for every input: a refused file says why in a line and leaves nothing; otherwise
    every row either landed or is quarantined with a reason."""
    code, out, err, model = result
    assert "Traceback" not in out + err
    if code == 2:
        assert err.startswith("error: ") and len(err.strip().splitlines()) <= 2, err
        assert not (data.landing / "predictions" / model).exists() or not os.listdir(
            data.landing / "predictions" / model
        )
        assert _quarantined(data, model) == []
        return [], []
    landed, reasons = _landed(data, model), _quarantined(data, model)
    assert all(r and r.strip() for r in reasons)
    return landed, reasons


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, set[str], int]:
    """A CSV file with damaged lines: its bytes, the ids that must land, how many rows are bad."""
    extra = draw(st.sampled_from([[], ["id"], [""], ["", ""]]))  # repeated or empty column names
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # quotes every field holding \r or \n
    writer.writerow(["id", "score", "text", *extra])
    good: set[str] = set()
    bad = 0
    for i, (score, text) in enumerate(draw(GOOD)):
        damage = draw(
            st.sampled_from(["none", "none", "none", "quote", "fields", "type", "huge", "utf8", "nul"])
        )
        row = [f"g{i}", repr(score), "t" + text, *(["x"] * len(extra))]
        if damage == "quote":
            out.write(f'b{i},0.5,"unclosed\n')
        elif damage == "fields":
            out.write(f"b{i},0.5,a,b,c,d,e\n")
        elif damage == "type":
            writer.writerow([f"b{i}", "not a number", "t", *(["x"] * len(extra))])
        elif damage == "huge":
            writer.writerow([f"b{i}", "0.5", "h" * (LINE_LIMIT + 100), *(["x"] * len(extra))])
        elif damage == "utf8":
            out.write(f"b{i},0.5,\udcff\udcfe{',x' * len(extra)}\n")
        else:
            if damage == "nul":
                row[2] += "\x00"  # a NUL inside a value is data, not damage
            writer.writerow(row)
            good.add(f"g{i}")
            continue
        bad += 1
    content = out.getvalue().encode("utf-8", "surrogateescape")
    if draw(st.booleans()):  # Unix line endings, or a mix of both
        content = content.replace(b"\r\n", b"\n", draw(st.sampled_from([-1, 1])))
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + content, good, bad


@FUZZ
@given(case=csv_files(), compression=st.sampled_from(["none", "gzip", "zstd"]))
def test_damaged_csv_lines_are_set_aside_and_good_rows_land(
    data_dir: DataDir, tmp_path: Path, case: tuple[bytes, set[str], int], compression: str
) -> None:
    content, good, bad = case
    path = tmp_path / {"none": "f.csv", "gzip": "f.csv.gz", "zstd": "f.csv.zst"}[compression]
    if compression == "gzip":
        content = gzip.compress(content)
    elif compression == "zstd":
        content = _zstd(content)
    path.write_bytes(content)
    landed, reasons = _check_outcome(data_dir, _ingest(data_dir, path))
    assert sorted(landed) == sorted(good)
    assert len(reasons) == bad


def _zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return bytes(sink.getvalue().to_pybytes())


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, set[str], int]:
    lines: list[bytes] = []
    good: set[str] = set()
    bad = 0
    for i, (score, text) in enumerate(draw(GOOD)):
        damage = draw(st.sampled_from(["none", "none", "truncated", "array", "utf8", "huge", "type", "nul"]))
        obj = {"id": f"g{i}", "score": score, "text": text}
        if damage == "truncated":
            lines.append(json.dumps(obj).encode()[:-3])
        elif damage == "array":
            lines.append(b"[1, 2, 3]")
        elif damage == "utf8":
            lines.append(b'{"id": "b%d", "text": "\xff\xfe"}' % i)
        elif damage == "huge":
            lines.append(json.dumps({"id": f"b{i}", "score": 0.5, "text": "h" * LINE_LIMIT}).encode())
        elif damage == "type":
            lines.append(json.dumps({"id": f"b{i}", "score": "high", "text": text}).encode())
        else:
            if damage == "nul":
                obj["text"] = text + "\x00"
            lines.append(json.dumps(obj).encode())
            good.add(f"g{i}")
            continue
        bad += 1
    return b"\n".join(lines) + b"\n", good, bad


@FUZZ
@given(case=jsonl_files(), compressed=st.booleans())
def test_damaged_json_lines_are_set_aside_and_good_rows_land(
    data_dir: DataDir, tmp_path: Path, case: tuple[bytes, set[str], int], compressed: bool
) -> None:
    content, good, bad = case
    path = tmp_path / ("f.jsonl.gz" if compressed else "f.jsonl")
    path.write_bytes(gzip.compress(content) if compressed else content)
    landed, reasons = _check_outcome(data_dir, _ingest(data_dir, path))
    assert sorted(landed) == sorted(good)
    assert len(reasons) == bad


def _good_file(kind: str, tmp_path: Path, n: int) -> Path:
    rows = [{"id": f"g{i}", "score": i / max(n, 1), "text": f"t, {i}"} for i in range(n)]
    path = tmp_path / {"csv": "g.csv", "gzip": "g.csv.gz", "jsonl": "g.jsonl", "parquet": "g.parquet"}[kind]
    if kind == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=max(n // 3, 1))
        return path
    if kind == "jsonl":
        path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
        return path
    out = io.StringIO(newline="")
    csv.DictWriter(out, ["id", "score", "text"]).writeheader()
    csv.DictWriter(out, ["id", "score", "text"]).writerows(rows)
    data = out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if kind == "gzip" else data)
    return path


def _damaged(path: Path, how: str, seed: int) -> Iterator[Path]:
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    if how == "truncated":
        yield _write(path, bytes(data[: int(rng.integers(1, len(data)))]))
    elif how == "flipped":
        for at in rng.integers(0, len(data), 8):
            data[at] = int(rng.integers(0, 256))
        yield _write(path, bytes(data))
    else:  # random bytes under the same name
        yield _write(path, rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@FUZZ
@given(
    kind=st.sampled_from(["csv", "gzip", "jsonl", "parquet"]),
    how=st.sampled_from(["truncated", "flipped", "random"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_truncated_flipped_and_random_files_never_raise(
    data_dir: DataDir, tmp_path: Path, kind: str, how: str, seed: int
) -> None:
    n = 300
    for path in _damaged(_good_file(kind, tmp_path, n), how, seed):
        landed, _reasons = _check_outcome(data_dir, _ingest(data_dir, path))
        assert len(set(landed)) == len(landed) <= n
        if kind == "csv" and how == "truncated" and landed:
            # Every line wholly before the cut landed; only the cut line may be missing or set aside.
            whole = path.read_bytes().count(b"\n") - 1
            assert {f"g{i}" for i in range(whole)} <= set(landed)
