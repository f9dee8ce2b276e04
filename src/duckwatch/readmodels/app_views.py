"""Read models for the Streamlit app: portfolio health, shapes for charts, comparisons, previews.

Everything here is plain pandas over `views.export_frame` and the settings store, so pages hold no SQL
and no maths, and every number the app shows can be traced to `duckwatch export`.
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.readmodels.app_portfolio import (
    HEADLINE_FAMILIES,
    HEADLINE_PREFERRED,
    HEALTH_RULE,
    OVERALL_SEGMENTS,
    SEVERITY,
    Health,
    ago,
    headline,
    health,
    label_coverage,
    overall,
    portfolio_row,
    primary,
)
from duckwatch.readmodels.views import export_frame, model_overview, models_overview
from duckwatch.store import audit_queries, catalog, published_reads
from duckwatch.store.settings import Settings

__all__ = [
    "HEADLINE_FAMILIES",
    "HEADLINE_PREFERRED",
    "HEALTH_RULE",
    "OVERALL_SEGMENTS",
    "SEVERITY",
    "Health",
    "ago",
    "headline",
    "health",
    "label_coverage",
    "overall",
    "primary",
]

FAIRNESS_METRICS = ("four_fifths", "max_gap", "disparate_impact")


def metrics(data: DataDir, model: str) -> pd.DataFrame:
    """The model's metric results, exactly as `duckwatch export metrics` writes them."""
    return export_frame(data, "metrics", model)


def portfolio(
    data: DataDir, incidents: list[dict[str, Any]] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per model: health, reason, owner, headline series, label coverage, freshness, gaps."""
    rows = [portfolio_row(data, ov, incidents or [], now) for ov in models_overview(data)]
    return sorted(rows, key=lambda r: (-r["severity"], r["model"]))


def model_row(
    data: DataDir, model: str, incidents: list[dict[str, Any]] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """One model's portfolio row without building the others (empty when the model is not registered)."""
    ov = model_overview(data, model)
    return portfolio_row(data, ov, incidents or [], now) if ov else {}


def summary_sentence(rows: list[dict[str, Any]]) -> str:
    """The portfolio's first sentence: how many models need attention, how many are critical."""
    if not rows:
        return "No models yet."
    attention = [r for r in rows if r["status"] in ("critical", "warning")]
    crit = [r for r in rows if r["status"] == "critical"]
    parts = [f"{len(attention)} of {len(rows)} models need attention"]
    if crit:
        first = min((r for r in crit if r["since"]), key=lambda r: pd.Timestamp(r["since"]), default=None)
        day = (
            f", the first since {first['since_text']}"
            if first is not None and first.get("since_text")
            else ""
        )
        parts.append(f"{len(crit)} critical{day}")
    watch = sum(r["status"] == "watch" for r in rows)
    if watch:
        parts.append(f"{watch} to watch (a limit crossed, no incident)")
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


def top_features(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One drift metric per feature (column, value) from a `drift_table`, the largest first."""
    part = table[table["metric"] == metric]
    top = part.groupby("column", as_index=False).agg(value=("value", "max"))
    return top.sort_values("value", ascending=False)


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
    ref = published_reads.reference_profile(data, model, col_id)
    cur = published_reads.window_profile(
        data, model, col_id, pd.Timestamp(window).to_pydatetime(), version, experiment
    )
    if ref is None or cur is None:
        return pd.DataFrame(columns=["bin", "reference", "current"])
    labels, ref_share = _shares(json.loads(ref))
    labels_c, cur_share = _shares(json.loads(cur))
    n = min(len(labels), len(labels_c))
    return pd.DataFrame({"bin": labels[:n], "reference": ref_share[:n], "current": cur_share[:n]})


def model_card(data: DataDir, model: str) -> dict[str, Any]:
    """Purpose, owner, settings, versions and columns with roles of one model."""
    settings = Settings(data.settings)
    info = catalog.get_model(settings, model)
    if info is None:
        return {}
    ov = model_overview(data, model)
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


def version_pairs(catalog: pd.DataFrame) -> list[tuple[str, str]]:
    """(version, experiment) pairs present in a metric catalog (see store.published.metric_catalog)."""
    if catalog.empty:
        return []
    return sorted({(str(v), str(e)) for v, e in zip(catalog["version"], catalog["experiment"], strict=True)})


def primary_pair(catalog: pd.DataFrame) -> tuple[str, str] | None:
    """The pair `primary` picks (latest window, then most rows), from the catalog alone."""
    if catalog.empty:
        return None
    keys = catalog.groupby(["version", "experiment"]).agg(
        last=("last_window", "max"), rows=("windows", "sum")
    )
    best = keys.sort_values(["last", "rows"], ascending=False).index[0]
    return str(best[0]), str(best[1])


def monitors(catalog: pd.DataFrame, pair: tuple[str, str] | None) -> pd.DataFrame:
    """Metric series of one pair for the whole population: family, metric, column (sorted by metric, column)."""
    if pair is None or catalog.empty:
        return pd.DataFrame(columns=["family", "metric", "column"])
    part = overall(catalog[(catalog["version"] == pair[0]) & (catalog["experiment"] == pair[1])])
    out = part[["family", "metric", "column"]].drop_duplicates(["metric", "column"])
    return out.sort_values(["metric", "column"]).reset_index(drop=True)


def has_users(data: DataDir) -> bool:
    """Whether any login exists (without users the app is read-only)."""
    if not data.settings.exists():
        return False
    return audit_queries.user_count(Settings(data.settings)) > 0


def audit_actors(data: DataDir) -> list[str]:
    """Everyone who appears in the audit log, sorted."""
    if not data.settings.exists():
        return []
    return audit_queries.audit_actors(Settings(data.settings))


def audit_log(
    data: DataDir, actor: str = "", text: str = "", since: str = "", limit: int = 1000
) -> pd.DataFrame:
    """Audit entries, newest first, filtered by actor, a text in action/target, and a start time."""
    cols = ["id", "at", "actor", "os_user", "action", "target", "before", "after", "reason"]
    if not data.settings.exists():
        return pd.DataFrame(columns=cols)
    rows = audit_queries.audit_entries(Settings(data.settings), actor, text, since, limit)
    return pd.DataFrame(rows, columns=cols)


def model_changes(data: DataDir, model: str, limit: int = 1000) -> pd.DataFrame:
    """Audit entries about one model (its thresholds, registration and columns), newest first."""
    cols = ["id", "at", "actor", "action", "target", "before", "after", "reason"]
    if not data.settings.exists():
        return pd.DataFrame(columns=cols)
    rows = audit_queries.model_changes(Settings(data.settings), model, limit)
    return pd.DataFrame(rows, columns=cols)


def finite(value: Any) -> bool:
    """True for a real, finite number."""
    return isinstance(value, int | float) and math.isfinite(value)
