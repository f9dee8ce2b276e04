"""The job loop: ticks on its cadence, one instance per data dir, stops cleanly on SIGTERM, reports a
stale heartbeat (a dead job cannot alert about itself)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.loop import _own_cadences
from duckwatch.readmodels.views import job_status, models_overview

CLI = [sys.executable, "-m", "duckwatch.cli"]


def _wait(predicate: object, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_schedule_ticks_refuses_a_second_loop_and_stops_on_sigterm(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.declare("hourly", meta={"cadence_seconds": 2})
        c.log_predictions("m", {"id": "1", "score": 0.5})
    assert _own_cadences(data_dir) == {"hourly": 2.0}
    loop = subprocess.Popen([*CLI, "schedule", "--every", "1", "--data-dir", str(data_dir.root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert _wait(lambda: job_status(data_dir)["state"] == "ok"), "no tick recorded"
        with Collector(data_dir.root) as c:
            c.log_predictions("m", {"id": "2", "score": 0.4})
        assert _wait(
            lambda: {r["model"]: r for r in models_overview(data_dir)}["m"]["predictions"] == 2
        )  # picked up by a later tick
        second = subprocess.run([*CLI, "schedule", "--data-dir", str(data_dir.root)],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert second.returncode == 2 and "another duckwatch job is running" in second.stderr
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=60)
    assert loop.returncode == 0, err
    assert "tick:" in out
    status = subprocess.run([*CLI, "status", "--stale-after", "0", "--format", "json",
                             "--data-dir", str(data_dir.root)], capture_output=True, text=True)  # fmt: skip
    assert status.returncode == 1 and json.loads(status.stdout)["state"] == "stale"
