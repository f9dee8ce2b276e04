"""Realised and estimated performance at scale: 5M labelled predictions over 5 daily windows, with a
200k labelled held-out reference (calibration). In-process timings of the job tick, median of 3.

Writes bench/results_performance.md. Set BENCH_PERF_ROWS to change the size (default 5,000,000).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from duckwatch import Collector  # noqa: E402
from duckwatch.config import DataDir  # noqa: E402
from duckwatch.jobs.tick import run_tick  # noqa: E402
from duckwatch.readmodels.views import export_frame  # noqa: E402

WORK = ROOT / "bench" / ".work" / "performance"
OUT = ROOT / "bench" / "results_performance.md"
ROWS = int(os.environ.get("BENCH_PERF_ROWS", "5000000"))
DAYS = 5
REPEATS = int(os.environ.get("BENCH_PERF_REPEATS", "3"))
START = datetime(2026, 1, 1, tzinfo=UTC)


def _table(rng: np.random.Generator, n: int, with_ts: bool, prefix: str) -> pa.Table:
    x = rng.normal(size=(n, 5))
    logit = x @ np.array([1.0, -0.8, 0.5, 0.3, -0.2])
    score = 1 / (1 + np.exp(-logit))
    cols: dict[str, object] = {f"f{i}": x[:, i] for i in range(5)}
    cols["score"] = score
    cols["label"] = (rng.uniform(size=n) < score).astype(np.int8)
    if with_ts:
        cols["id"] = pa.array([f"{prefix}{i}" for i in range(n)])
        cols["ts"] = pa.array(
            np.datetime64("2026-01-01T00:00:00", "us") + (np.arange(n) * (DAYS * 86_400_000_000 // n))
        )
    return pa.table(cols)


def build(base: Path) -> None:
    rng = np.random.default_rng(3)
    DataDir(base).ensure()
    with Collector(base) as col:
        col.declare("perf", id="id", timestamp="ts", scores=["score"], label="label", task="binary")
        col.log_reference("perf", _table(rng, 200_000, False, "r"))
        step = 1_000_000
        for lo in range(0, ROWS, step):
            t = _table(rng, min(step, ROWS - lo), True, f"p{lo}-")
            col.log_predictions("perf", t.drop_columns(["label"]))
            col.log_outcomes("perf", t.select(["id", "label"]))


def main() -> None:
    times, ingest_compute = [], []
    for r in range(REPEATS):
        base = WORK / f"run{r}"
        shutil.rmtree(base, ignore_errors=True)
        build(base)
        t0 = time.perf_counter()
        report = run_tick(DataDir(base), now=START + timedelta(days=DAYS + 60), notify=False)
        times.append(time.perf_counter() - t0)
        assert not report.errors, report.errors
        ingest_compute.append(report.windows_computed)
        metrics = export_frame(DataDir(base), "metrics", "perf")
        shutil.rmtree(base, ignore_errors=True)
    acc = metrics[metrics["metric"] == "accuracy"]["value"].mean()
    est = metrics[metrics["metric"] == "estimated_accuracy"]["value"].mean()
    load = os.getloadavg()
    lines = [
        "## Realised and estimated performance at scale",
        "",
        f"{ROWS:,} labelled predictions (5 features, score, label) in {DAYS} daily windows, 200k labelled "
        f"reference for calibration; one job tick (ingest predictions + outcomes, profiles, drift, "
        f"realised and estimated performance with intervals, alerts, publish). In-process, median of "
        f"{REPEATS}. Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| rows | tick median s | min–max s | windows | realised accuracy (mean) | estimated accuracy (mean) |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {ROWS:,} | {statistics.median(times):.1f} | {min(times):.1f}–{max(times):.1f} | "
        f"{ingest_compute[-1]} | {acc:.4f} | {est:.4f} |",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
