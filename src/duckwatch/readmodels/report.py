"""A dated, self-contained, printable HTML report of one model over a period (no scripts, no external assets)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.names import check_model_name
from duckwatch.readmodels.incident_view import load as load_incidents
from duckwatch.store import audit_queries, catalog
from duckwatch.store.heartbeat import last_heartbeat
from duckwatch.store.incidents import list_alerts
from duckwatch.store.settings import Settings

__all__ = ["HEADLINE_FAMILIES", "build_report", "period_bounds", "threshold_changes"]

HEADLINE_FAMILIES = ("performance", "estimate", "kpi")
FINDING_FAMILIES = ("drift", "quality", "volume", "output", "heuristic")
# Icon + word so status never depends on colour (and survives black-and-white printing).
STATUS_LABEL = {
    "ok": ("✔", "OK"),
    "warning": ("⚠", "Warning"),
    "critical": ("✖", "Critical"),
    "insufficient": ("…", "Insufficient data"),
    "open": ("●", "Open"),
    "acknowledged": ("◐", "Acknowledged"),
    "resolved": ("✔", "Resolved"),
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;margin:2rem auto;max-width:70rem;
padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;margin:1.8rem 0 .5rem;border-bottom:1px solid #ccc}
.meta{color:#555;margin:0 0 1rem}.empty{color:#555;font-style:italic}
table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem;font-size:12.5px}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.s-warning{background:#fff4d6}.s-critical{background:#fde2e1}.prov{font-style:italic}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}tr{break-inside:avoid}
th{background:none}.s-warning,.s-critical{background:none}a{color:inherit;text-decoration:none}}
"""


def period_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """UTC bounds of a period of whole days: [start 00:00, day after end 00:00); None means open."""
    if start is not None and end is not None and end < start:
        raise BadInputError(f"the period ends ({end}) before it starts ({start}); swap --from and --to")
    lo = datetime.combine(start, time(), tzinfo=UTC) if start is not None else None
    hi = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC) if end is not None else None
    return lo, hi


def _in_period(ts: Any, lo: datetime | None, hi: datetime | None) -> bool:
    if ts is None or ts == "" or (isinstance(ts, float) and math.isnan(ts)):
        return lo is None and hi is None
    stamp = _utc(ts)
    return (lo is None or stamp >= lo) and (hi is None or stamp < hi)


def _windows_in_period(frame: pd.DataFrame, lo: datetime | None, hi: datetime | None) -> pd.DataFrame:
    if frame.empty:
        return frame
    starts = pd.to_datetime(frame["window_start"], utc=True)
    ends = pd.to_datetime(frame["window_end"], utc=True)
    keep = pd.Series(True, index=frame.index)
    if lo is not None:
        keep &= ends > pd.Timestamp(lo)
    if hi is not None:
        keep &= starts < pd.Timestamp(hi)
    return frame[keep]


def threshold_changes(
    data: DataDir, model: str, lo: datetime | None, hi: datetime | None
) -> list[dict[str, Any]]:
    """Audit rows of threshold changes touching ``model`` (or all models, '*') in the period, oldest first."""
    try:
        return audit_queries.threshold_changes(Settings(data.settings), model, lo, hi)
    except Exception as exc:  # an install without the alerting tables has no thresholds to report
        if "no such table" in str(exc):
            return []
        raise


# ---- rendering helpers -------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return escape(pd.Timestamp(value).strftime("%Y-%m-%d %H:%M"))
    return escape(str(value))


def _num(value: Any) -> str:
    """A number as the report prints it (4 decimals); blank when missing."""
    if value is None or pd.isna(value):
        return ""
    return f"{float(value):.4f}"


def status_html(status: str) -> str:
    """Icon + word for a status, HTML-escaped."""
    icon, word = STATUS_LABEL.get(status, ("?", status or "unknown"))
    return f'<span class="status">{escape(icon)} {escape(word)}</span>'


def _table(headers: Sequence[str], rows: Iterable[tuple[list[str], str]], empty: str) -> str:
    """A table from already-escaped cells; each row comes with a CSS class (may be '')."""
    body = [
        f'<tr class="{cls}">' + "".join(cells) + "</tr>" if cls else "<tr>" + "".join(cells) + "</tr>"
        for cells, cls in rows
    ]
    if not body:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _td(value: str, num: bool = False) -> str:
    return f'<td class="num">{value}</td>' if num else f"<td>{value}</td>"


def _scope(r: pd.Series) -> str:  # type: ignore[type-arg]
    parts = [str(r["version"]) or "", str(r["experiment"]) or "", str(r["segment"]) or ""]
    return _text("/".join(p for p in parts if p) or "all")


def _interval(r: pd.Series) -> str:  # type: ignore[type-arg]
    if pd.isna(r["lower"]) or pd.isna(r["upper"]):
        return ""
    return f"{_num(r['lower'])} – {_num(r['upper'])}"


def _metric_rows(frame: pd.DataFrame, threshold: bool) -> list[tuple[list[str], str]]:
    rows: list[tuple[list[str], str]] = []
    for _, r in frame.iterrows():
        status = str(r["status"])
        prov = bool(r["provisional"]) if not pd.isna(r["provisional"]) else False
        cells = [
            _td(_text(r["window_start"])),
            _td(_scope(r)),
            _td(_text(r["family"])),
            _td(_text(r["metric"])),
            _td(_text(r["column"])),
            _td(_num(r["value"]), num=True),
            _td(_interval(r), num=True),
        ]
        if threshold:
            cells.append(_td(_num(r["threshold"]), num=True))
        cells += [
            _td(str(int(r["n"])) if not pd.isna(r["n"]) else "", num=True),
            _td(status_html(status) + (" · ⏳ provisional" if prov else "")),
        ]
        cls = " ".join(
            c
            for c in (f"s-{status}" if status in ("warning", "critical") else "", "prov" if prov else "")
            if c
        )
        rows.append((cells, cls))
    return rows


INCIDENT_HEADERS = [
    "id",
    "started",
    "detected",
    "acknowledged",
    "resolved",
    "time to detect",
    "time to resolve",
]
INCIDENT_HEADERS += ["severity", "state", "title", "likely cause", "assignee", "resolution"]
_METRIC_HEADERS = ["window", "version/experiment/segment", "family", "metric", "column", "value", "interval"]


def _model_card(settings: Settings, model: str, overview: dict[str, Any]) -> str:
    info = catalog.get_model(settings, model)
    if info is None:
        raise BadInputError(f"model {model!r} is not registered: list models with `duckwatch models`")
    fields = [
        ("Model", info.model),
        ("Display name", info.display_name),
        ("Owner", info.owner or "nobody yet"),
        ("Purpose", info.purpose or "not described"),
        ("Task", info.task),
        ("Window", info.window),
        ("Time zone", info.timezone),
        ("Versions", overview.get("versions") or "(none)"),
        ("Predictions logged", overview.get("predictions", 0)),
        ("First / last prediction", f"{overview.get('first_ts') or '—'} / {overview.get('last_ts') or '—'}"),
    ]
    card = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{_text(v)}</dd>" for k, v in fields) + "</dl>"
    cols = [
        ([_td(_text(c.name)), _td(_text(c.role)), _td(_text(c.dtype)), _td(_text(c.class_label))], "")
        for c in catalog.get_columns(settings, model)
    ]
    return (
        card
        + "<h3>Columns and roles</h3>"
        + _table(["column", "role", "type", "class"], cols, "No columns yet.")
    )


def _alert_rows(alerts: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
    return [
        (
            [
                _td(_text(a.get("opened_at"))),
                _td(status_html(str(a.get("severity", "")))),
                _td(status_html(str(a.get("state", "")))),
                _td(_text(f"{a.get('family')}/{a.get('metric')}")),
                _td(_text(a.get("col"))),
                _td(
                    _text(
                        "/".join(p for p in (a.get("version"), a.get("experiment"), a.get("segment")) if p)
                        or "all"
                    )
                ),
                _td(_num(a.get("value")), num=True),
                _td(_num(a.get("bound")), num=True),
                _td(_text(a.get("suppressed"))),
            ],
            f"s-{a.get('severity')}",
        )
        for a in alerts
    ]


def _incident_rows(incidents: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
    """The incident's timeline and words as every page and `duckwatch alerts` show them (incident_view)."""
    moments = ("started", "detected", "acknowledged", "resolved", "time_to_detect", "time_to_resolve")
    return [
        (
            [_td(_text(i.get("id"))), *(_td(_text(i["when"][k])) for k in moments)]
            + [_td(status_html(str(i.get("severity", "")))), _td(status_html(str(i.get("state", ""))))]
            + [_td(_text(i.get(k))) for k in ("headline", "cause", "assignee", "resolve_note")],
            f"s-{i.get('severity')}",
        )
        for i in incidents
    ]


def _change_rows(changes: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
    keys = ("at", "actor", "action", "target", "before", "after", "reason")
    return [([_td(_text(c[k])) for k in keys], "") for c in changes]


def _last_tick(settings: Settings) -> str:
    beat = last_heartbeat(settings)
    return str(beat["finished_at"]) if beat is not None else "never (the job has not run)"


def build_report(data: DataDir, model: str, start: date | None, end: date | None, now: datetime) -> str:
    """A self-contained printable HTML report of ``model`` for the days ``start``..``end`` (inclusive)."""
    from duckwatch.readmodels.views import export_frame, model_overview

    check_model_name(model)
    if not data.settings.exists():
        raise BadInputError(f"no data dir at {data.root}: run `duckwatch init` or point --data-dir at one")
    lo, hi = period_bounds(start, end)
    settings = Settings(data.settings)
    if catalog.get_model(settings, model) is None:
        raise BadInputError(f"model {model!r} is not registered: list models with `duckwatch models`")
    overview = model_overview(data, model)
    card = _model_card(settings, model, overview)
    frame = _windows_in_period(export_frame(data, "metrics", model), lo, hi)
    headline = frame[frame["family"].isin(HEADLINE_FAMILIES)]
    findings = frame[frame["family"].isin(FINDING_FAMILIES) & frame["status"].isin(["warning", "critical"])]
    fairness = frame[frame["family"] == "fairness"]
    try:
        alerts = [a for a in list_alerts(settings, model) if _in_period(a.get("window_start"), lo, hi)]
        incidents = [i for i in load_incidents(data, model) if _overlaps(i, lo, hi)]
    except Exception as exc:  # alerting tables absent: report without them
        if "no such table" not in str(exc):
            raise
        alerts, incidents = [], []
    changes = threshold_changes(data, model, lo, hi)
    period = f"{start.isoformat() if start else 'beginning'}–{end.isoformat() if end else 'now'}"
    info = catalog.get_model(settings, model)
    title = info.display_name if info and info.display_name else model
    windows = headline["window_start"].nunique() if not headline.empty else 0
    sections = [
        f"<header><h1>{escape(title)} — monitoring report</h1>"
        f'<p class="meta">generated {escape(now.isoformat())}, period {escape(period)}, '
        f"data as of {escape(_last_tick(settings))}</p></header>",
        "<section><h2>Summary</h2>" + _summary(frame, alerts, incidents, changes) + "</section>",
        "<section><h2>Model card</h2>" + card + "</section>",
        f"<section><h2>Headline performance ({windows} windows)</h2>"
        + _table(
            [*_METRIC_HEADERS, "n", "status"],
            _metric_rows(headline, threshold=False),
            "No performance, estimate or KPI results in this period.",
        )
        + "</section>",
        "<section><h2>Drift and data-quality findings</h2>"
        + _table(
            [*_METRIC_HEADERS, "threshold", "n", "status"],
            _metric_rows(findings, threshold=True),
            "No drift or data-quality warnings in this period.",
        )
        + "</section>",
        "<section><h2>Fairness rules</h2>"
        + _table(
            [*_METRIC_HEADERS, "threshold", "n", "status"],
            _metric_rows(fairness, threshold=True),
            "No fairness results in this period (declare a sensitive column to get them).",
        )
        + "</section>",
        "<section><h2>Incidents</h2>"
        + _table(
            INCIDENT_HEADERS,
            _incident_rows(incidents),
            "No incidents in this period.",
        )
        + "</section>",
        "<section><h2>Alerts</h2>"
        + _table(
            ["opened", "severity", "state", "metric", "column", "scope", "value", "bound", "suppressed"],
            _alert_rows(alerts),
            "No alerts in this period.",
        )
        + "</section>",
        "<section><h2>Threshold changes</h2>"
        + _table(
            ["at", "actor", "action", "target", "before", "after", "reason"],
            _change_rows(changes),
            "No threshold changes in this period.",
        )
        + "</section>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} — report {escape(period)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )


def _utc(ts: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(str(ts))
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def _overlaps(incident: dict[str, Any], lo: datetime | None, hi: datetime | None) -> bool:
    """Whether an incident's breaching span [since, span_end] touches the period."""
    since = incident.get("since") or incident.get("opened_at")
    until = incident.get("span_end") or since
    if lo is not None and until and _utc(until) < pd.Timestamp(lo):
        return False
    return not (hi is not None and since and _utc(since) >= pd.Timestamp(hi))


def _summary(
    frame: pd.DataFrame,
    alerts: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    changes: list[dict[str, Any]],
) -> str:
    counts = frame["status"].value_counts() if not frame.empty else pd.Series(dtype=int)
    items = [
        f"<li>{status_html(s)}: {int(counts.get(s, 0))} results</li>"
        for s in ("ok", "warning", "critical", "insufficient")
    ]
    items += [
        f"<li>{len(incidents)} incidents, {len(alerts)} alerts, {len(changes)} threshold changes</li>",
    ]
    if not frame.empty and frame["provisional"].astype(bool).any():
        items.append("<li>⏳ Some results are provisional: labels are still arriving for those windows.</li>")
    return "<ul>" + "".join(items) + "</ul>"
