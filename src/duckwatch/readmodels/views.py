"""Read models shared by the CLI and the app: what each model has, quarantine, job status, exports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from duckwatch.config import STREAMS, DataDir
from duckwatch.names import check_model_name
from duckwatch.store import catalog, published_reads
from duckwatch.store.landing import count_rows, pending
from duckwatch.store.settings import Settings

EXPORT_COLUMNS = [
    "model",
    "version",
    "experiment",
    "segment",
    "window_start",
    "window_end",
    "family",
    "metric",
    "column",
    "value",
    "lower",
    "upper",
    "exact",
    "method",
    "threshold",
    "status",
    "n",
    "provisional",
    "p_value",  # the test's p-value, where the row has one (drift, label drift)
    "decision",  # rows that decide a column's drift: "drift (ks)" / "no drift (ks)", naming the deciding test
]


def models_overview(data: DataDir) -> list[dict[str, Any]]:
    """Every model with versions, rows per stream, quarantined and pending rows, first/last timestamps."""
    if not data.settings.exists():
        return []
    return [overview_row(data, info) for info in catalog.list_models(Settings(data.settings))]


def model_overview(data: DataDir, model: str) -> dict[str, Any]:
    """One model's `models_overview` row (empty when the model is not registered)."""
    if not data.settings.exists():
        return {}
    info = catalog.get_model(Settings(data.settings), model)
    return {} if info is None else overview_row(data, info)


def overview_row(data: DataDir, info: catalog.ModelInfo) -> dict[str, Any]:
    """A model's overview row, read with one open of its published file."""
    stats = published_reads.stream_overview(data, info.model)
    qcount = (
        0
        if stats.empty or "quarantined_rows" not in stats or pd.isna(stats["quarantined_rows"].iloc[0])
        else int(stats["quarantined_rows"].iloc[0])
    )
    if not stats.empty and stats["stream"].isna().all():
        stats = stats.iloc[0:0]
    row: dict[str, Any] = {"model": info.model, "display_name": info.display_name, "owner": info.owner}
    row["timezone"] = info.timezone
    versions: set[str] = set()
    for stream in (*STREAMS, "reference"):
        part = stats[stats["stream"] == stream] if not stats.empty else stats
        row[stream] = int(part["rows"].sum()) if not part.empty else 0
        if stream == "predictions" and not part.empty:
            versions.update(v or "(none)" for v in part["version"])
    landing_q = count_rows(pending(data.landing, "quarantine", info.model))
    row["quarantined"] = qcount + landing_q
    row["pending"] = sum(count_rows(pending(data.landing, s, info.model)) for s in (*STREAMS, "reference"))
    row["versions"] = ",".join(sorted(versions))
    preds = stats[stats["stream"] == "predictions"] if not stats.empty else stats
    row["first_ts"] = _iso(preds["first_ts"].min()) if not preds.empty else ""
    row["last_ts"] = _iso(preds["last_ts"].max()) if not preds.empty else ""
    return row


def _iso(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


# Columns of a quarantine file still waiting in landing -> the published quarantine table's names.
_LANDING_QUARANTINE = {
    "_received_at": "received_at",
    "_stream": "stream",
    "_batch": "batch_id",
    "_row": "row_no",
    "_reason": "reason",
    "_raw": "raw",
}


def quarantine_rows(data: DataDir, model: str, limit: int = 50) -> pd.DataFrame:
    """Quarantined rows with their reason: ingested ones plus those still waiting in landing."""
    check_model_name(model)
    frame = published_reads.quarantine_recent(data, model, limit)
    files = pending(data.landing, "quarantine", model)
    if files:
        parts = []
        for f in files[-20:]:
            try:
                # Only the columns shown: an event time no display can hold never turns into an object.
                parts.append(pd.read_parquet(f, columns=list(_LANDING_QUARANTINE)))
            except FileNotFoundError:  # the job ingested it meanwhile; it is in the published copy next time
                continue
        if not parts:
            return frame.head(limit)
        waiting = pd.concat(parts, ignore_index=True).rename(columns=_LANDING_QUARANTINE)[
            list(_LANDING_QUARANTINE.values())
        ]
        frame = waiting if frame.empty else pd.concat([waiting, frame], ignore_index=True)
    return frame.head(limit)


def export_frame(data: DataDir, what: str, model: str) -> pd.DataFrame:
    """The table behind a view, for `duckwatch export` (metrics, quarantine, windows)."""
    check_model_name(model)
    if what == "metrics":
        frame = published_reads.metric_results_export(data, model)
        return frame if not frame.empty else pd.DataFrame(columns=EXPORT_COLUMNS)
    if what == "windows":
        return published_reads.window_state_rows(data, model)
    return quarantine_rows(data, model, limit=1_000_000)


def job_status(data: DataDir, stale_after_s: float = 600.0, now: datetime | None = None) -> dict[str, Any]:
    """Whether the job is alive (a dead job cannot report itself, so readers check its heartbeat)."""
    from duckwatch.store.heartbeat import last_heartbeat

    now = now or datetime.now(UTC)
    if not data.settings.exists():
        return {"state": "never-run", "message": "no data dir yet: run `duckwatch init` or `duckwatch demo`"}
    hb = last_heartbeat(Settings(data.settings))
    backlog = sum(
        len(pending(data.landing, s, m.name))
        for s in (*STREAMS, "reference", "quarantine")
        if (data.landing / s).is_dir()
        for m in (data.landing / s).iterdir()
    )
    if hb is None:
        return {
            "state": "never-run",
            "message": "the job has not run yet: `duckwatch run` or `duckwatch schedule`",
            "backlog_files": backlog,
        }
    finished = datetime.fromisoformat(str(hb["finished_at"]))
    age = (now - finished).total_seconds()
    state = "stale" if age > stale_after_s else ("errors" if hb["errors"] else "ok")
    return {
        "state": state,
        "last_tick": finished.isoformat(),
        "age_s": round(age, 1),
        "duration_s": round(float(str(hb["duration_s"] or 0)), 3),
        "rows_ingested": hb["rows_ingested"],
        "windows_computed": hb["windows_computed"],
        "errors": hb["errors"] or "",
        "backlog_files": backlog,
        "message": (
            f"job is stale: last tick {age / 60:.0f} min ago; start it with `duckwatch schedule`"
            if state == "stale"
            else "ok"
        ),
    }
