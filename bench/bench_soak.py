"""Soak: 100 seeded random SIGKILLs of a collector (SDK writer) and the job running side by side.

The workload, the kills and the comparison are those of the suite's fault-injection test
(tests/faults.py, ~20 kills there), run here with 100 kills and a tick after every day. Writes
bench/results_soak.md: kills per process, rows acknowledged and stored, and whether metric rows,
alerts and incidents equal those of the uninterrupted run. ``BENCH_SOAK_KILLS`` changes the count.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from duckwatch.config import DataDir  # noqa: E402
from tests import faults  # noqa: E402

WORK = ROOT / "bench" / ".work" / "soak"
OUT = ROOT / "bench" / "results_soak.md"
DAYS, SEED = 7, 20261207


def main() -> int:
    """Run the clean and the faulty run, compare them, write the table (also when they differ)."""
    kills = int(os.environ.get("BENCH_SOAK_KILLS", "100"))
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    load = os.getloadavg()
    t0 = time.perf_counter()
    clean = faults.run_clean(WORK / "clean", DAYS)
    clean_s = time.perf_counter() - t0
    report = faults.run_faulty(WORK / "faulty", DAYS, kills=kills, seed=SEED)
    try:
        seen = faults.compare(clean, DataDir(WORK / "faulty"), DAYS)
        verdict, error = "yes", ""
    except AssertionError as exc:
        seen, verdict, error = {}, "**no**", str(exc).splitlines()[0][:300]
    stored = faults.stored_ids(DataDir(WORK / "faulty"))
    rows = [
        ("kills (SIGKILL) in all", str(sum(report.kills.values()))),
        ("&nbsp;&nbsp;of the writer (SDK, mid-batch / while sealing / between batches)", str(report.kills["writer"])),
        ("&nbsp;&nbsp;of the job (any stage of a tick)", str(report.kills["job"])),
        ("kills drawn for a process that had already finished (not counted)", str(report.missed)),
        ("writer processes started / job ticks started", f"{report.writer_runs} / {report.job_runs}"),
        ("rows sent (every batch acknowledged in the end)", f"{DAYS * faults.ROWS_PER_DAY:,}"),
        ("rows stored / distinct ids", f"{len(stored):,} / {len(set(stored)):,}"),
        ("acknowledged rows lost / doubled", f"{DAYS * faults.ROWS_PER_DAY - len(set(stored)):,} / {len(stored) - len(set(stored)):,}"),
        ("metric rows, alerts, incidents equal to the uninterrupted run", verdict),
        ("metric rows / alerts / incidents compared", " / ".join(str(seen.get(k, "-")) for k in ("metric_rows", "alerts", "incidents"))),
        ("wall time: faulty run / uninterrupted run (s)", f"{report.seconds:.1f} / {clean_s:.1f}"),
    ]  # fmt: skip
    lines = [
        "## Soak: SIGKILLs of collector and job under load",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average before: {' '.join(f'{x:.1f}' for x in load)}; "
        f"seed {SEED}; {DAYS} days x {faults.ROWS_PER_DAY} predictions in {faults.BATCHES_PER_DAY} SDK batches a "
        "day, a tick after every day while the next day is written; kills at seeded random delays after a "
        "process started (writer 0-0.3 s, job 0-0.8 s; the job two times in three). Regenerate: "
        "`make bench-soak` (or `python bench/bench_soak.py`).",
        "",
        "| measure | value |",
        "|---|---:|",
        *(f"| {k} | {v} |" for k, v in rows),
    ]
    if error:
        lines += ["", f"First difference: `{error}`"]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if verdict == "yes" else 1


if __name__ == "__main__":
    raise SystemExit(main())
