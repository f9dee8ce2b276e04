"""Thresholds → alerts → incidents → outbox, for the windows one compute stage just produced."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from duckwatch.alerting import notify as notify_mod
from duckwatch.alerting.decide import Decided, Decision, decide_windows
from duckwatch.store import alert_handoff, alert_state
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
    "Judgement",
    "acknowledge",
    "alert_precision",
    "apply",
    "assign",
    "comment",
    "comments",
    "evaluate_and_alert",
    "get_incident",
    "judge",
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


def _stored(value: Any) -> Any:
    """A value as the store reads it back: SQLite keeps NaN as NULL."""
    return None if isinstance(value, float) and math.isnan(value) else value


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
    """One evaluation's store writes and counters.

    The model's unresolved alerts and incidents are read once and kept in step with every write, so
    the grouping after each window reads memory instead of the store (1,441 queries for a 720-window
    tick); the writes themselves are the store's, one by one, inside the caller's batch."""

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
        self.alerts = {int(a["id"]): a for a in list_alerts(settings, model.model, state="open")}
        self.open = {a["dedup_key"]: a for a in self.alerts.values()}  # one unresolved alert per key
        self.incidents = {int(i["id"]): i for i in alert_state.unresolved_incidents(settings, model.model)}
        self.stale: set[int] = set()  # incidents whose alerts changed since their summary was written
        self._label_cols: frozenset[str] | None = None

    def apply(self, d: Decision) -> None:
        key = dedup_key(self.model.model, d.key)
        existing = self.open.get(key)
        if d.action == "clear":
            if existing is not None:
                note = f"auto-resolved: back to normal ({d.key['metric']} = {d.value} in window {d.window_start})"
                inc = alert_state.auto_resolve_alert(self.settings, existing["id"], self.stamp, note)
                del self.open[key]
                del self.alerts[int(existing["id"])]
                self._changed(existing["incident_id"])
                if inc is not None:
                    self.incidents.pop(inc, None)
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
            existing.update({k: _stored(v) for k, v in values.items()})
            self.counts["refreshed"] += 1
            if existing["incident_id"] is not None:
                self.touched.add(int(existing["incident_id"]))
                self._changed(existing["incident_id"])
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
        row = alert_state.get_alert(self.settings, alert_id)
        assert row is not None  # inserted just now, in this transaction
        self.open[key] = self.alerts[alert_id] = row
        self.counts["opened"] += 1

    def _changed(self, incident_id: Any) -> None:
        if incident_id is not None:
            self.stale.add(int(incident_id))

    def group(self) -> None:
        """Put open page alerts into overlapping incidents (or new ones); attach annotations."""
        loose = [a for a in self.alerts.values() if a["incident_id"] is None]
        for a in sorted(loose, key=lambda a: (a["policy"] != "page", a["id"])):
            incident_id = self._overlapping(a["since"], a["window_end"])
            if incident_id is None:
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
                self.incidents[incident_id] = {
                    "id": incident_id,
                    "since": a["since"],
                    "span_end": a["window_end"],
                }
                self.counts["incidents_opened"] += 1
            alert_state.attach_alert(self.settings, a["id"], incident_id)
            a["incident_id"] = incident_id
            self.touched.add(incident_id)
            self.stale.add(incident_id)
        # An incident's summary depends only on its alerts: one whose alerts did not change since it was
        # last written would be written again with the same values.
        for incident_id in self.touched & self.stale:
            self._refresh_incident(incident_id)
        self.stale -= self.touched

    def _overlapping(self, since: str, end: str) -> int | None:
        """The newest unresolved incident whose span overlaps [since, end] (ISO text compares as time)."""
        hits = [i for i, inc in self.incidents.items() if inc["since"] <= end and inc["span_end"] >= since]
        return max(hits) if hits else None

    def _refresh_incident(self, incident_id: int) -> None:
        alerts = [a for a in self.alerts.values() if a["incident_id"] == incident_id]
        alerts.sort(key=lambda a: (a["opened_at"], a["id"]), reverse=True)  # as list_alerts orders them
        page = [a for a in alerts if a["policy"] == "page"]
        if not page:
            return
        top = max(page, key=lambda a: (_RANK[a["severity"]], -a["id"]))
        name = self.model.display_name or self.model.model
        extra = f" (+{len(page) - 1} more)" if len(page) > 1 else ""
        values = {
            "severity": top["severity"],
            # Since when the symptom that paged: annotations explain it but do not move the start.
            "since": min(a["since"] for a in page),
            "span_end": max(a["window_end"] for a in alerts),
            "likely_cause": _likely_cause(alerts, self._labels()),
            "title": f"{name}: {top['metric']} moved{extra}",
        }
        alert_state.update_incident(self.settings, incident_id, values)
        if incident_id in self.incidents:
            self.incidents[incident_id].update(since=values["since"], span_end=values["span_end"])

    def _labels(self) -> frozenset[str]:
        if self._label_cols is None:
            cols = get_columns(self.settings, self.model.model)
            self._label_cols = frozenset(c.name for c in cols if c.role == "label")
        return self._label_cols

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


@dataclass(frozen=True)
class Judgement:
    """``results`` with status/threshold filled in, and the alert decisions they lead to."""

    results: pd.DataFrame
    thresholds: list[Threshold]
    decided: Decided | None  # None when there was nothing to judge


def judge(settings: Settings, model: ModelInfo, results: pd.DataFrame, history: pd.DataFrame) -> Judgement:
    """Set threshold statuses and decide which alerts fire or clear; writes nothing."""
    out = results.copy().reset_index(drop=True)
    out["threshold"] = out["threshold"].astype("float64")
    out["status"] = out["status"].astype("object")
    if out.empty:
        return Judgement(out, [], None)
    thresholds = list_thresholds(settings, model.model)
    open_keys = {a["dedup_key"] for a in list_alerts(settings, model.model, state="open")}
    decided = decide_windows(
        model, thresholds, out, history, lambda key: dedup_key(model.model, key), open_keys
    )
    return Judgement(out, thresholds, decided)


def apply(
    settings: Settings,
    model: ModelInfo,
    judged: Judgement,
    now: datetime,
    notify: bool,
    public_url: str = "",
    token: str = "",
) -> AlertSummary:
    """Open/refresh/auto-resolve alerts, group incidents and enqueue notifications, all in one
    transaction that also records ``token`` (store/alert_handoff.py): all of it commits, or none."""
    if judged.decided is None and not token:
        return AlertSummary(judged.results)
    run = None
    # One connection and one transaction for the whole evaluation: thousands of small reads and writes
    # each opening a connection (and committing with an fsync) cost ~7 s for a 720-window tick. The
    # outer write makes it all-or-nothing also when something raises half-way.
    with settings.batch(), settings.write():
        sent = 0
        if judged.decided is not None:
            run = _Run(settings, model, now)
            # Window by window, oldest first, each window's decisions in their order; the grouping runs
            # after every window that had a decision, also one whose clears were dropped as no-ops.
            by_window: dict[str, list[Decision]] = {}
            for d in judged.decided.decisions:
                by_window.setdefault(d.window_end, []).append(d)
            for window_end in judged.decided.windows:
                for d in by_window.get(window_end, []):
                    run.apply(d)
                run.group()
            sent = _notify(run, judged.thresholds, judged.results, notify, public_url)
        if token:
            alert_handoff.record_applied(settings, model.model, token)
    if run is None:
        return AlertSummary(judged.results)
    return AlertSummary(
        judged.results, **run.counts, notifications=sent, incident_ids=tuple(sorted(run.touched))
    )


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
    return apply(settings, model, judge(settings, model, results, history), now, notify, public_url)


def _notify(run: _Run, thresholds: list[Threshold], out: pd.DataFrame, notify: bool, public_url: str) -> int:
    """Record why each paging alert of a touched incident is quiet; enqueue the incidents that may notify."""
    settings, model, sent = run.settings, run.model, 0
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
    return sent
