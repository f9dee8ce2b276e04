"""Read models for the Streamlit app: portfolio health, shapes for charts, comparisons, previews.

Everything here is plain pandas over `views.export_frame` and the settings store, so pages hold no SQL
and no maths, and every number the app shows can be traced to `duckwatch export`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.jobs.views import export_frame, models_overview
from duckwatch.store import catalog
from duckwatch.store.published import query
from duckwatch.store.settings import Settings

SEVERITY = {"critical": 3, "warning": 2, "unknown": 1, "ok": 0}
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
OVERALL_SEGMENTS = ("", "all", "__all__", "*")
FAIRNESS_METRICS = ("four_fifths", "max_gap", "disparate_impact")
HEALTH_RULE = (
    "Critical: a metric in the model's latest computed window is critical (or an open critical incident). "
    "Needs attention: a warning there, quarantined rows, or an open incident. "
    "Not evaluated: rows arrived but no metric has been computed yet. Healthy: everything else."
)


@dataclass(frozen=True)
class Health:
    """A model's status for the portfolio: status, a one-line reason and since when."""

    status: str  # critical | warning | unknown | ok
    reason: str
    since: str


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


def metrics(data: DataDir, model: str) -> pd.DataFrame:
    """The model's metric results, exactly as `duckwatch export metrics` writes them."""
    return export_frame(data, "metrics", model)


def _worst(statuses: pd.Series) -> str:
    values = [s for s in statuses.fillna("") if s in SEVERITY]
    return max(values, key=lambda s: SEVERITY[s]) if values else "ok"


def _describe(row: pd.Series) -> str:
    col = f" on {row['column']}" if row["column"] else ""
    limit = "" if pd.isna(row["threshold"]) else f" (limit {row['threshold']:.3g})"
    return f"{row['metric']}{col} = {row['value']:.3g}{limit}"


def health(frame: pd.DataFrame, overview_row: dict[str, Any], incidents: list[dict[str, Any]]) -> Health:
    """Apply HEALTH_RULE to one model's metrics, overview row and open incidents."""
    open_inc = [i for i in incidents if str(i.get("state", "open")) != "resolved"]
    crit_inc = [i for i in open_inc if str(i.get("severity", "")) == "critical"]
    if frame.empty:
        if crit_inc:
            return Health("critical", str(crit_inc[0].get("title", "open critical incident")), "")
        if open_inc:
            return Health("warning", str(open_inc[0].get("title", "open incident")), "")
        if overview_row.get("quarantined"):
            return Health("warning", f"{overview_row['quarantined']} rows quarantined", "")
        if overview_row.get("predictions"):
            return Health("unknown", "rows arrived; no metric computed yet", "")
        return Health("unknown", "no predictions yet", "")
    frame = primary(frame)
    by_window = frame.groupby("window_start")["status"].agg(_worst).sort_index()
    status = str(by_window.iloc[-1])
    latest = frame[frame["window_start"] == by_window.index[-1]]
    since = by_window.index[-1]
    for ws, st in reversed(list(by_window.items())):
        if st != status:
            break
        since = ws
    if status in ("critical", "warning"):
        bad = latest[latest["status"] == status]
        reason = "; ".join(_describe(r) for _, r in bad.head(2).iterrows())
        reason += f" (+{len(bad) - 2} more)" if len(bad) > 2 else ""
    else:
        reason = "all metrics within limits in the latest window"
    if status != "critical" and crit_inc:
        status, reason = "critical", str(crit_inc[0].get("title", "open critical incident"))
    elif status == "ok" and (open_inc or overview_row.get("quarantined")):
        status = "warning"
        reason = (
            str(open_inc[0].get("title", "open incident"))
            if open_inc
            else f"{overview_row['quarantined']} rows quarantined"
        )
    return Health(status, reason, pd.Timestamp(since).isoformat())


def headline(frame: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The model's headline metric (symptoms first) and its series over windows."""
    frame = overall(primary(frame))
    frame = frame[frame["value"].notna()] if not frame.empty else frame
    if frame.empty:
        return "", frame
    names = set(frame["metric"])
    for name in HEADLINE_PREFERRED:
        if name in names:
            break
    else:
        rank = {f: i for i, f in enumerate(HEADLINE_FAMILIES)}
        name = min(names, key=lambda m: (rank.get(str(frame[frame["metric"] == m]["family"].iloc[0]), 99), m))
    rows = frame[frame["metric"] == name]
    series: pd.DataFrame = rows.groupby("window_start")["value"].max().reset_index()
    return name, series


def label_coverage(overview_row: dict[str, Any]) -> float:
    """Share of all predictions that have a label so far (outcomes / predictions, at most 1)."""
    preds = overview_row.get("predictions") or 0
    return min(1.0, (overview_row.get("outcomes") or 0) / preds) if preds else 0.0


def portfolio(
    data: DataDir, incidents: list[dict[str, Any]] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per model: health, reason, owner, headline series, label coverage, freshness, gaps."""
    rows = []
    for ov in models_overview(data):
        model = ov["model"]
        frame = metrics(data, model)
        mine = [i for i in (incidents or []) if i.get("model") == model]
        h = health(frame, ov, mine)
        name, series = headline(frame)
        gaps = []
        if not ov["outcomes"]:
            gaps.append("no labels")
        if not ov["owner"]:
            gaps.append("no owner")
        if not ov["reference"]:
            gaps.append("no reference")
        coverage = label_coverage(ov)
        rows.append(
            {
                **ov,
                "status": h.status,
                "severity": SEVERITY[h.status],
                "reason": h.reason,
                "since": h.since,
                "headline": name,
                "headline_values": [float(v) for v in series["value"]] if name else [],
                "label_coverage": coverage,
                "freshness": ago(ov["last_ts"], now),
                "gaps": gaps,
            }
        )
    return sorted(rows, key=lambda r: (-r["severity"], r["model"]))


def summary_sentence(rows: list[dict[str, Any]]) -> str:
    """The portfolio's first sentence: how many models need attention, how many are critical."""
    if not rows:
        return "No models yet."
    attention = [r for r in rows if r["status"] in ("critical", "warning")]
    crit = [r for r in rows if r["status"] == "critical"]
    parts = [f"{len(attention)} of {len(rows)} models need attention"]
    if crit:
        since = min((r["since"] for r in crit if r["since"]), default="")
        day = f" since {pd.Timestamp(since):%a %d %b}" if since else ""
        parts.append(f"{len(crit)} critical{day}")
    unknown = sum(r["status"] == "unknown" for r in rows)
    if unknown:
        parts.append(f"{unknown} not evaluated yet")
    gaps = sum(bool(r["gaps"]) for r in rows)
    if gaps:
        parts.append(f"{gaps} with coverage gaps")
    return " · ".join(parts) + "."


def scalar_series(frame: pd.DataFrame) -> pd.DataFrame:
    """Model-level scalar metrics over time; `base` pairs an estimate with its realised metric."""
    frame = overall(frame)
    part = frame[(frame["column"] == "") & frame["value"].notna()].copy()
    if part.empty:
        return part.assign(base=pd.Series(dtype=str), kind=pd.Series(dtype=str))
    part["base"] = part["metric"].str.replace(r"^(estimated_|est_)", "", regex=True)
    part["kind"] = part["family"].map(lambda f: "estimated" if f == "estimate" else "realised")
    return part.sort_values(["base", "window_start"])


def drift_table(frame: pd.DataFrame, window: Any = None) -> pd.DataFrame:
    """Per-column drift in one window (latest by default), the largest first."""
    part = overall(frame[frame["family"] == "drift"])
    part = part[part["column"] != ""]
    if part.empty:
        return pd.DataFrame(columns=["column", "metric", "value", "lower", "upper", "threshold", "status"])
    ws = part["window_start"].max() if window is None else pd.Timestamp(window)
    part = part[part["window_start"] == ws]
    cols = [
        "column",
        "metric",
        "value",
        "lower",
        "upper",
        "threshold",
        "status",
        "n",
        "exact",
        "version",
        "experiment",
    ]
    return part.sort_values("value", ascending=False)[cols].reset_index(drop=True)


def drift_heatmap(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Feature × window matrix of one drift metric."""
    part = overall(frame[(frame["family"] == "drift") & (frame["metric"] == metric)])
    part = part[part["column"] != ""]
    if part.empty:
        return pd.DataFrame()
    return part.pivot_table(index="column", columns="window_start", values="value", aggfunc="max")


def status_counts(frame: pd.DataFrame, family: str) -> dict[str, int]:
    """Critical / warning / healthy counts of one family in the latest window."""
    part = frame[frame["family"] == family]
    if part.empty:
        return {"critical": 0, "warning": 0, "ok": 0}
    part = part[part["window_start"] == part["window_start"].max()]
    return {s: int((part["status"] == s).sum()) for s in ("critical", "warning", "ok")}


def fairness_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Fairness rule results, if the job computed any."""
    mask = (frame["family"] == "fairness") | frame["metric"].str.startswith(FAIRNESS_METRICS)
    return frame[mask]


def compare(frame: pd.DataFrame, a: tuple[str, str], b: tuple[str, str]) -> tuple[str, pd.DataFrame]:
    """Verdict sentence and a side-by-side table of two (version, experiment) pairs' latest metrics."""
    frame = overall(frame)

    def side(key: tuple[str, str]) -> pd.DataFrame:
        part = frame[(frame["version"] == key[0]) & (frame["experiment"] == key[1])]
        part = part.sort_values("window_start").groupby(["family", "metric", "column"]).tail(1)
        return part.set_index(["family", "metric", "column"])[["value", "lower", "upper", "status", "n"]]

    table = side(a).merge(side(b), how="outer", left_index=True, right_index=True, suffixes=("_a", "_b"))
    table = table.reset_index()
    if table.empty:
        return "These two have no metrics in common yet.", table
    table["difference"] = table["value_b"] - table["value_a"]
    overlap = (table["lower_b"] <= table["upper_a"]) & (table["lower_a"] <= table["upper_b"])
    table["intervals_overlap"] = overlap.where(table[["lower_a", "lower_b"]].notna().all(axis=1))
    worse_b = int((table["status_b"].map(SEVERITY) > table["status_a"].map(SEVERITY)).sum())
    worse_a = int((table["status_a"].map(SEVERITY) > table["status_b"].map(SEVERITY)).sum())
    la, lb = "/".join(filter(None, a)) or "(default)", "/".join(filter(None, b)) or "(default)"
    if worse_a == worse_b == 0:
        verdict = f"{lb} and {la} have the same statuses on {len(table)} metrics."
    else:
        better = lb if worse_b < worse_a else la
        verdict = f"{better} looks better: {la} is worse on {worse_a} metrics, {lb} on {worse_b}."
    return verdict, table


def what_if(history: pd.Series, warning: float, critical: float, higher_is_worse: bool) -> dict[str, int]:
    """How many past windows would have been warning/critical under proposed limits."""
    vals = history.dropna().astype(float)
    hit_c = vals >= critical if higher_is_worse else vals <= critical
    hit_w = (vals >= warning if higher_is_worse else vals <= warning) & ~hit_c
    return {"windows": len(vals), "warning": int(hit_w.sum()), "critical": int(hit_c.sum())}


def _shares(profile: dict[str, Any]) -> tuple[list[str], list[float]]:
    if profile.get("kind") == "categorical":
        labels = [*profile["values"], "other", "unseen"]
        counts = [*profile["counts"], profile["other"], profile["unseen"]]
    else:
        edges = profile["edges"]
        labels = [f"< {edges[0]:.3g}"]
        labels += [f"{lo:.3g} – {hi:.3g}" for lo, hi in itertools.pairwise(edges)]
        labels += [f"> {edges[-1]:.3g}"]
        counts = list(profile["counts"])
    total = sum(counts) or 1
    return labels, [c / total for c in counts]


def histogram_pair(
    data: DataDir, model: str, column: str, window: Any, version: str = "", experiment: str = ""
) -> pd.DataFrame:
    """Reference vs current share per bin (or category) of one column in one window."""
    cols = {c.name: c.col_id for c in catalog.get_columns(Settings(data.settings), model)}
    col_id = cols.get(column, column)
    ref = query(data, model, "SELECT profile FROM reference_profiles WHERE col_id = ?", [col_id])
    cur = query(
        data,
        model,
        "SELECT profile FROM profiles WHERE col_id = ? AND window_start = ? AND version = ? AND experiment = ? "
        "ORDER BY segment LIMIT 1",
        [col_id, pd.Timestamp(window).to_pydatetime(), version, experiment],
    )
    if ref.empty or cur.empty:
        return pd.DataFrame(columns=["bin", "reference", "current"])
    labels, ref_share = _shares(json.loads(ref["profile"].iloc[0]))
    labels_c, cur_share = _shares(json.loads(cur["profile"].iloc[0]))
    n = min(len(labels), len(labels_c))
    return pd.DataFrame({"bin": labels[:n], "reference": ref_share[:n], "current": cur_share[:n]})


def model_card(data: DataDir, model: str) -> dict[str, Any]:
    """Purpose, owner, settings, versions and columns with roles of one model."""
    settings = Settings(data.settings)
    info = catalog.get_model(settings, model)
    if info is None:
        return {}
    ov = next((r for r in models_overview(data) if r["model"] == model), {})
    columns = [
        {"column": c.name, "role": c.role, "type": c.dtype, "class": c.class_label}
        for c in catalog.get_columns(settings, model)
    ]
    return {
        "model": info.model,
        "display_name": info.display_name,
        "owner": info.owner,
        "purpose": info.purpose,
        "task": info.task,
        "window": info.window,
        "timezone": info.timezone,
        "label_horizon_hours": info.label_horizon_hours,
        "versions": ov.get("versions", ""),
        "columns": columns,
        "created_at": info.created_at,
    }


def has_users(data: DataDir) -> bool:
    """Whether any login exists (without users the app is read-only)."""
    if not data.settings.exists():
        return False
    rows = Settings(data.settings).query("SELECT count(*) AS n FROM users")
    return bool(rows and rows[0]["n"])


def audit_log(
    data: DataDir, actor: str = "", text: str = "", since: str = "", limit: int = 1000
) -> pd.DataFrame:
    """Audit entries, newest first, filtered by actor, a text in action/target, and a start time."""
    cols = ["id", "at", "actor", "action", "target", "before", "after", "reason"]
    if not data.settings.exists():
        return pd.DataFrame(columns=cols)
    rows = Settings(data.settings).query(
        "SELECT id, at, actor, action, target, before, after, reason FROM audit "
        "WHERE (? = '' OR actor = ?) AND (? = '' OR action LIKE ? OR target LIKE ?) AND (? = '' OR at >= ?) "
        "ORDER BY id DESC LIMIT ?",
        (actor, actor, text, f"%{text}%", f"%{text}%", since, since, limit),
    )
    return pd.DataFrame(rows, columns=cols)


def finite(value: Any) -> bool:
    """True for a real, finite number."""
    return isinstance(value, int | float) and math.isfinite(value)
