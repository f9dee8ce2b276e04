"""The job loop on the `schedule` package: one tick every N seconds, graceful stop on SIGTERM/Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

import schedule

from duckwatch.calculators.base import FittedStates
from duckwatch.config import DataDir
from duckwatch.jobs.lock import job_lock
from duckwatch.jobs.tick import run_tick

if TYPE_CHECKING:
    from duckwatch.store.catalog import ModelInfo
    from duckwatch.store.settings import Settings
    from duckwatch.store.warehouse import Warehouse

log = logging.getLogger("duckwatch.job")


def _digest(data: DataDir) -> None:
    """Warnings go out once a day as a digest (critical alerts go out at once, from the tick)."""
    from datetime import UTC, datetime

    from duckwatch.alerting.notify import send_digest
    from duckwatch.store.settings import Settings

    try:
        send_digest(Settings(data.settings), datetime.now(UTC))
    except Exception as exc:  # the loop must keep going
        log.exception("digest failed: %s", exc)


def _own_cadences(data: DataDir) -> dict[str, float]:
    """Models whose settings ask for their own cadence (meta.cadence_seconds), e.g. hourly models."""
    from duckwatch.store import catalog
    from duckwatch.store.settings import Settings

    out: dict[str, float] = {}
    for info in catalog.list_models(Settings(data.settings)):
        seconds = info.meta.get("cadence_seconds")
        if isinstance(seconds, int | float) and seconds > 0:
            out[info.model] = float(seconds)
    return out


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

            own = _own_cadences(data)
            states = FittedStates()  # what calculators fit on references, kept from tick to tick

            def _compute(
                wh: Warehouse, settings: Settings, info: ModelInfo, now: datetime, notify: bool
            ) -> int:
                from duckwatch.jobs.compute import compute_model

                return compute_model(wh, settings, info, now, notify, states)

            def _tick(only: str | None = None) -> None:
                nonlocal ticks
                try:
                    # The default tick covers every model without a cadence of its own; a model with
                    # one ("cadence_seconds" in its settings' meta) is ticked on its own schedule.
                    pick = (lambda m: m.model == only) if only else (lambda m: m.model not in own)
                    report = run_tick(data, models=pick, compute=_compute)
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
            for model, seconds in own.items():
                scheduler.every(max(1, round(seconds))).seconds.do(_tick, model)
            scheduler.every().day.at("08:00").do(_digest, data)
            _tick()
            while not stop.is_set():
                scheduler.run_pending()
                stop.wait(min(1.0, every_s))
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    return 0
