"""CSV written by `duckwatch export` and `duckwatch quarantine`: no cell a spreadsheet runs as a formula.

Real processes of the real CLI on a data dir made through the SDK and the CLI's own ingest.
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from tests.conftest import run_cli

FORMULA_COLUMN = '=HYPERLINK("http://evil.example/x","click")'
FORMULA_VERSION = "-2+3+cmd"  # a version label is free text (no '/'): a formula too
FORMULA_LINE = '@SUM(1+1)*cmd|" /C calc"!A0,0.5,1,2'
OWASP_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cli(data: DataDir, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(data, *args)
    assert done.returncode == 0, done.stderr
    return done


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _formula_cells(rows: list[list[str]]) -> list[str]:
    """Cells (header included) a spreadsheet would evaluate: text starting with = + - @ tab or CR."""
    return [c for row in rows for c in row if c.startswith(OWASP_STARTS) and not _is_number(c)]


def _frame(rng: np.random.Generator, start: str, shift: float, prefix: str) -> pd.DataFrame:
    n = 1500
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="2min", tz="UTC"),
            FORMULA_COLUMN: rng.normal(shift, 1.0, n),
            "score": rng.random(n),
        }
    )


def _planted(data: DataDir) -> None:
    """A model whose column name and version are formulas, and a SQL metric whose value is -1.5."""
    rng = np.random.default_rng(5)
    with Collector(data.root) as c:
        c.declare("f", meta={"sql_metrics": {"negative": "avg(-1.5)"}})
        c.log_reference("f", _frame(rng, "2025-12-01", 0.0, "ref"), id="request_id", timestamp="ts")
        c.log_predictions(
            "f", _frame(rng, "2026-01-01", 2.0, "p"), version=FORMULA_VERSION, id="request_id", timestamp="ts"
        )
    _cli(data, "run", "--no-notify", "--quiet")


def test_export_metrics_and_windows_neutralise_formulas_keep_numbers_and_raw_keeps_both(
    data_dir: DataDir, tmp_path: Path
) -> None:
    _planted(data_dir)
    metrics = _cells(_cli(data_dir, "export", "metrics", "--model", "f").stdout)
    header, rows = metrics[0], metrics[1:]
    col, version, value, metric = (header.index(k) for k in ("column", "version", "value", "metric"))
    assert _formula_cells(metrics) == []
    assert {r[col] for r in rows} >= {"'" + FORMULA_COLUMN}
    assert {r[version] for r in rows} == {"'" + FORMULA_VERSION}
    # Numbers stay numbers: the negative SQL metric is -1.5, not the text '-1.5.
    assert {r[value] for r in rows if r[metric] == "negative"} == {"-1.5"}

    raw = _cells(_cli(data_dir, "export", "metrics", "--model", "f", "--raw").stdout)
    assert FORMULA_COLUMN in {r[col] for r in raw[1:]}
    assert len(raw) == len(metrics)

    out = tmp_path / "windows.csv"
    _cli(data_dir, "export", "windows", "--model", "f", "--out", str(out))
    windows = _cells(out.read_text(encoding="utf-8"))
    assert len(windows) > 3 and _formula_cells(windows) == []
    assert {r[windows[0].index("version")] for r in windows[1:]} == {"'" + FORMULA_VERSION}
    assert all(_is_number(r[windows[0].index("row_count")]) for r in windows[1:])
    raw_out = tmp_path / "windows-raw.csv"
    _cli(data_dir, "export", "windows", "--model", "f", "--out", str(raw_out), "--raw")
    raw_windows = _cells(raw_out.read_text(encoding="utf-8"))
    assert {r[raw_windows[0].index("version")] for r in raw_windows[1:]} == {FORMULA_VERSION}


def test_quarantine_csv_neutralises_a_malformed_line_and_raw_keeps_it(
    data_dir: DataDir, tmp_path: Path
) -> None:
    source = tmp_path / "preds.csv"
    source.write_text(f"id,score\nr1,0.5\n{FORMULA_LINE}\nr2,0.7\n", encoding="utf-8")
    ingested = _cli(data_dir, "ingest", "predictions", str(source), "--model", "q")
    assert "1 quarantined" in ingested.stdout

    for args in (("quarantine", "--model", "q", "--format", "csv"), ("export", "quarantine", "--model", "q")):
        rows = _cells(_cli(data_dir, *args).stdout)
        assert _formula_cells(rows) == [], args
        assert rows[1][rows[0].index("raw")] == "'" + FORMULA_LINE, args
        raw = _cells(_cli(data_dir, *args, "--raw").stdout)
        assert raw[1][raw[0].index("raw")] == FORMULA_LINE, args
