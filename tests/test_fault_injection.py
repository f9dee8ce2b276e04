"""Seeded SIGKILLs of a collector and a job running side by side end like an uninterrupted run.

See tests/faults.py for the workload and the comparison; bench/bench_soak.py runs it with 100 kills.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from duckwatch.config import DataDir
from tests import faults

DAYS = 7
# The job ticks after these days (and the last): the tick after day 4 judges days 2-4 at once, so one
# tick opens an incident and resolves it; the tick after day 6 opens the one left open.
TICKS = (0, 1, 4)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """The uninterrupted run of the same days."""
    return faults.run_clean(tmp_path_factory.mktemp("clean"), DAYS, TICKS)


def test_kills_at_each_hand_off_of_the_tick_end_like_an_uninterrupted_run(
    clean: DataDir, tmp_path: Path
) -> None:
    # After day 0: the first tick dies after its ingest committed, before any window is marked dirty.
    # After day 4 (an incident opens and resolves): killed at the warehouse commit of the metric rows,
    # then, run again, after the alerts committed and before the hand-off was cleared. After day 6 (an
    # incident opens): killed after the alerts committed.
    hooks = {0: ["mark_dirty"], 4: ["results_commit", "alerts_applied"], 6: ["alerts_applied"]}
    report = faults.run_faulty(tmp_path, DAYS, kills=0, seed=1, ticks=TICKS, hooks=hooks)
    assert report.job_runs == len(TICKS) + 1 + 4  # each hooked run died and the tick ran again
    seen = faults.compare(clean, DataDir(tmp_path), DAYS)
    assert seen["incidents"] == 2  # one resolved, one still open


def test_twenty_random_kills_of_collector_and_job_lose_double_and_change_nothing(
    clean: DataDir, tmp_path: Path
) -> None:
    report = faults.run_faulty(tmp_path, DAYS, kills=20, seed=20261207, ticks=TICKS)
    assert sum(report.kills.values()) == 20
    assert report.kills["writer"] >= 3 and report.kills["job"] >= 3
    seen = faults.compare(clean, DataDir(tmp_path), DAYS)
    assert seen == {"rows": DAYS * faults.ROWS_PER_DAY, "metric_rows": seen["metric_rows"], "incidents": 2,
                    "alerts": seen["alerts"]}  # fmt: skip
