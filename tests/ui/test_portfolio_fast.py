"""The portfolio's aggregate query agrees with the pandas rule over the export, and the health rule holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from duckwatch.config import DataDir
from duckwatch.readmodels import app_views as av
from duckwatch.readmodels.app_portfolio import health

WS = [pd.Timestamp(f"2026-01-0{d}", tz="UTC") for d in (1, 2, 3)]


def _rows(*extra: dict[str, Any]) -> pd.DataFrame:
    base = {"version": "v1", "experiment": "", "segment": "", "column": "", "lower": None, "upper": None}
    rows = [
        {**base, "window_start": ws, "family": "volume", "metric": "row_count", "value": 100.0,
         "threshold": None, "status": "ok", "provisional": False}
        for ws in WS
    ]  # fmt: skip
    rows += [{**base, **e} for e in extra]
    return pd.DataFrame(rows)


def test_sql_path_equals_pandas_rule_on_the_generated_data(app_data: DataDir) -> None:
    rows = av.portfolio(app_data)
    assert {r["model"] for r in rows} == {"credit", "fraud"}
    for r in rows:
        frame = av.metrics(app_data, r["model"])
        h = health(frame, {"quarantined": r["quarantined"], "predictions": r["predictions"]}, [])
        name, series = av.headline(frame)
        assert (r["status"], r["reason"], r["since"], r["provisional"]) == (
            h.status, h.reason, h.since, h.provisional,
        )  # fmt: skip
        assert r["headline"] == name
        assert r["headline_values"] == pytest.approx([float(v) for v in series["value"]])
        one = av.model_row(app_data, r["model"])
        assert {k: one[k] for k in ("status", "reason", "since")} == {
            k: r[k] for k in ("status", "reason", "since")
        }
    assert av.model_row(app_data, "nobody") == {}
    card = av.model_card(app_data, "credit")
    assert card["versions"] == "v1,v2"


def test_only_final_breaches_beyond_their_limit_are_attention() -> None:
    latest = WS[-1]
    provisional = _rows(
        {"window_start": latest, "family": "performance", "metric": "roc_auc", "value": 0.6,
         "threshold": 0.7, "status": "critical", "provisional": True}
    )  # fmt: skip
    h = health(provisional, {}, [])
    # A provisional breach pages no one and is not red, but it is not "Healthy" either: watch it.
    assert h.status == "watch" and h.provisional and h.reason.startswith("provisional")
    informational = _rows(
        {"window_start": latest, "family": "performance", "metric": "label_coverage", "value": 0.1,
         "threshold": 0.5, "status": "critical", "provisional": False}
    )  # fmt: skip
    assert health(informational, {}, []).status == "ok"
    inside = _rows(
        {"window_start": latest, "family": "output", "metric": "wasserstein_norm", "column": "score",
         "value": 0.10, "threshold": 0.25, "status": "critical", "provisional": False},
        {"window_start": latest, "family": "quality", "metric": "null_share", "column": "age",
         "value": 0.30, "threshold": 0.05, "status": "warning", "provisional": False},
    )  # fmt: skip
    h = health(inside, {}, [])
    assert h.status == "watch" and "How far values moved" not in h.reason  # wasserstein_norm, in words
    assert "Missing values (NULL) of `age`" in h.reason
    insufficient = _rows(
        {"window_start": latest, "family": "performance", "metric": "roc_auc", "value": None,
         "threshold": None, "status": "insufficient", "provisional": False}
    )  # fmt: skip
    assert health(insufficient, {}, []).status == "ok"
    assert av.summary_sentence([{"status": "ok", "since": "", "gaps": []}]).startswith("0 of 1")


def test_since_is_the_start_of_the_current_run() -> None:
    frame = _rows(
        *[
            {"window_start": ws, "family": "drift", "metric": "psi", "column": "x", "value": 0.5,
             "threshold": 0.2, "status": "warning", "provisional": False}
            for ws in WS[1:]
        ]
    )  # fmt: skip
    h = health(frame, {}, [])
    assert h.status == "watch" and datetime.fromisoformat(h.since) == WS[1].to_pydatetime()


def test_status_is_the_worst_open_incident_and_the_reason_drops_the_models_name() -> None:
    breach = _rows(
        {"window_start": WS[-1], "family": "drift", "metric": "psi", "column": "x", "value": 0.5,
         "threshold": 0.2, "status": "critical", "provisional": False}
    )  # fmt: skip
    ov = {"display_name": "Card fraud", "quarantined": 0}
    assert health(breach, ov, []).status == "watch"  # critical metric, no incident: watch, not red
    incidents = [
        {"model": "m", "state": "open", "severity": "warning", "title": "Card fraud: psi moved", "since": "s1"},
        {"model": "m", "state": "open", "severity": "critical", "title": "Card fraud: roc_auc moved", "since": "s2"},
        {"model": "m", "state": "resolved", "severity": "critical", "title": "old", "since": "s0"},
    ]  # fmt: skip
    h = health(_rows(), ov, incidents)  # metrics all fine, incidents still open
    assert (h.status, h.reason, h.since) == ("critical", "roc_auc moved", "s2")
    assert health(_rows(), {"display_name": "x", "quarantined": 3}, []).status == "watch"
