"""Words for every metric id the job writes, and one incident timeline (no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.metrics.registry import load_builtins
from duckwatch.readmodels.incident_view import load, timeline
from duckwatch.readmodels.metric_words import glossary, metric_words
from duckwatch.readmodels.views import export_frame
from duckwatch.store import catalog
from duckwatch.store.settings import Settings

SRC = Path(__file__).resolve().parents[2] / "src" / "duckwatch"
# Where the job's own metric rows are written (the calculators, and the job itself).
METRIC_CODE = ("calculators", "jobs")


def _has_words(metric: str) -> bool:
    w = metric_words(metric)
    return (
        w.name != metric
        and "_" not in w.name.replace(metric.removeprefix("total_"), "")
        and bool(w.meaning)
        and not w.meaning.startswith("A custom metric")
    )


def test_every_metric_the_demo_writes_has_a_name_and_a_meaning(demo_data: DataDir) -> None:
    models = [m.model for m in catalog.list_models(Settings(demo_data.settings))]
    ids = set().union(*(set(export_frame(demo_data, "metrics", m)["metric"]) for m in models))
    assert len(ids) > 40
    assert sorted(m for m in ids if not _has_words(m)) == []


def test_every_metric_id_the_job_writes_literally_has_words() -> None:
    found = set()
    for path in (p for package in METRIC_CODE for p in (SRC / package).glob("*.py")):
        found |= set(re.findall(r'"metric": "([a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert {"row_count", "label_coverage_at_age", "volume_ratio", "error_share"} <= found
    assert sorted(m for m in found if not _has_words(m)) == []
    for pattern in ("total_amount", "estimated_roc_auc", "latency_p95", "ks_vs_rolling", "score_psi"):
        assert _has_words(pattern), pattern


def test_the_glossary_lists_every_registered_metric_with_its_meaning() -> None:
    listed = {w.id: w for w in glossary()}
    for spec in load_builtins():
        assert spec.name in listed and listed[spec.name].meaning, spec.name
    assert listed["label_coverage_at_age"].name == "Labels arriving on time"


def test_a_backfilled_incident_has_no_time_to_detect(demo_data: DataDir) -> None:
    incidents = load(demo_data)
    assert incidents and all(
        i["timeline"].by_backfill for i in incidents
    )  # one backfill tick opened them all
    for inc in incidents:
        assert inc["when"]["time_to_detect"] == "found by a backfill: not measured"
        assert inc["when"]["started"].endswith(" UTC") and inc["when"]["detected"].endswith("(by a backfill)")
    resolved = [i for i in incidents if i["state"] == "resolved"]
    assert resolved and resolved[0]["when"]["time_to_resolve"] == "found by a backfill: not measured"


def test_a_live_incident_is_shown_in_its_models_zone_with_durations() -> None:
    windows = pd.DataFrame(
        {
            "window_start": [pd.Timestamp("2026-03-01T23:00Z")],
            "window_end": [pd.Timestamp("2026-03-02T23:00Z")],
            "computed_at": [pd.Timestamp("2026-03-03T00:05Z")],  # the tick after the window closed
        }
    )
    inc = {"since": "2026-03-01T23:00:00+00:00", "opened_at": "2026-03-03T00:05:00+00:00",
           "acknowledged_at": "2026-03-03T08:00:00+00:00", "resolved_at": "2026-03-04T10:35:00+00:00"}  # fmt: skip
    line = timeline(inc, "Europe/Paris", windows)
    assert not line.by_backfill
    t = line.texts()
    assert t["started"] == "Mon 02 Mar 2026 00:00 Europe/Paris"  # 23:00 UTC is midnight in Paris
    assert t["detected"] == "Tue 03 Mar 2026 01:05 Europe/Paris"
    assert (t["time_to_detect"], t["time_to_resolve"]) == ("1 d 1 h", "1 d 10 h")
    late = windows.assign(computed_at=[pd.Timestamp("2026-03-09T00:00Z")])  # computed a week later at once
    assert timeline({**inc, "opened_at": "2026-03-09T00:00:00+00:00"}, "UTC", late).by_backfill
