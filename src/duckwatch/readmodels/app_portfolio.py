"""Portfolio health for the app: one small aggregate query per model instead of reading every metric row.

`health` and `headline` also work on a whole `export_frame` (pandas); `portfolio_row` gets the same answer
from store/portfolio_summary.py, which returns only per-window worst severities, the latest window's
breaches and the headline series. tests/ui/test_portfolio_fast.py checks that both paths agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.metrics.registry import load_builtins
from duckwatch.readmodels.incident_view import when
from duckwatch.readmodels.metric_words import metric_name
from duckwatch.store import portfolio_summary

SEVERITY = {"critical": 3, "warning": 2, "unknown": 1, "ok": 0}
SEV_NAME = {v: k for k, v in SEVERITY.items()}
# A model's status, worst first: its worst open incident, else "watch" (a breach or quarantined rows that
# page no one), else what the metrics say. Metric rows keep SEVERITY (the SQL below numbers them so).
MODEL_RANK = {"critical": 4, "warning": 3, "watch": 2, "unknown": 1, "ok": 0}
BREACH = ("warning", "critical")
# Informational: raw coverage of recent windows is always low; the job pages on label_coverage_at_age.
INFORMATIONAL = ("label_coverage",)
HEADLINE_FAMILIES = ("performance", "kpi", "estimate", "output", "heuristic", "volume", "drift", "quality")
HEADLINE_PREFERRED = (
    "roc_auc",
    "pr_auc",
    "accuracy",
    "rmse",
    "mae",
    "estimated_roc_auc",
    "estimated_accuracy",
)
_FAMILY_RANK = {f: i for i, f in enumerate(HEADLINE_FAMILIES)}
OVERALL_SEGMENTS = ("", "all", "__all__", "*")
HEALTH_RULE = (
    "A model's status is its worst open incident: Critical or Warning (incidents are what page people). "
    "Watch: no open incident, but a metric in the model's latest computed window is beyond its limit "
    "(the reason says which), or rows were quarantined. "
    "Provisional results (labels still arriving) are marked provisional and can only make a model Watch. "
    "Label coverage so far is informational (labels are paged on label coverage at equal age), and a flag "
    "whose value is inside its recorded limit is not a breach. "
    "Not evaluated: rows arrived but no metric has been computed yet. Healthy: everything else."
)


@dataclass(frozen=True)
class Health:
    """A model's status for the portfolio: status, a one-line reason, since when, and provisional breaches."""

    status: str  # critical | warning | unknown | ok
    reason: str
    since: str
    provisional: bool = False
    since_text: str = ""  # an incident's started moment as incident_view shows it everywhere
    timeline: str = ""  # the deciding incident's timeline line (incident_view.Timeline.line)


def ago(ts: Any, now: datetime | None = None) -> str:
    """Human age of a timestamp ("3 h ago"); empty string for missing values."""
    if ts is None or ts == "" or (not isinstance(ts, str) and pd.isna(ts)):
        return ""
    then = pd.Timestamp(ts)
    if then.tzinfo is None:
        then = then.tz_localize("UTC")
    secs = ((now or datetime.now(UTC)) - then.to_pydatetime()).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(secs) >= size:
            return f"{secs / size:.0f} {unit} ago"
    return "just now"


def overall(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows for the whole population (no segment), or all rows when segments are all named."""
    if frame.empty:
        return frame
    mask = frame["segment"].fillna("").isin(OVERALL_SEGMENTS)
    return frame[mask] if mask.any() else frame


def primary(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the version/experiment with the latest window (ties: the most rows)."""
    if frame.empty:
        return frame
    keys = frame.groupby(["version", "experiment"]).agg(last=("window_start", "max"), rows=("value", "size"))
    best = keys.sort_values(["last", "rows"], ascending=False).index[0]
    out: pd.DataFrame = frame[(frame["version"] == best[0]) & (frame["experiment"] == best[1])]
    return out


def severity(frame: pd.DataFrame) -> pd.Series:
    """Per-row severity for health: provisional breaches and informational metrics count as 0."""
    sev = frame["status"].map(SEVERITY).fillna(0).astype(int)
    provisional = frame["provisional"].fillna(False).astype(bool) if "provisional" in frame else False
    quiet = (frame["status"].isin(BREACH) & provisional) | frame["metric"].isin(INFORMATIONAL)
    quiet |= inside_limit(frame)
    return sev.where(~quiet, 0)


def _directions() -> tuple[list[str], list[str]]:
    """Registered metrics where higher is worse, and where lower is worse."""
    specs = load_builtins()
    return [m.name for m in specs if m.higher_is_worse], [m.name for m in specs if not m.higher_is_worse]


def inside_limit(frame: pd.DataFrame) -> pd.Series:
    """Rows flagged warning/critical whose value is on the good side of the recorded limit (not breaches)."""
    up, down = _directions()
    value, limit = frame["value"].astype(float), frame["threshold"].astype(float)
    finite = value.map(math.isfinite) & limit.map(math.isfinite)
    good = (frame["metric"].isin(up) & (value < limit)) | (frame["metric"].isin(down) & (value > limit))
    result: pd.Series = frame["status"].isin(BREACH) & finite & good
    return result


def _describe(row: pd.Series) -> str:
    """A breach in words: "Distribution distance (Jensen-Shannon) of `score_band` = 0.093 (limit 0.0913)"."""
    col = f" of `{row['column']}`" if row["column"] else ""
    limit = "" if pd.isna(row["threshold"]) else f" (limit {row['threshold']:.3g})"
    return f"{metric_name(str(row['metric']))}{col} = {row['value']:.3g}{limit}"


def incident_reason(incident: dict[str, Any], display_name: str) -> str:
    """An incident's title (in words when incident_view enriched it) as a reason shown next to the model's
    name: without the name it starts with."""
    title = str(incident.get("headline") or incident.get("title") or "open incident")
    for name in dict.fromkeys(n for n in (display_name, str(incident.get("model") or "")) if n):
        if title.startswith(f"{name}: "):
            return title[len(name) + 2 :]
    return title


def verdict(by_window: pd.Series, breaches: pd.DataFrame) -> Health | None:
    """What the metrics alone say (before incidents and quarantine): None when nothing was computed yet.
    ``provisional`` here means the latest window has provisional breaches."""
    if by_window.empty:
        return None
    values = by_window.to_numpy()
    last = int(values[-1])
    status = SEV_NAME[last]
    changed = (values != last).nonzero()[0]
    since = by_window.index[int(changed[-1]) + 1 if len(changed) else 0]
    provisional = breaches[(breaches["sev"] == 0) & breaches["provisional"].fillna(False).astype(bool)]
    if status in BREACH:
        bad = breaches[breaches["sev"] == last]
        reason = "; ".join(_describe(r) for _, r in bad.head(2).iterrows())
        reason += f" (+{len(bad) - 2} more)" if len(bad) > 2 else ""
    elif not provisional.empty:
        reason = "provisional, labels still arriving: " + "; ".join(
            _describe(r) for _, r in provisional.head(2).iterrows()
        )
    else:
        reason = "all metrics within limits in the latest window"
    return Health(status, reason, pd.Timestamp(since).isoformat(), provisional=not provisional.empty)


def with_incidents(
    base: Health | None, overview_row: dict[str, Any], incidents: list[dict[str, Any]]
) -> Health:
    """HEALTH_RULE: the worst open incident, else Watch for breaches or quarantined rows, else the metrics."""
    open_inc = [i for i in incidents if str(i.get("state", "open")) != "resolved"]
    provisional = base is not None and base.provisional
    if open_inc:
        worst = max(open_inc, key=lambda i: SEVERITY.get(str(i.get("severity")), 2))
        status = "critical" if str(worst.get("severity")) == "critical" else "warning"
        reason = incident_reason(worst, str(overview_row.get("display_name") or ""))
        since = str(worst.get("since") or (base.since if base else ""))
        started = str(worst["when"]["started"]) if "when" in worst else ""
        line = worst["timeline"].line() if "timeline" in worst else ""
        # The incident decides: provisional metrics are not the story.
        return Health(status, reason, since, since_text=started, timeline=line)
    quarantined = overview_row.get("quarantined")
    if base is not None and (base.status in BREACH or base.provisional):
        return Health("watch", base.reason, base.since, provisional=provisional)
    if quarantined:
        return Health("watch", f"{quarantined} rows quarantined", base.since if base else "", provisional)
    if base is not None:
        return base
    if overview_row.get("predictions"):
        return Health("unknown", "rows arrived; no metric computed yet", "")
    return Health("unknown", "no predictions yet", "")


def judge(
    by_window: pd.Series,
    breaches: pd.DataFrame,
    overview_row: dict[str, Any],
    incidents: list[dict[str, Any]],
) -> Health:
    """HEALTH_RULE from per-window worst severities (sorted by window) and the latest window's breaches."""
    return with_incidents(verdict(by_window, breaches), overview_row, incidents)


def health(frame: pd.DataFrame, overview_row: dict[str, Any], incidents: list[dict[str, Any]]) -> Health:
    """Apply HEALTH_RULE to one model's metrics (an export frame), overview row and open incidents."""
    if frame.empty:
        return judge(pd.Series(dtype=int), frame, overview_row, incidents)
    frame = primary(frame).assign(sev=lambda f: severity(f))
    by_window = frame.groupby("window_start")["sev"].max().sort_index()
    latest = frame[frame["window_start"] == by_window.index[-1]]
    breaches = latest[latest["status"].isin(BREACH) & ~latest["metric"].isin(INFORMATIONAL)]
    return judge(by_window, breaches, overview_row, incidents)


def headline(frame: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The model's headline metric (symptoms first) and its series over windows."""
    frame = overall(primary(frame))
    # Label coverage so far is informational (and shown beside the headline as its own line).
    frame = frame[frame["value"].notna() & ~frame["metric"].isin(INFORMATIONAL)] if not frame.empty else frame
    if frame.empty:
        return "", frame
    names = set(frame["metric"])
    for name in HEADLINE_PREFERRED:
        if name in names:
            break
    else:
        first = frame.sort_values(["window_start", "family"], kind="stable").drop_duplicates("metric")
        ranks = first["family"].map(_FAMILY_RANK).fillna(99)
        name = str(min(zip(ranks, first["metric"], strict=True))[1])
    rows = frame[frame["metric"] == name]
    series: pd.DataFrame = rows.groupby("window_start")["value"].max().reset_index()
    return name, series


def label_coverage(overview_row: dict[str, Any]) -> float:
    """Share of all predictions that have a label so far (outcomes / predictions, at most 1)."""
    preds = overview_row.get("predictions") or 0
    return min(1.0, (overview_row.get("outcomes") or 0) / preds) if preds else 0.0


def summary(data: DataDir, model: str) -> pd.DataFrame:
    """store.portfolio_summary's rows for one model (kind = window | breach | headline); empty before any metric."""
    up, down = _directions()
    params = [list(INFORMATIONAL), list(OVERALL_SEGMENTS), list(HEADLINE_PREFERRED), list(HEADLINE_FAMILIES)]
    params += [up, down]
    frame = portfolio_summary.summary_rows(data, model, params)
    return frame.rename(columns={"col": "column"}) if not frame.empty else frame


def model_facts(data: DataDir, ov: dict[str, Any]) -> dict[str, Any]:
    """What a portfolio row needs from the model's published file (cacheable until the job republishes it):
    the overview row, per-window worst severities, the latest window's breaches and the headline series."""
    rows = summary(data, ov["model"])
    part = {k: rows[rows["kind"] == k] for k in ("window", "breach", "headline")} if not rows.empty else {}
    windows = part.get("window", pd.DataFrame(columns=["window_start", "sev"]))
    breaches = part.get("breach", pd.DataFrame(columns=["sev", "provisional"]))
    head = part.get("headline", pd.DataFrame(columns=["metric", "value"]))
    by_window = windows.set_index("window_start")["sev"].astype(int).sort_index()
    return {
        "overview": ov,
        "verdict": verdict(by_window, breaches),
        "headline": str(head["metric"].iloc[0]) if not head.empty else "",
        "headline_values": [float(v) for v in head["value"]],
    }


def row_from_facts(
    facts: dict[str, Any], incidents: list[dict[str, Any]], now: datetime | None = None
) -> dict[str, Any]:
    """A portfolio row from `model_facts` and the open incidents (which change without a publish)."""
    ov = facts["overview"]
    model = ov["model"]
    h = with_incidents(facts["verdict"], ov, [i for i in incidents if i.get("model") == model])
    gaps = [g for g, missing in (("no labels", not ov["outcomes"]), ("no owner", not ov["owner"]),
                                 ("no reference", not ov["reference"])) if missing]  # fmt: skip
    return {
        **ov,
        "status": h.status,
        "severity": MODEL_RANK[h.status],
        "reason": h.reason,
        "since": h.since,
        "since_text": h.since_text or (when(h.since, ov.get("timezone") or "UTC") if h.since else ""),
        "timeline": h.timeline,
        "provisional": h.provisional,
        "headline": facts["headline"],
        "headline_name": metric_name(facts["headline"]) if facts["headline"] else "",
        "headline_values": list(facts["headline_values"]),
        "label_coverage": label_coverage(ov),
        "freshness": ago(ov["last_ts"], now),
        "gaps": gaps,
    }


def portfolio_row(
    data: DataDir, ov: dict[str, Any], incidents: list[dict[str, Any]], now: datetime | None = None
) -> dict[str, Any]:
    """One model's portfolio row (health, reason, headline series, coverage, freshness, gaps)."""
    return row_from_facts(model_facts(data, ov), incidents, now)
