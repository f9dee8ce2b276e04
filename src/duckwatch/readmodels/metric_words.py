"""What people read instead of metric ids: a display name and a one-line meaning for every metric the job
can write, every family and every status.

One lookup for the app, the report and the CLI: the registry's display names (built-in and custom
metrics), a table for the metrics the job writes itself (volume, labels, KPIs, list outputs, latency,
fairness, segments), and patterns for ids built from a user's column or another metric
(``total_<col>``, ``estimated_<metric>``, ``<drift>_vs_rolling``, ``score_<drift>``). Ids stay in
exports, tooltips and URLs; users' own column names are never translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from duckwatch.metrics.registry import MetricSpec, load_builtins

__all__ = [
    "FAMILIES",
    "JOB_METRICS",
    "Words",
    "family_name",
    "glossary",
    "metric_name",
    "metric_words",
]


@dataclass(frozen=True)
class Words:
    """A metric as people read it: display name, one-line meaning, family, and the stored id."""

    id: str
    name: str
    meaning: str
    family: str = ""


# Plainer names where the registry's display name is a bare acronym (the acronym stays in brackets).
PLAIN = {
    "roc_auc": ("Ranking quality (ROC AUC)", "Chance a random positive scores above a random negative."),
    "pr_auc": ("Precision over all recall levels (PR AUC)", "Average precision over all recall levels."),
    "f1": ("F1 score (precision and recall)", "Harmonic mean of precision and recall."),
}

# Metrics the job writes itself (not registered as metric functions).
JOB_METRICS: dict[str, tuple[str, str, str]] = {
    "row_count": ("volume", "Predictions per window", "How many predictions the window received."),
    "volume_ratio": (
        "volume",
        "Traffic vs usual",
        "Predictions in the window divided by the median of the previous windows; 1 is usual traffic.",
    ),
    "label_coverage": (
        "performance",
        "Labels so far",
        "Share of the window's predictions that have an outcome so far (informational).",
    ),
    "label_coverage_at_age": (
        "volume",
        "Labels arriving on time",
        "Share of the window's predictions labelled within the label horizon; a drop means labels "
        "stopped arriving.",
    ),
    "error_share": ("volume", "Failed predictions", "Share of predictions whose status says they failed."),
    "latency_p50": ("volume", "Latency (median)", "Half of the predictions took longer than this."),
    "latency_p95": ("volume", "Latency (95th percentile)", "One prediction in 20 took longer than this."),
    "latency_p99": ("volume", "Latency (99th percentile)", "One prediction in 100 took longer than this."),
    "business_value": (
        "kpi",
        "Business value",
        "Gains of right answers minus costs of wrong ones, from the model's value matrix.",
    ),
    "value_per_prediction": ("kpi", "Value per prediction", "Business value per labelled prediction."),
    "value_at_stake": (
        "kpi",
        "Value at stake",
        "Value lost in the window compared with the reference's value per prediction.",
    ),
    "cost_per_prediction": ("kpi", "Cost per prediction", "Average cost of one prediction in the window."),
    "total_cost": ("kpi", "Total cost", "Sum of the cost column over the window's predictions."),
    "mean_list_length": ("output", "Items per list", "Average number of items in a returned list."),
    "empty_share": ("output", "Empty lists", "Share of predictions that returned an empty list."),
    "top_item_share": (
        "output",
        "Most-shown item's share",
        "Share of all shown items taken by the single most shown item (diversity).",
    ),
    "accuracy_drop": (
        "segment",
        "Accuracy drop in a segment",
        "How much lower a segment's accuracy is than the whole population's.",
    ),
}

FAMILIES: dict[str, tuple[str, str]] = {
    "performance": ("Performance", "How right the model is, measured on labels (outcomes) as they arrive."),
    "estimate": (
        "Estimated performance",
        "Performance expected from calibrated scores before labels arrive.",
    ),
    "kpi": ("Business KPIs", "Value, revenue and cost the model's decisions bring."),
    "output": ("Output distribution", "How the model's predictions are distributed, versus the reference."),
    "volume": ("Volume and labels", "Traffic, failures, latency, and whether labels still arrive."),
    "drift": ("Input drift", "How far each input's distribution moved from the reference."),
    "quality": ("Data quality", "Missing, out-of-range, new or stuck values in the inputs."),
    "heuristic": ("Quality heuristics", "Signals of trouble that need no labels."),
    "segment": ("Segments", "The same checks within one group of rows (a segment)."),
    "fairness": ("Fairness", "Rates compared between the groups of a sensitive column."),
}

RATES = {"positive_rate": "positive rate", "tpr": "true-positive rate", "fpr": "false-positive rate"}


@cache
def _registry() -> dict[str, MetricSpec]:
    return {m.name: m for m in load_builtins()}


def _registered(metric: str) -> Words | None:
    if metric in PLAIN:
        name, meaning = PLAIN[metric]
        spec = _registry().get(metric)
        return Words(metric, name, meaning, spec.family if spec else "performance")
    spec = _registry().get(metric)
    if spec is not None:
        return Words(metric, spec.display_name, spec.meaning, spec.family)
    if metric in JOB_METRICS:
        family, name, meaning = JOB_METRICS[metric]
        return Words(metric, name, meaning, family)
    return None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _pattern(metric: str) -> Words | None:
    """Ids built from another metric or a user's column."""
    if metric.startswith("estimated_"):
        base = _registered(metric.removeprefix("estimated_"))
        if base is not None:
            return Words(
                metric,
                f"Estimated {_lower_first(base.name)}",
                f"{base.name} expected from calibrated scores, before labels arrive.",
                "estimate",
            )
    if metric.endswith("_vs_rolling"):
        base = _registered(metric.removesuffix("_vs_rolling"))
        if base is not None:
            return Words(metric, f"{base.name}, vs recent windows", f"{base.meaning} Compared with recent "
                         "windows instead of the reference (explains, never pages).", base.family)  # fmt: skip
    if metric.startswith("score_"):
        base = _registered(metric.removeprefix("score_"))
        if base is not None:
            return Words(metric, f"Score shift in a segment: {_lower_first(base.name)}",
                         f"{base.meaning} Scores of one segment vs the same segment in the reference.",
                         "segment")  # fmt: skip
    if metric.startswith("total_"):
        col = metric.removeprefix("total_")
        return Words(metric, f"Total {col}", f"Sum of the {col} column over the window's predictions.", "kpi")
    for rate, words in RATES.items():
        if metric == f"four_fifths_{rate}":
            return Words(metric, f"Four-fifths rule on the {words}",
                         f"Lowest group's {words} divided by the highest's; below 0.8 fails the rule.",
                         "fairness")  # fmt: skip
        if metric == f"{rate}_gap_{rate}":
            return Words(metric, f"Gap in {words} between groups",
                         f"Highest group {words} minus the lowest.", "fairness")  # fmt: skip
    return None


def metric_words(metric: str) -> Words:
    """Display name and meaning of a metric id; an unknown id keeps its id as its name (never hidden)."""
    # The registry's estimated_* names are generated ("Estimated f1"): the pattern reads better.
    first = _pattern(metric) if metric.startswith("estimated_") else None
    found = first or _registered(metric) or _pattern(metric)
    if found is not None:
        return found
    return Words(metric, metric.replace("_", " ").capitalize(), "A custom metric (no description given).")


def metric_name(metric: str) -> str:
    """A metric's display name."""
    return metric_words(metric).name


def family_name(family: str) -> str:
    """A family's display name (the id capitalised when unknown)."""
    return FAMILIES.get(family, (family.capitalize(), ""))[0]


def glossary() -> list[Words]:
    """Every metric with its meaning (registered, the job's own, and one example of each pattern)."""
    ids = [*_registry(), *JOB_METRICS]
    ids += ["total_<column>", "four_fifths_positive_rate", "tpr_gap_tpr", "fpr_gap_fpr", "score_ks"]
    ids += ["js_distance_vs_rolling"]
    rows = {metric_words(i).id: metric_words(i) for i in ids}
    order = {f: n for n, f in enumerate(FAMILIES)}
    return sorted(rows.values(), key=lambda w: (order.get(w.family, 99), w.name.lower()))
