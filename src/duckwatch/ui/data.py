"""Cached reads for the pages (and the few writes, which check the role and clear the cache).

Alerting and users live in modules other engineers own (`duckwatch.jobs.alerts`, `duckwatch.store.alerting`,
`duckwatch.store.users`); they are imported lazily so the app still runs, with empty states, without them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from duckwatch.config import DataDir, resolve_data_dir
from duckwatch.jobs import app_views, views
from duckwatch.store.settings import Settings

TTL_S = 30
ALERTING_MODULES = ("duckwatch.jobs.alerts", "duckwatch.store.alerting")
WRITE_ROLES = ("editor", "admin")


class ReadOnlyError(PermissionError):
    """A write was attempted by a role that may not write."""


def data_dir() -> DataDir:
    """The data dir the app serves ($DUCKWATCH_DATA_DIR, else ./data)."""
    return resolve_data_dir()


def _settings() -> Settings:
    return Settings(data_dir().settings)


def _fn(name: str, modules: tuple[str, ...] = ALERTING_MODULES) -> Callable[..., Any] | None:
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def alerting_available() -> bool:
    """Whether the alerting module (thresholds, incidents) is installed."""
    return _fn("list_incidents") is not None


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _portfolio(root: str, stamp: float) -> list[dict[str, Any]]:
    return app_views.portfolio(data_dir(), incidents=_incidents_uncached(None, None))


def portfolio() -> list[dict[str, Any]]:
    """Portfolio rows (see app_views.portfolio)."""
    return _portfolio(str(data_dir().root), _stamp())


def _stamp() -> float:
    """Changes whenever the job publishes, so cached reads never outlive the published files."""
    folder = data_dir().published
    if not folder.is_dir():
        return 0.0
    return max((p.stat().st_mtime for p in folder.glob("*.duckdb")), default=0.0)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _metrics(root: str, model: str, stamp: float) -> pd.DataFrame:
    return app_views.metrics(data_dir(), model)


def metrics(model: str) -> pd.DataFrame:
    """A model's metric results, identical to `duckwatch export metrics`."""
    return _metrics(str(data_dir().root), model, _stamp())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _windows(root: str, model: str, stamp: float) -> pd.DataFrame:
    return views.export_frame(data_dir(), "windows", model)


def windows(model: str) -> pd.DataFrame:
    """A model's windows and whether each is computed."""
    return _windows(str(data_dir().root), model, _stamp())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _histogram_pair(root: str, *key: str) -> pd.DataFrame:
    return app_views.histogram_pair(data_dir(), *key)


def histogram_pair(model: str, column: str, window: str, version: str, experiment: str) -> pd.DataFrame:
    """Reference vs current distribution of one column in one window."""
    return _histogram_pair(str(data_dir().root), model, column, window, version, experiment)


def job_status() -> dict[str, Any]:
    """The job's heartbeat (never cached: it is the thing that says the rest is stale)."""
    return views.job_status(data_dir())


def model_card(model: str) -> dict[str, Any]:
    """Purpose, owner, versions, columns and roles."""
    return app_views.model_card(data_dir(), model)


def quarantine(model: str) -> pd.DataFrame:
    """Latest quarantined rows with their reason."""
    return views.quarantine_rows(data_dir(), model, limit=200)


def audit_log(actor: str = "", text: str = "", since: str = "") -> pd.DataFrame:
    """Audit entries, newest first."""
    return app_views.audit_log(data_dir(), actor=actor, text=text, since=since)


def has_users() -> bool:
    """Whether any login exists."""
    return app_views.has_users(data_dir())


def verify_user(name: str, password: str) -> str | None:
    """The user's role if the password matches, else None (None too when users are not installed)."""
    fn = _fn("verify", ("duckwatch.store.users",))
    return None if fn is None else fn(_settings(), name, password)


def _incidents_uncached(model: str | None, state: str | None) -> list[dict[str, Any]]:
    fn = _fn("list_incidents")
    if fn is None:
        return []
    rows = fn(_settings(), model=model, state=state)
    return [dict(r) if not isinstance(r, dict) else r for r in rows]


def incidents(model: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
    """Incidents (grouped alerts), newest first; empty when alerting is not installed."""
    return _incidents_uncached(model, state)


def thresholds(model: str) -> list[dict[str, Any]]:
    """A model's thresholds; empty when alerting is not installed."""
    fn = _fn("list_thresholds")
    if fn is None:
        return []
    return [dict(r) if not isinstance(r, dict) else r for r in fn(_settings(), model)]


def _require_writer(role: str) -> None:
    if role not in WRITE_ROLES:
        raise ReadOnlyError(f"role {role!r} may not change settings; log in as an editor")


def _write(name: str, role: str, *args: Any, **kwargs: Any) -> Any:
    _require_writer(role)
    fn = _fn(name)
    if fn is None:
        raise RuntimeError(
            f"{name} is not available: the alerting module (duckwatch.jobs.alerts) is not installed"
        )
    result = fn(_settings(), *args, role=role, **kwargs)
    st.cache_data.clear()
    return result


def save_threshold(role: str, actor: str, **threshold: Any) -> Any:
    """Set a threshold (audited by the alerting store, which checks the role again)."""
    return _write("set_threshold", role, actor=actor, **threshold)


def incident_action(action: str, role: str, actor: str, incident_id: Any, **kwargs: Any) -> Any:
    """acknowledge / assign / resolve / comment on an incident."""
    if action not in ("acknowledge", "assign", "resolve", "comment"):
        raise ValueError(f"unknown incident action {action!r}")
    return _write(action, role, incident_id, actor=actor, **kwargs)


def updated_ago() -> str:
    """When the data the page shows was last published."""
    stamp = _stamp()
    if not stamp:
        return "nothing published yet"
    return "data published " + app_views.ago(datetime.fromtimestamp(stamp, UTC))
