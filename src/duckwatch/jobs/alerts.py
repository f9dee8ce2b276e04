"""Thresholds → alerts → incidents → outbox, for the windows one compute stage just produced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from duckwatch.jobs import notify as notify_mod
from duckwatch.jobs.alert_decide import Decision, decide
from duckwatch.store import alert_state
from duckwatch.store.alerting import Threshold, list_thresholds
from duckwatch.store.catalog import ModelInfo, get_columns
from duckwatch.store.incidents import (
    acknowledge,
    alert_precision,
    assign,
    comment,
    comments,
    get_incident,
    list_alerts,
    list_incidents,
)
from duckwatch.store.incidents import resolve as resolve_incident
from duckwatch.store.routing import in_maintenance
from duckwatch.store.settings import Settings

__all__ = [
    "AlertSummary",
    "acknowledge",
    "alert_precision",
    "assign",
    "comment",
    "comments",
    "evaluate_and_alert",
    "get_incident",
    "list_alerts",
    "list_incidents",
    "resolve",
]

resolve = resolve_incident  # the app's name for resolving an incident by hand
CAUSE_FAMILIES = ("drift", "quality")
_RANK = {"": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class AlertSummary:
    """What one evaluation did; ``results`` is the input frame with status/threshold filled in."""

    results: pd.DataFrame
    opened: int = 0
    refreshed: int = 0
    resolved: int = 0
    incidents_opened: int = 0
    incidents_resolved: int = 0
    notifications: int = 0
    incident_ids: tuple[int, ...] = ()


def _iso(value: Any) -> str:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.to_pydatetime().isoformat(timespec="microseconds"))


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def dedup_key(model: str, key: dict[str, str]) -> str:
    """The de-duplication key: model, version, experiment, metric, column, segment."""
    return "|".join([model, *(str(key[k]) for k in ("version", "experiment", "metric", "col", "segment"))])


def _effect(value: float | None, bound: float | None) -> float | None:
    if value is None:
        return None
    return abs(value / bound) if bound not in (None, 0) else abs(value)


def _likely_cause(alerts: list[dict[str, Any]], labels: frozenset[str] = frozenset()) -> str:
    """The input change with the largest effect (drift first, then data quality) among an incident's
    alerts; drift of a column in ``labels`` (the model's label) is a shift of the outcomes themselves."""
    causes = [a for a in alerts if a["family"] in CAUSE_FAMILIES and a["state"] != "resolved"]
    if not causes:
        return ""
    causes.sort(key=lambda a: (a["family"] != "drift", -(a["effect"] or 0.0)))
    top = causes[0]
    kind = (
        "data quality"
        if top["family"] != "drift"
        else "label drift"
        if top["col"] in labels
        else "input drift"
    )
    ratio = f", {top['effect']:.3g}× its bound" if top["effect"] is not None and top["bound"] else ""
    value = "n/a" if top["value"] is None else f"{top['value']:.3g}"
    more = f"; {len(causes) - 1} other input alert(s) in the same windows" if len(causes) > 1 else ""
    return f"{kind} in column '{top['col']}' ({top['metric']} {value}{ratio}){more}"


class _Run:
    """One evaluation's store writes and counters."""

    def __init__(self, settings: Settings, model: ModelInfo, now: datetime) -> None:
        self.settings, self.model, self.now = settings, model, _utc(now)
        self.stamp = self.now.isoformat(timespec="microseconds")
        self.counts = {
            "opened": 0,
            "refreshed": 0,
            "resolved": 0,
            "incidents_opened": 0,
            "incidents_resolved": 0,
        }
        self.touched: set[int] = set()
        self.open = {a["dedup_key"]: a for a in list_alerts(settings, model.model, state="open")}

    def apply(self, d: Decision) -> None:
        key = dedup_key(self.model.model, d.key)
        existing = self.open.get(key)
        if d.action == "clear":
            if existing is not None:
                note = f"auto-resolved: back to normal ({d.key['metric']} = {d.value} in window {d.window_start})"
                inc = alert_state.auto_resolve_alert(self.settings, existing["id"], self.stamp, note)
                del self.open[key]
                self.counts["resolved"] += 1
                self.counts["incidents_resolved"] += inc is not None
            return
        values = {
            "severity": d.severity,
            "value": d.value,
            "bound": d.bound,
            "baseline": d.baseline,
            "effect": _effect(d.value, d.bound),
            "window_start": d.window_start,
            "window_end": d.window_end,
            "last_seen_at": self.stamp,
        }
        if existing is not None:
            alert_state.refresh_alert(self.settings, existing["id"], values)
            self.counts["refreshed"] += 1
            if existing["incident_id"] is not None:
                self.touched.add(int(existing["incident_id"]))
            return
        alert_id = alert_state.insert_alert(
            self.settings,
            {
                **values,
                **d.key,
                "dedup_key": key,
                "model": self.model.model,
                "threshold_id": d.threshold.id,
                "policy": d.threshold.severity_policy,
                "suppressed": "",
                "since": d.since,
                "opened_at": self.stamp,
                "details": d.details,
            },
        )
        self.open[key] = {"id": alert_id, "incident_id": None}
        self.counts["opened"] += 1

    def group(self) -> None:
        """Put open page alerts into overlapping incidents (or new ones); attach annotations."""
        open_alerts = list_alerts(self.settings, self.model.model, state="open")
        for a in sorted(open_alerts, key=lambda a: (a["policy"] != "page", a["id"])):
            if a["incident_id"] is not None:
                continue
            inc = alert_state.overlapping_incident(
                self.settings, self.model.model, a["since"], a["window_end"]
            )
            if inc is None:
                if a["policy"] != "page":
                    continue  # input drift alone annotates; it never opens an incident
                name = self.model.display_name or self.model.model
                incident_id = alert_state.create_incident(
                    self.settings,
                    {
                        "model": self.model.model,
                        "severity": a["severity"],
                        "title": f"{name}: {a['metric']} moved",
                        "since": a["since"],
                        "span_end": a["window_end"],
                        "opened_at": self.stamp,
                    },
                )
                self.counts["incidents_opened"] += 1
            else:
                incident_id = int(inc["id"])
            alert_state.attach_alert(self.settings, a["id"], incident_id)
            self.touched.add(incident_id)
        for incident_id in self.touched:
            self._refresh_incident(incident_id)
        self.open = {a["dedup_key"]: a for a in list_alerts(self.settings, self.model.model, state="open")}

    def _refresh_incident(self, incident_id: int) -> None:
        alerts = [a for a in list_alerts(self.settings, incident_id=incident_id) if a["state"] != "resolved"]
        page = [a for a in alerts if a["policy"] == "page"]
        if not page:
            return
        top = max(page, key=lambda a: (_RANK[a["severity"]], -a["id"]))
        name = self.model.display_name or self.model.model
        extra = f" (+{len(page) - 1} more)" if len(page) > 1 else ""
        alert_state.update_incident(
            self.settings,
            incident_id,
            {
                "severity": top["severity"],
                # Since when the symptom that paged: annotations explain it but do not move the start.
                "since": min(a["since"] for a in page),
                "span_end": max(a["window_end"] for a in alerts),
                "likely_cause": _likely_cause(alerts, self._labels()),
                "title": f"{name}: {top['metric']} moved{extra}",
            },
        )

    def _labels(self) -> frozenset[str]:
        return frozenset(c.name for c in get_columns(self.settings, self.model.model) if c.role == "label")

    def suppression(self, alert: dict[str, Any], thresholds: dict[int, Threshold]) -> str:
        """Why this paging alert must not notify now ('' if it may)."""
        t = thresholds.get(int(alert["threshold_id"] or 0))
        if t is not None and t.mute_until and datetime.fromisoformat(t.mute_until) > self.now:
            return "muted"
        if in_maintenance(self.settings, self.model.model, alert["window_start"], alert["window_end"]) or (
            in_maintenance(self.settings, self.model.model, self.stamp, self.stamp)
        ):
            return "maintenance"
        cooldown = timedelta(hours=t.cooldown_hours if t is not None else 6.0)
        last = alert_state.last_notified(self.settings, alert["dedup_key"], alert["id"])
        if last is not None and datetime.fromisoformat(last) >= self.now - cooldown:
            return "cooldown"
        return ""


def _value_at_stake(model: ModelInfo, results: pd.DataFrame) -> str:
    stake = results[(results["family"] == "kpi") & (results["metric"] == "value_at_stake")]
    if len(stake):
        return f"{float(stake['value'].sum()):,.2f}"
    known = model.meta.get("value_at_stake")
    return str(known) if known else "unknown (set a value matrix or a value_at_stake KPI)"


def evaluate_and_alert(
    settings: Settings,
    model: ModelInfo,
    results: pd.DataFrame,
    history: pd.DataFrame,
    now: datetime,
    notify: bool,
    public_url: str = "",
) -> AlertSummary:
    """Set threshold statuses, open/refresh/auto-resolve alerts, group incidents, enqueue notifications."""
    out = results.copy().reset_index(drop=True)
    out["threshold"] = out["threshold"].astype("float64")
    out["status"] = out["status"].astype("object")
    if out.empty:
        return AlertSummary(out)
    thresholds = list_thresholds(settings, model.model)
    run = _Run(settings, model, now)
    # Window by window, oldest first, each window's decisions in their order (grouped once: a scan of
    # every decision per window was quadratic, 50 s for a 720-window backfill).
    by_window: dict[Any, list[Any]] = {}
    for d in decide(model, thresholds, out, history):
        by_window.setdefault(d.window_end, []).append(d)
    for window_end in sorted(by_window):
        for d in by_window[window_end]:
            run.apply(d)
        run.group()
    sent = 0
    by_id = {t.id: t for t in thresholds}
    for incident_id in sorted(run.touched):
        incident = get_incident(settings, incident_id)
        if incident is None or incident["state"] == "resolved":
            continue
        alerts = [a for a in list_alerts(settings, incident_id=incident_id) if a["state"] != "resolved"]
        eligible = []
        for a in alerts:
            if a["policy"] != "page":
                continue
            reason = run.suppression(a, by_id)
            if reason != a["suppressed"]:
                alert_state.set_suppressed(settings, a["id"], reason)
            if not reason:
                eligible.append(a)
        if not notify or not eligible or _RANK[incident["severity"]] <= _RANK[incident["notified_severity"]]:
            continue
        notify_mod.enqueue_incident(
            settings, model, incident, alerts, run.now, _value_at_stake(model, out), public_url
        )
        alert_state.mark_notified(settings, incident_id, incident["severity"], run.stamp)
        sent += 1
    return AlertSummary(out, **run.counts, notifications=sent, incident_ids=tuple(sorted(run.touched)))
