"""Tick cost: 10 models with one new batch each, and a tick with no new data (in-process, median of 3).

Writes bench/results_tick.md. Target (issue 5): well under a second for the tick with no new data.
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
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from duckwatch import Collector  # noqa: E402
from duckwatch.config import DataDir  # noqa: E402
from duckwatch.jobs.tick import run_tick  # noqa: E402

WORK = ROOT / "bench" / ".work" / "tick"
OUT = ROOT / "bench" / "results_tick.md"
MODELS, DAYS, PER_DAY, FEATURES, REPEATS = 10, 14, 1000, 20, 3
START = datetime(2026, 1, 1, tzinfo=UTC)


def _frame(rng: np.random.Generator, n: int, day: int | None, prefix: str) -> pd.DataFrame:
    data = {f"f{i:02d}": rng.normal(size=n) for i in range(FEATURES)}
    data["segment"] = rng.choice(["a", "b", "c"], n)
    x = data["f00"]
    data["score"] = 1 / (1 + np.exp(-x))
    frame = pd.DataFrame(data)
    if day is not None:
        frame.insert(
            0, "ts", pd.Timestamp(START) + pd.to_timedelta(day * 86400 + rng.uniform(0, 86400, n), unit="s")
        )
        frame.insert(0, "id", [f"{prefix}{day}-{i}" for i in range(n)])
    return frame


def build(base: Path) -> None:
    rng = np.random.default_rng(1)
    data = DataDir(base).ensure()
    with Collector(base) as col:
        for m in range(MODELS):
            model = f"model-{m:02d}"
            col.log_reference(model, _frame(rng, 5000, None, ""))
            for day in range(DAYS):
                col.log_predictions(model, _frame(rng, PER_DAY, day, model))
    run_tick(data, now=START + timedelta(days=DAYS), notify=False)


def one_batch_each(base: Path) -> None:
    rng = np.random.default_rng(2)
    with Collector(base) as col:
        for m in range(MODELS):
            model = f"model-{m:02d}"
            col.log_predictions(model, _frame(rng, PER_DAY, DAYS, model))


def main() -> None:
    base = WORK / "base"
    if not (base / "warehouse.duckdb").exists():
        shutil.rmtree(base, ignore_errors=True)
        t0 = time.perf_counter()
        build(base)
        print(f"built {MODELS} models x {DAYS} days in {time.perf_counter() - t0:.1f}s", flush=True)
    new_batch, idle = [], []
    for r in range(REPEATS):
        run = WORK / f"run{r}"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base, run)
        one_batch_each(run)
        data = DataDir(run)
        t0 = time.perf_counter()
        report = run_tick(data, now=START + timedelta(days=DAYS + 1), notify=False)
        new_batch.append(time.perf_counter() - t0)
        assert not report.errors, report.errors
        t0 = time.perf_counter()
        run_tick(data, now=START + timedelta(days=DAYS + 1), notify=False)
        idle.append(time.perf_counter() - t0)
        shutil.rmtree(run, ignore_errors=True)
    load = os.getloadavg()
    lines = [
        "## Tick: 10 models, one new batch each, and a tick with no new data",
        "",
        f"{MODELS} models × {DAYS} days × {PER_DAY} rows/day × {FEATURES + 2} columns of history; "
        f"one new {PER_DAY}-row batch per model (one new daily window each). In-process `run_tick`, "
        f"median of {REPEATS} runs (min–max). Machine: {os.cpu_count()} CPUs, {platform.python_version()}, "
        f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| tick | median s | min–max s | target |",
        "|---|---:|---:|---|",
        f"| 10 models, one new batch each (ingest + profiles + metrics + alerts + publish) | "
        f"{statistics.median(new_batch):.2f} | {min(new_batch):.2f}–{max(new_batch):.2f} | — |",
        f"| no new data | {statistics.median(idle):.2f} | {min(idle):.2f}–{max(idle):.2f} | well under 1 s |",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
