"""Cached reads for the pages (and the few writes, which check the role and clear the cache).

Alerting and users live in their own modules (`duckwatch.store.incidents`, `duckwatch.store.alerting`,
`duckwatch.store.users`, `duckwatch.alerting.thresholds`), imported directly.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from duckwatch.alerting import thresholds
from duckwatch.config import DataDir, resolve_data_dir
from duckwatch.readmodels import app_portfolio, app_views, incident_view, views
from duckwatch.store import alerting, catalog, published, users
from duckwatch.store import incidents as _incidents
from duckwatch.store.settings import Settings

# Reads are keyed on the published files' mtimes (they change only when the job publishes), not on a timer;
# writes from the app clear the cache. MAX_ENTRIES bounds what stale keys can hold.
MAX_ENTRIES = 64
WRITE_ROLES = ("editor", "admin")


class ReadOnlyError(PermissionError):
    """A write was attempted by a role that may not write."""


def data_dir() -> DataDir:
    """The data dir the app serves ($DUCKWATCH_DATA_DIR, else ./data)."""
    return resolve_data_dir()


def _settings() -> Settings:
    return Settings(data_dir().settings)


# Per-model portfolio facts, kept per (data dir, model) with the published file's mtime they were read at:
# after a publish only the republished models are read again (in a few threads: DuckDB releases the GIL).
_FACTS: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_FACTS_LOCK = threading.Lock()
READ_THREADS = 4


def _facts(folder: DataDir, infos: list[catalog.ModelInfo]) -> list[dict[str, Any]]:
    root = str(folder.root)
    stamps = {i.model: _stamp(i.model) for i in infos}
    with _FACTS_LOCK:
        have = {i.model: _FACTS.get((root, i.model)) for i in infos}
    stale = [i for i in infos if have[i.model] is None or have[i.model][0] != stamps[i.model]]  # type: ignore[index]

    def read(info: catalog.ModelInfo) -> tuple[str, dict[str, Any]]:
        return info.model, app_portfolio.model_facts(folder, views.overview_row(folder, info))

    if stale:
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(stale))) as pool:
            fresh = dict(pool.map(read, stale))
        with _FACTS_LOCK:
            for model, facts in fresh.items():
                _FACTS[(root, model)] = (stamps[model], facts)
                have[model] = (stamps[model], facts)
    return [have[i.model][1] for i in infos]  # type: ignore[index]


def portfolio() -> list[dict[str, Any]]:
    """Portfolio rows (see app_views.portfolio); a model's file is read again only after the job republishes
    it, while open incidents (which change without a publish) are applied on every run."""
    folder = data_dir()
    if not folder.settings.exists():
        return []
    infos = catalog.list_models(_settings())
    open_incidents = incidents(state="open")
    rows = [app_portfolio.row_from_facts(f, open_incidents) for f in _facts(folder, infos)]
    return sorted(rows, key=lambda r: (-r["severity"], r["model"]))


def models() -> list[dict[str, Any]]:
    """Registered models for the picker (model, display_name): a settings read, no published file opened."""
    folder = data_dir()
    if not folder.settings.exists():
        return []
    return [{"model": m.model, "display_name": m.display_name} for m in catalog.list_models(_settings())]


def _stamp(model: str | None = None) -> float:
    """Changes whenever the job publishes (one model's file, or any), so cached reads never outlive it."""
    folder = data_dir().published
    if model is not None:
        try:
            return (folder / f"{model}.duckdb").stat().st_mtime
        except OSError:
            return 0.0
    if not folder.is_dir():
        return 0.0
    return max((p.stat().st_mtime for p in folder.glob("*.duckdb")), default=0.0)


def model_row(model: str) -> dict[str, Any]:
    """One model's portfolio row (status, reason, since) without building the whole portfolio."""
    folder = data_dir()
    info = catalog.get_model(_settings(), model) if folder.settings.exists() else None
    if info is None:
        return {}
    facts = _facts(folder, [info])[0]
    return app_portfolio.row_from_facts(facts, incidents(model=model, state="open"))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _metrics(root: str, model: str, stamp: float) -> pd.DataFrame:
    return app_views.metrics(data_dir(), model)


def metrics(model: str) -> pd.DataFrame:
    """A model's metric results, identical to `duckwatch export metrics`."""
    return _metrics(str(data_dir().root), model, _stamp(model))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _windows(root: str, model: str, stamp: float) -> pd.DataFrame:
    return views.export_frame(data_dir(), "windows", model)


def windows(model: str) -> pd.DataFrame:
    """A model's windows and whether each is computed."""
    return _windows(str(data_dir().root), model, _stamp(model))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _histogram_pair(root: str, stamp: float, *key: str) -> pd.DataFrame:
    return app_views.histogram_pair(data_dir(), *key)


def histogram_pair(model: str, column: str, window: str, version: str, experiment: str) -> pd.DataFrame:
    """Reference vs current distribution of one column in one window."""
    return _histogram_pair(str(data_dir().root), _stamp(model), model, column, window, version, experiment)


@st.cache_data(max_entries=MAX_ENTRIES * 2, show_spinner=False)
def _metric_slice(root: str, model: str, stamp: float, filters: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    return published.metric_slice(data_dir(), model, **dict(filters))


def metric_slice(model: str, **filters: Any) -> pd.DataFrame:
    """Only the metric rows a view shows (see store.published.metric_slice): same columns as the export."""
    if filters.get("window_start") is not None:
        filters["window_start"] = pd.Timestamp(filters["window_start"]).isoformat()
    key = tuple(sorted(filters.items()))
    return _metric_slice(str(data_dir().root), model, _stamp(model), key)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _metric_catalog(root: str, model: str, stamp: float) -> pd.DataFrame:
    return published.metric_catalog(data_dir(), model)


def metric_catalog(model: str) -> pd.DataFrame:
    """One row per metric series (version, experiment, segment, family, metric, column) with its windows."""
    return _metric_catalog(str(data_dir().root), model, _stamp(model))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _metric_windows(
    root: str, model: str, stamp: float, family: str, pair: tuple[str, str] | None
) -> list[str]:
    return [pd.Timestamp(w).isoformat() for w in published.metric_windows(data_dir(), model, family, pair)]


def metric_windows(model: str, family: str, pair: tuple[str, str] | None = None) -> list[str]:
    """ISO window starts (newest first) that hold results of one family."""
    return _metric_windows(str(data_dir().root), model, _stamp(model), family, pair)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _latest_per_series(root: str, model: str, stamp: float) -> pd.DataFrame:
    return published.latest_per_series(data_dir(), model)


def latest_per_series(model: str) -> pd.DataFrame:
    """The latest window's row of every metric series (what Compare shows)."""
    return _latest_per_series(str(data_dir().root), model, _stamp(model))


def job_status() -> dict[str, Any]:
    """The job's heartbeat (never cached: it is the thing that says the rest is stale)."""
    return views.job_status(data_dir())


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _model_card(root: str, model: str, stamp: float) -> dict[str, Any]:
    return app_views.model_card(data_dir(), model)


def model_card(model: str) -> dict[str, Any]:
    """Purpose, owner, versions, columns and roles."""
    return _model_card(str(data_dir().root), model, _stamp(model))


def quarantine(model: str) -> pd.DataFrame:
    """Latest quarantined rows with their reason and raw values (for editors and admins)."""
    return views.quarantine_rows(data_dir(), model, limit=200)


def quarantine_reasons(model: str) -> pd.DataFrame:
    """The latest quarantined rows counted per stream and reason, without their raw values (for viewers)."""
    frame = quarantine(model)
    if frame.empty:
        return pd.DataFrame(columns=["stream", "reason", "rows", "latest"])
    grouped = frame.groupby(["stream", "reason"], sort=False)["received_at"]
    counts = grouped.agg(rows="size", latest="max").reset_index()
    return counts.sort_values(["rows", "latest"], ascending=False, kind="stable")


def audit_log(actor: str = "", text: str = "", since: str = "") -> pd.DataFrame:
    """Audit entries, newest first."""
    return app_views.audit_log(data_dir(), actor=actor, text=text, since=since)


def model_changes(model: str) -> pd.DataFrame:
    """One model's threshold and settings changes, newest first."""
    return app_views.model_changes(data_dir(), model)


def audit_actors() -> list[str]:
    """Everyone in the audit log (for the "who" filter)."""
    return app_views.audit_actors(data_dir())


def has_users() -> bool:
    """Whether any login exists."""
    return app_views.has_users(data_dir())


def verify_user(name: str, password: str) -> str | None:
    """The user's role if the password matches, else None (None too when users are not installed)."""
    found = users.verify(_settings(), name, password)
    return None if found is None else str(found.role)


def alerting_available() -> bool:
    """Whether the alerting modules (thresholds, incidents) are installed: they ship with duckwatch."""
    return True


def incidents(model: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
    """Incidents, newest first ('open' = not resolved), enriched by readmodels.incident_view (headline,
    cause, timeline, when)."""
    # One timeline and one title in words per incident, the same on every page, the report and the CLI.
    return incident_view.load(data_dir(), model, state, windows_of=windows)


def alerts(
    model: str | None = None, state: str | None = None, incident_id: int | None = None
) -> pd.DataFrame:
    """Alerts (one per breaching metric series), newest first."""
    rows = _incidents.list_alerts(_settings(), model=model, state=state, incident_id=incident_id)
    cols = ["id", "incident_id", "model", "version", "family", "metric", "col", "severity", "state", "policy"]
    cols += ["suppressed", "value", "bound", "baseline", "since", "window_start", "opened_at", "assignee"]
    return pd.DataFrame(rows, columns=cols)


def comments(incident_id: int) -> list[dict[str, Any]]:
    """An incident's comments, oldest first."""
    return [dict(r) for r in _incidents.comments(_settings(), incident_id)]


def threshold_for(model: str, row: dict[str, str]) -> Any:
    """The threshold that applies to one metric series (most specific scope), or None."""
    return thresholds.resolve(
        alerting.list_thresholds(_settings(), model),
        model=model,
        version=row["version"],
        family=row["family"],
        metric=row["metric"],
        col=row["column"] or "*",
        segment=row.get("segment") or "*",
    )


def _require_writer(role: str) -> None:
    if role not in WRITE_ROLES:
        raise ReadOnlyError(f"a {role} may not change settings; sign in as an editor")


def save_threshold(
    role: str,
    actor: str,
    *,
    model: str,
    family: str,
    metric: str,
    column: str,
    warning: float,
    critical: float,
    direction: str,
    reason: str,
    force: bool = False,
) -> Any:
    """Set absolute limits for one model's metric (audited; the store checks the role again)."""
    _require_writer(role)
    col = column or "*"
    current = [
        t for t in alerting.list_thresholds(_settings(), model)
        if (t.model, t.version, t.family, t.metric, t.col, t.segment) == (model, "*", family, metric, col, "*")
    ]  # fmt: skip
    values: dict[str, Any] = {
        "kind": "absolute",
        "direction": direction,
        "warning": warning,
        "critical": critical,
    }
    if current:
        out = alerting.update_threshold(
            _settings(), current[0].id, actor=actor, role=role, reason=reason, force=force, **values
        )
    else:
        out = alerting.create_threshold(
            _settings(), actor=actor, role=role, reason=reason, model=model, family=family, metric=metric,
            col=col, **values,
        )  # fmt: skip
    st.cache_data.clear()
    return out


def incident_action(action: str, role: str, actor: str, incident_id: int, **kwargs: Any) -> None:
    """acknowledge / assign / resolve / comment on an incident (audited; role checked twice)."""
    _require_writer(role)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    settings = _settings()
    if action == "acknowledge":
        _incidents.acknowledge(
            settings, incident_id, actor=actor, role=role, now=now, note=kwargs.get("note", "")
        )
    elif action == "assign":
        _incidents.assign(settings, incident_id, kwargs["assignee"], actor=actor, role=role)
    elif action == "resolve":
        _incidents.resolve(
            settings,
            incident_id,
            actor=actor,
            role=role,
            now=now,
            useful=kwargs.get("useful"),
            note=kwargs.get("note", ""),
        )
    elif action == "comment":
        _incidents.comment(settings, incident_id, kwargs["text"], actor=actor, role=role, now=now)
    else:
        raise ValueError(f"unknown incident action {action!r}")
    st.cache_data.clear()


def updated_ago() -> str:
    """When the data the page shows was last published."""
    stamp = _stamp()
    if not stamp:
        return "nothing published yet"
    return "data published " + app_views.ago(datetime.fromtimestamp(stamp, UTC))
