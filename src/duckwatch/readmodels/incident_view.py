"""One incident as every surface shows it (portfolio, model, alerts, report, `duckwatch alerts`).

The timeline: *started* (start of the first breaching window), *detected* (the job tick that opened it),
*acknowledged* and *resolved*, in the model's time zone with the zone named. Time to detect is detected −
started and time to resolve is resolved − detected, except when the incident was found by a backfill: the
tick that opened it computed the window where it started, more than a window after that window closed (a
history computed at once, or a job that was not running). Then the detection time says when the backfill
ran, not how fast monitoring was, and neither duration is measured.

The title: a sentence in words ("Card fraud: Ranking quality (ROC AUC) fell to 0.499, below its critical
limit 0.615, since Sat 20 Dec"), and the likely cause in words; metric ids stay in exports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.errors import DuckwatchError
from duckwatch.readmodels.metric_words import family_name, metric_name
from duckwatch.readmodels.views import export_frame
from duckwatch.store import catalog
from duckwatch.store.incidents import list_alerts, list_incidents
from duckwatch.store.settings import Settings

__all__ = [
    "Timeline",
    "alerts_table",
    "cause_sentence",
    "duration_text",
    "enrich",
    "incident_table",
    "load",
    "timeline",
    "title_sentence",
    "when",
]

NOT_YET = "—"
BACKFILL = "found by a backfill: not measured"
_RANK = {"warning": 1, "critical": 2}
CAUSE_FAMILIES = ("drift", "quality")


def _ts(value: Any) -> pd.Timestamp | None:
    if value is None or value == "" or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts


def when(value: Any, zone: str) -> str:
    """A moment in the model's time zone, with the zone named: "Sat 20 Dec 2025 00:00 UTC"."""
    ts = _ts(value)
    if ts is None:
        return NOT_YET
    try:
        local = ts.tz_convert(zone or "UTC")
    except Exception:  # an unknown zone name in old settings: say UTC rather than fail the page
        local, zone = ts.tz_convert("UTC"), "UTC"
    return f"{local:%a %d %b %Y %H:%M} {zone or 'UTC'}"


def duration_text(delta: timedelta | None) -> str:
    """A duration as people say it: "12 d 4 h", "3 h 20 min", "45 min" (— when not measured)."""
    if delta is None:
        return NOT_YET
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


@dataclass(frozen=True)
class Timeline:
    """An incident's four moments (UTC timestamps), its model's zone, and whether a backfill found it."""

    zone: str
    started: pd.Timestamp | None
    detected: pd.Timestamp | None
    acknowledged: pd.Timestamp | None
    resolved: pd.Timestamp | None
    by_backfill: bool = False

    def time_to_detect(self) -> timedelta | None:
        """Detected − started; None when a backfill found it."""
        if self.by_backfill or self.started is None or self.detected is None:
            return None
        return (self.detected - self.started).to_pytimedelta()

    def time_to_resolve(self) -> timedelta | None:
        """Resolved − detected; None while open, or when the backfill that found it also resolved it."""
        if (
            self.resolved is None
            or self.detected is None
            or (self.by_backfill and self.resolved == self.detected)
        ):
            return None
        return (self.resolved - self.detected).to_pytimedelta()

    def texts(self) -> dict[str, str]:
        """Every moment and duration as shown to people (the same strings on every page and the CLI)."""
        detected = when(self.detected, self.zone) + (" (by a backfill)" if self.by_backfill else "")
        resolved = self.resolved is not None
        return {
            "started": when(self.started, self.zone),
            "detected": detected,
            "acknowledged": when(self.acknowledged, self.zone),
            "resolved": when(self.resolved, self.zone)
            + (
                " (by the same backfill)"
                if self.by_backfill and resolved and self.resolved == self.detected
                else ""
            ),
            "time_to_detect": BACKFILL if self.by_backfill else duration_text(self.time_to_detect()),
            "time_to_resolve": BACKFILL
            if self.by_backfill and resolved and self.time_to_resolve() is None
            else duration_text(self.time_to_resolve()),
        }

    def line(self) -> str:
        """ "Started … · detected … · acknowledged … · resolved …"."""
        t = self.texts()
        return (
            f"Started {t['started']} · detected {t['detected']} · acknowledged {t['acknowledged']} · "
            f"resolved {t['resolved']}"
        )

    def durations(self) -> str:
        """ "Time to detect … · time to resolve …"."""
        t = self.texts()
        return f"Time to detect: {t['time_to_detect']} · time to resolve: {t['time_to_resolve']}"


def found_by_backfill(incident: dict[str, Any], windows: pd.DataFrame) -> bool:
    """Whether the tick that opened the incident computed its first window more than a window after it
    closed (see the module docstring). ``windows``: window_start, window_end, computed_at of the model."""
    started, detected = _ts(incident.get("since")), _ts(incident.get("opened_at"))
    if started is None or detected is None or windows.empty:
        return False
    starts = pd.to_datetime(windows["window_start"], utc=True)
    first = windows[starts == started]
    if first.empty:
        return False
    end = pd.Timestamp(pd.to_datetime(first["window_end"], utc=True).max())
    computed = pd.to_datetime(first["computed_at"], utc=True).max()
    if pd.isna(computed):
        return False
    same_tick = abs((pd.Timestamp(computed) - detected).total_seconds()) < 60
    return bool(same_tick and detected - end > end - started)


def timeline(incident: dict[str, Any], zone: str, windows: pd.DataFrame | None = None) -> Timeline:
    """An incident's timeline from its stored row, its model's zone and its model's windows."""
    return Timeline(
        zone=zone or "UTC",
        started=_ts(incident.get("since")),
        detected=_ts(incident.get("opened_at")),
        acknowledged=_ts(incident.get("acknowledged_at")),
        resolved=_ts(incident.get("resolved_at")),
        by_backfill=found_by_backfill(incident, windows if windows is not None else pd.DataFrame()),
    )


def _num(value: Any) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _subject(alert: dict[str, Any]) -> str:
    name, col = metric_name(str(alert["metric"])), str(alert.get("col") or "")
    return name if not col or col.lower() in name.lower() else f"{name} of `{col}`"


def title_sentence(
    incident: dict[str, Any], alerts: list[dict[str, Any]], display_name: str, zone: str
) -> str:
    """ "<model>: <metric in words> fell to <v>, below its critical limit <b>, since <day>" from the
    incident's paging alert (the one the job titled it after); the stored title when it has no alerts."""
    page = [a for a in alerts if a.get("policy") == "page"]
    if not page:
        return str(incident.get("title") or "incident")
    top = max(page, key=lambda a: (_RANK.get(str(a["severity"]), 0), -int(a["id"])))
    value, bound, sev = top.get("value"), top.get("bound"), str(top["severity"])
    if value is None:
        moved = "breached its limit"
    elif bound is None:
        moved = f"moved to {_num(value)}"
    elif value < bound:
        moved = f"fell to {_num(value)}, below its {sev} limit {_num(bound)}"
    else:
        moved = f"rose to {_num(value)}, above its {sev} limit {_num(bound)}"
    started = _ts(incident.get("since"))
    day = when(started, zone)[:10] if started is not None else ""
    since = f", since {day}" if day else ""
    more = f" (and {len(page) - 1} more signal{'s' if len(page) > 2 else ''})" if len(page) > 1 else ""
    return f"{display_name}: {_subject(top)} {moved}{since}{more}"


def cause_sentence(incident: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    """The likely cause in words: the input change with the largest effect (drift first, as the job
    picks it); a column mostly outside its reference range reads as a unit or scale change."""
    live = str(incident.get("state")) != "resolved"
    causes = [
        a for a in alerts if a.get("family") in CAUSE_FAMILIES and (not live or a["state"] != "resolved")
    ]
    if not causes:
        return ""
    causes.sort(key=lambda a: (a["family"] != "drift", -(a.get("effect") or 0.0)))
    top = causes[0]
    col = str(top.get("col") or "")
    outside = [
        a for a in causes
        if a["metric"] == "out_of_range_share" and a.get("col") == col and (a.get("value") or 0) >= 0.5
    ]  # fmt: skip
    if outside:
        text = (
            f"the `{col}` input left its reference range ({outside[0]['value']:.0%} of its values outside "
            "it: a unit or scale change upstream?)"
        )
    else:
        value = "n/a" if top.get("value") is None else _num(top["value"])
        ratio = (
            f", {top['effect']:.3g}× its limit" if top.get("effect") is not None and top.get("bound") else ""
        )
        text = f"the `{col}` input: {metric_name(str(top['metric']))} = {value}{ratio}"
    others = len({a.get("col") for a in causes} - {col})
    if others:
        text += f"; {others} other input{'s' if others > 1 else ''} changed in the same windows"
    return text


def enrich(
    incident: dict[str, Any],
    alerts: list[dict[str, Any]],
    display_name: str,
    zone: str,
    windows: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The incident row plus what people read: ``headline`` (title in words), ``cause``, ``timeline``
    (a Timeline) and its ``when`` texts. The stored id-based ``title`` and ``likely_cause`` stay for exports."""
    line = timeline(incident, zone, windows)
    return {
        **incident,
        "display_name": display_name,
        "headline": title_sentence(incident, alerts, display_name, zone),
        "cause": cause_sentence(incident, alerts),
        "timeline": line,
        "when": line.texts(),
    }


def load(
    data: DataDir,
    model: str | None = None,
    state: str | None = None,
    windows_of: Callable[[str], pd.DataFrame] | None = None,
) -> list[dict[str, Any]]:
    """Incidents (newest first, filtered as `list_incidents` filters them), each `enrich`ed."""
    if not data.settings.exists():
        return []
    settings = Settings(data.settings)
    rows = list_incidents(settings, model, state)
    if not rows:
        return []
    infos = {m.model: m for m in catalog.list_models(settings)}
    by_incident: dict[int, list[dict[str, Any]]] = {}
    for a in list_alerts(settings, model):
        if a.get("incident_id") is not None:
            by_incident.setdefault(int(a["incident_id"]), []).append(a)
    read = windows_of or (lambda m: export_frame(data, "windows", m))
    windows: dict[str, pd.DataFrame] = {}
    out = []
    for inc in rows:
        name = str(inc["model"])
        info = infos.get(name)
        if name not in windows:
            try:
                windows[name] = read(name)
            except DuckwatchError:  # not published yet: no backfill to tell apart
                windows[name] = pd.DataFrame()
        zone = info.timezone if info is not None else "UTC"
        title = (info.display_name if info is not None else "") or name
        out.append(enrich(inc, by_incident.get(int(inc["id"]), []), title, zone, windows[name]))
    return out


MOMENTS = ("started", "detected", "acknowledged", "resolved", "time_to_detect", "time_to_resolve")


def incident_table(incidents: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Incidents as (shown, export): words and timeline for people; the stored row (ids, ISO times) plus
    the same timeline texts for the CSV."""
    shown = [
        {"id": i["id"], "model": i["display_name"], "severity": i["severity"], "state": i["state"],
         "what happened": i["headline"], "likely cause": i["cause"],
         **{k.replace("_", " "): i["when"][k] for k in MOMENTS}, "assignee": i.get("assignee") or ""}
        for i in incidents
    ]  # fmt: skip
    export = [
        {
            **{k: v for k, v in i.items() if k not in ("timeline", "when")},
            **{k: i["when"][k] for k in MOMENTS},
        }
        for i in incidents
    ]
    return pd.DataFrame(shown), pd.DataFrame(export)


def alerts_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Alerts as people read them: the metric and family in words (the ids stay in the CSV)."""
    if frame.empty:
        return frame
    out = frame.copy()
    out["metric"] = out["metric"].map(lambda m: metric_name(str(m)))
    out["family"] = out["family"].map(lambda f: family_name(str(f)))
    return out.rename(columns={"col": "column"})
