"""One job tick: ingest sealed batches, mark windows dirty, compute metrics, alert, publish."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from duckwatch.config import DataDir
from duckwatch.jobs.lock import job_lock
from duckwatch.jobs.settings_change import (
    history_is_quiet,
    history_recomputed,
    recompute_if_changed,
    recompute_if_upgraded,
)
from duckwatch.loading.inputs import input_windows, mark_windows_dirty
from duckwatch.loading.profiling import profiled_columns, profiled_seq
from duckwatch.loading.windows_rows import is_row_window, mark_dirty_rows
from duckwatch.store import catalog, dirty_windows, heartbeat, job_state, raw_sources
from duckwatch.store.landing import pending, pending_models, remove_stale_temp_files
from duckwatch.store.published import publish_model
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import IngestResult, Warehouse

log = logging.getLogger("duckwatch.job")
STREAM_ORDER = ("reference", "predictions", "inputs", "outcomes", "quarantine")


@dataclass
class TickReport:
    """What one tick did (also recorded in the heartbeat)."""

    started_at: datetime
    duration_s: float = 0.0
    rows_ingested: int = 0
    windows_computed: int = 0
    models: list[str] = field(default_factory=list)
    ingest: list[tuple[str, IngestResult]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)


# The compute stage (metrics, thresholds, alerts) plugs in here; see jobs/compute.py.
ComputeFn = Callable[[Warehouse, Settings, catalog.ModelInfo, datetime, bool], int]


def run_tick(
    data: DataDir,
    *,
    now: datetime | None = None,
    notify: bool = True,
    compute: ComputeFn | None = None,
    progress: Callable[[str], None] | None = None,
    models: Callable[[catalog.ModelInfo], bool] | None = None,
) -> TickReport:
    """Run one tick over every model of ``data`` (or those ``models`` selects); one model's failure
    never stops the others."""
    data.ensure()
    now = now or datetime.now(UTC)
    say = progress or (lambda _msg: None)
    if compute is None:
        from duckwatch.jobs.compute import compute_model

        compute = compute_model
    report = TickReport(started_at=now)
    t0 = time.perf_counter()
    with job_lock(data.locks):
        settings = Settings(data.settings)
        hb = heartbeat.start(settings)
        remove_stale_temp_files(data.landing)
        for name in sorted(pending_models(data.landing)):
            catalog.ensure_model(settings, name, actor="job")
        wh = Warehouse(data)
        try:
            seq = wh.next_seq()
            for info in catalog.list_models(settings):
                if models is not None and not models(info):
                    continue
                try:
                    say(f"{info.model}: ingesting")
                    rows = _ingest_model(wh, settings, info, seq, report)
                    wh.set_timezone(info.timezone)
                    changed = recompute_if_changed(wh, info, catalog.get_columns(settings, info.model))
                    if changed:
                        say(f"{info.model}: settings changed ({'; '.join(changed)}): recomputing history")
                    if recompute_if_upgraded(wh, info):
                        say(f"{info.model}: results of an older version: recomputing history")
                    _mark_dirty(wh, info, seq, settings)
                    _mark_matured(wh, info, now)
                    say(f"{info.model}: computing windows")
                    quiet = history_is_quiet(wh, info.model)  # recomputed history notifies nobody
                    computed = compute(wh, settings, info, now, notify and not quiet)
                    if quiet:
                        history_recomputed(wh, info.model)
                    report.windows_computed += computed
                    pending_publish = job_state.publish_pending(wh, info.model)
                    if rows or computed or pending_publish or not _published(data, info.model):
                        publish_model(wh, info.model, info.model_key)
                        job_state.clear_publish_pending(wh, info.model)
                    report.models.append(info.model)
                except Exception as exc:  # isolate models: report, keep going
                    log.error("model %s failed in this tick: %s", info.model, exc)
                    report.errors.append(f"{info.model}: {type(exc).__name__}: {exc}")
                    log.debug(traceback.format_exc())
                finally:
                    wh.set_timezone("UTC")
        finally:
            wh.close()
            if notify:
                _deliver(settings, now, report)
            report.duration_s = time.perf_counter() - t0
            heartbeat.finish(
                settings, hb, report.duration_s, report.rows_ingested, report.windows_computed, report.errors
            )
    return report


def _published(data: DataDir, model: str) -> bool:
    return (data.published / f"{model}.duckdb").exists()


def _ingest_model(
    wh: Warehouse, settings: Settings, info: catalog.ModelInfo, seq: int, report: TickReport
) -> int:
    columns = catalog.get_columns(settings, info.model)
    total = 0
    for stream in STREAM_ORDER:
        files = pending(wh.data.landing, stream, info.model)
        if not files:
            continue
        result = wh.ingest(info.model, info.model_key, stream, files, columns, seq)
        report.ingest.append((info.model, result))
        if stream != "quarantine":
            total += result.rows_new
    report.rows_ingested += total
    return total


def _mark_dirty(wh: Warehouse, info: catalog.ModelInfo, seq: int, settings: Settings) -> None:
    """New predictions dirty their windows; new outcomes dirty the windows of their predictions; new
    input rows dirty theirs when inputs feed a column (loading/inputs.py)."""
    sources: list[str] = []
    params: list[object] = []
    # Rows of every tick not yet profiled: a tick killed between ingest and compute leaves them to us.
    since: int | None = None
    if wh.has_table(info.model_key, "inputs"):
        since = profiled_seq(wh, info.model)
        cols = profiled_columns(catalog.get_columns(settings, info.model))
        found = input_windows(wh, info, cols, (since, seq), (since, seq))  # None for row-count windows
        if found is not None:
            sources.append(found[0])
            params += found[1]
    if not wh.has_table(info.model_key, "predictions"):
        mark_windows_dirty(wh, info, sources, params)
        return
    if is_row_window(info.window):  # windows of N rows: cut points are kept in row_windows
        mark_dirty_rows(wh, info, profiled_seq(wh, info.model) if since is None else since, seq)
        return
    unit = info.window
    if since is None:
        since = profiled_seq(wh, info.model)
    # Truncating every new row's time costs ~0.2 s per million rows; when each (version, experiment)'s
    # first and last new row share a window (truncation is monotone), that window is the only one.
    new, new_params = raw_sources.tick_rows(wh, info.model_key, "predictions", (since, seq))
    ends = dirty_windows.window_ends(wh, new, new_params, unit)
    found_sql, found_params = (
        dirty_windows.windows_of_ends(ends)
        if all(first == last for _v, _e, first, last in ends)
        else dirty_windows.windows_of_rows(new, new_params, unit)
    )
    if ends:
        sources.append(found_sql)
        params += found_params
    mark_windows_dirty(wh, info, sources, params)
    if wh.has_table(info.model_key, "outcomes"):
        # Outcomes change labels only: their windows recompute what reads labels (migration 0010).
        relabelled, relabelled_params = dirty_windows.relabelled_windows(info.model_key, unit, since, seq)
        mark_windows_dirty(wh, info, [relabelled], relabelled_params, labels_only=True)


def _mark_matured(wh: Warehouse, info: catalog.ModelInfo, now: datetime) -> None:
    """Windows whose label horizon has passed since they were computed are computed again.

    Their results were provisional (labels still on the way), and provisional results never open or
    clear an alert; without this step a window that receives no new rows would stay provisional
    forever and a late-label symptom (labels that stopped arriving, a fall in accuracy) never page.
    """
    horizon = float(info.label_horizon_hours) * 3600.0
    # Only label-reading metrics carry the provisional mark: nothing else changes at the horizon.
    dirty_windows.mark_matured(wh, info.model, horizon, now)


def _deliver(settings: Settings, now: datetime, report: TickReport) -> None:
    """Send what the outbox holds; a failing receiver is recorded there, never fatal for the tick."""
    try:
        from duckwatch.alerting.notify import deliver_outbox

        deliver_outbox(settings, None, now)
    except Exception as exc:
        log.error("notification delivery failed: %s", exc)
        report.errors.append(f"notifications: {exc}")
