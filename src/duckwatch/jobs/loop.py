"""The job loop on the `schedule` package: one tick every N seconds, graceful stop on SIGTERM/Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import schedule

from duckwatch.config import DataDir
from duckwatch.jobs.lock import job_lock
from duckwatch.jobs.tick import run_tick

log = logging.getLogger("duckwatch.job")


def _digest(data: DataDir) -> None:
    """Warnings go out once a day as a digest (critical alerts go out at once, from the tick)."""
    from datetime import UTC, datetime

    from duckwatch.jobs.notify import send_digest
    from duckwatch.store.settings import Settings

    try:
        send_digest(Settings(data.settings), datetime.now(UTC))
    except Exception as exc:  # the loop must keep going
        log.exception("digest failed: %s", exc)


def run_loop(data: DataDir, every_s: float = 60.0, max_ticks: int = 0) -> int:
    """Tick now and then every ``every_s`` seconds until stopped; only one loop per data dir."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received signal %s: finishing the current tick, then stopping", signum)
        stop.set()

    old_term = signal.signal(signal.SIGTERM, _stop)
    old_int = signal.signal(signal.SIGINT, _stop)
    ticks = 0
    data.ensure()
    try:
        with job_lock(data.locks, "scheduler"):
            scheduler = schedule.Scheduler()

            def _tick() -> None:
                nonlocal ticks
                try:
                    report = run_tick(data)
                    print(
                        f"tick: {report.rows_ingested} rows, {report.windows_computed} windows, "
                        f"{report.duration_s:.2f}s, {len(report.errors)} errors",
                        flush=True,
                    )
                except Exception as exc:  # the loop must never silently stop
                    log.exception("tick failed: %s", exc)
                    print(f"tick failed: {exc}", flush=True)
                ticks += 1
                if max_ticks and ticks >= max_ticks:
                    stop.set()

            scheduler.every(max(1, round(every_s))).seconds.do(_tick)
            scheduler.every().day.at("08:00").do(_digest, data)
            _tick()
            while not stop.is_set():
                scheduler.run_pending()
                stop.wait(min(1.0, every_s))
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    return 0
