"""Threshold resolution, evaluation kinds, persistence, and the audited, role-checked CRUD API."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from alerting_frames import day, frame, model, row

from duckwatch.alerting import thresholds as th
from duckwatch.alerting.alerts import evaluate_and_alert, list_alerts
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError, PermissionDeniedError
from duckwatch.store import alerting
from duckwatch.store.settings import Settings


def _t(**kw: object) -> alerting.Threshold:
    return alerting.Threshold(id=int(kw.pop("id", 1)), **kw)  # type: ignore[arg-type]


def test_most_specific_scope_wins_and_disabled_winner_switches_off() -> None:
    ts = [
        _t(id=1, family="performance", metric="accuracy", kind="relative", direction="below", warning=-0.05),
        _t(id=2, model="churn", metric="accuracy", kind="absolute", direction="below", warning=0.8),
        _t(
            id=3,
            model="churn",
            version="v2",
            metric="accuracy",
            kind="absolute",
            direction="below",
            warning=0.9,
        ),
        _t(id=4, model="churn", metric="accuracy", segment="eu", enabled=False, warning=1.0),
    ]
    scope = {"version": "v1", "family": "performance", "metric": "accuracy", "col": "*", "segment": "*"}
    assert th.resolve(ts, model="other", **scope).id == 1  # type: ignore[union-attr]
    assert th.resolve(ts, model="churn", **scope).id == 2  # type: ignore[union-attr]
    assert th.resolve(ts, model="churn", **{**scope, "version": "v2"}).id == 3  # type: ignore[union-attr]
    assert th.resolve(ts, model="churn", **{**scope, "segment": "eu"}) is None


def test_absolute_sigma_relative_known_answers() -> None:
    absolute = _t(kind="absolute", direction="above", warning=0.1, critical=0.2)
    assert th.evaluate(absolute, 0.05).status == "ok"
    assert th.evaluate(absolute, 0.15).status == "warning"
    assert th.evaluate(absolute, 0.25).status == "critical"
    prior = [(v, 1000.0) for v in (10.0, 12.0, 11.0, 9.0, 13.0)]  # mean 11, sample std ≈ 1.581
    sigma = _t(kind="sigma", direction="both", warning=3, critical=4)
    assert th.evaluate(sigma, 15.0, n=1000, prior=prior).status == "ok"  # 2.53σ
    assert th.evaluate(sigma, 16.0, n=1000, prior=prior).status == "warning"  # 3.16σ
    assert th.evaluate(sigma, 4.0, n=1000, prior=prior).status == "critical"  # -4.43σ
    assert th.evaluate(sigma, 99.0, n=1000, prior=prior[:2]).status == "ok"  # too little history
    relative = _t(kind="relative", direction="below", warning=-0.05, critical=-0.10, lookback=7)
    ev = th.evaluate(relative, 0.94, prior=[(1.0, None)] * 7)
    assert (ev.status, ev.baseline, round(ev.bound or 0, 6)) == ("warning", 1.0, 0.95)
    assert th.evaluate(relative, 0.89, prior=[(1.0, None)] * 7).status == "critical"
    assert th.evaluate(_t(kind="status"), 0.3, row_status="critical").status == "critical"
    assert th.evaluate(absolute, 0.9, row_status="insufficient").status == "insufficient"


def _baseline_by_full_scan(
    t: alerting.Threshold, n: float | None, prior: list[tuple[float, float | None]]
) -> list[float]:
    """The baseline pool as first written: filter the whole history, then keep the last `lookback`."""
    values = [(v, m) for v, m in prior if v is not None and math.isfinite(v)]
    if t.kind == "sigma":
        similar = [v for v, m in values if n and m and 0.5 * n <= m <= 2.0 * n]
        return (similar if len(similar) >= th.MIN_BASELINE else [v for v, _ in values])[-max(t.lookback, 1) :]
    return [v for v, _ in values][-max(t.lookback, 1) :]


def test_baselines_read_from_the_end_equal_filtering_the_whole_history() -> None:
    rng = np.random.default_rng(5)
    for trial in range(400):
        t = _t(
            kind=("sigma", "relative")[trial % 2],
            direction="above",
            warning=2.0,
            lookback=int(rng.integers(1, 20)),
        )
        prior: list[tuple[float, float | None]] = [
            (
                float(rng.choice([rng.normal(), np.nan, np.inf])),
                float(rng.choice([100, 150, 1000, 0])) or None,
            )
            for _ in range(int(rng.integers(0, 80)))
        ]
        n = float(rng.choice([100.0, 1000.0, 0.0]))
        pool = _baseline_by_full_scan(t, n, prior)
        ev = th.evaluate(t, 5.0, n=n, prior=prior)
        if len(pool) >= min(th.MIN_BASELINE, t.lookback) and (
            t.kind == "relative" or len(pool) >= th.MIN_BASELINE
        ):
            assert ev.baseline == sum(pool) / len(pool)
        else:
            assert ev.baseline is None


def test_a_move_inside_the_windows_confidence_interval_does_not_breach() -> None:
    relative = _t(kind="relative", direction="below", warning=-0.05, critical=-0.10, lookback=7)
    prior = [(0.90, 250.0)] * 7
    # 250 labels: accuracy 0.84 has a 95% interval of about [0.79, 0.88]; 0.90 is outside it: a real drop.
    assert th.evaluate(relative, 0.84, prior=prior, interval=(0.79, 0.88)).status == "warning"
    # 60 labels: the same 0.84 has an interval of about [0.73, 0.91]: noise explains it, so no page.
    ev = th.evaluate(relative, 0.84, prior=prior, interval=(0.73, 0.91))
    assert ev.status == "ok" and "confidence interval" in ev.note
    absolute = _t(kind="absolute", direction="below", warning=0.85, critical=0.8)
    assert (
        th.evaluate(absolute, 0.84, interval=(0.73, 0.91)).status == "warning"
    )  # absolute bounds are the user's


def test_three_of_five_fires_on_third_breach_then_recovery_resolves(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    info = model(settings)
    alerting.create_threshold(
        settings, actor="ana", role="editor", reason="SLA is 0.8", model="churn", metric="accuracy",
        kind="absolute", direction="below", warning=0.8, critical=0.7, persist_n=3, persist_m=5,
    )  # fmt: skip
    history = frame([])
    fired_at = []
    for i, acc in enumerate([0.9, 0.9, 0.75, 0.9, 0.74, 0.73, 0.9]):
        res = frame([row(i, "performance", "accuracy", acc)])
        summary = evaluate_and_alert(settings, info, res, history, now=day(i + 1), notify=False)
        history = pd.concat([history, summary.results], ignore_index=True)
        if summary.opened:
            fired_at.append(i)
        if i == 2:
            assert summary.results["status"].tolist() == ["warning"]
            assert summary.results["threshold"].tolist() == [0.8]
    assert fired_at == [5]  # the third breaching window, not before
    alerts = list_alerts(settings, "churn")
    assert len(alerts) == 1 and alerts[0]["state"] == "resolved"
    assert alerts[0]["resolve_note"].startswith("auto-resolved: back to normal")
    assert alerts[0]["since"] == day(2).isoformat(timespec="microseconds")
    assert alerts[0]["time_to_detect_s"] == pytest.approx(4 * 86400)


def test_defaults_monitor_a_new_model_and_page_only_on_symptoms(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    defaults = alerting.list_thresholds(settings, "brand_new")
    policy = {(t.family, t.metric): t.severity_policy for t in defaults if t.kind != "reference"}
    assert policy[("drift", "*")] == policy[("quality", "*")] == "annotate"
    # The reference-based defaults annotate until paging on them has hysteresis (README).
    assert {t.severity_policy for t in defaults if t.kind == "reference"} == {"annotate"}
    for symptom in [("performance", "accuracy"), ("estimate", "estimated_accuracy"), ("kpi", "*"), ("output", "*"),
                    ("volume", "row_count"), ("volume", "label_coverage_at_age")]:  # fmt: skip
        assert policy[symptom] == "page", symptom
    info = model(settings)
    history = frame([row(i, "volume", "row_count", 1000.0) for i in range(7)])
    res = frame([row(7, "volume", "row_count", 150.0)])
    summary = evaluate_and_alert(settings, info, res, history, now=day(8), notify=False)
    assert summary.results["status"].tolist() == ["critical"]  # -85% vs the usual 1000 rows
    assert summary.opened == 1 and summary.incidents_opened == 1


def test_viewers_are_refused_and_every_change_is_audited_and_revertible(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    with pytest.raises(PermissionDeniedError):
        alerting.create_threshold(
            settings, actor="vic", role="viewer", reason="try", metric="f1", warning=0.5
        )
    with pytest.raises(BadInputError, match="reason"):
        alerting.create_threshold(settings, actor="ana", role="editor", reason=" ", metric="f1", warning=0.5)
    with pytest.raises(BadInputError, match="critical"):
        alerting.create_threshold(
            settings, actor="ana", role="editor", reason="x", metric="f1", direction="below", warning=0.5,
            critical=0.9,
        )  # fmt: skip
    t = alerting.create_threshold(
        settings, actor="ana", role="editor", reason="f1 SLA", model="churn", metric="f1", direction="below",
        warning=0.5,
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError):
        alerting.update_threshold(settings, t.id, actor="vic", role="viewer", reason="x", warning=0.1)
    alerting.update_threshold(settings, t.id, actor="ana", role="editor", reason="too noisy", warning=0.4)
    entry = settings.query("SELECT * FROM audit WHERE action = 'threshold.update'")[-1]
    assert entry["actor"] == "ana" and entry["reason"] == "too noisy"
    assert json.loads(entry["before"]) == {"warning": 0.5} and json.loads(entry["after"]) == {"warning": 0.4}
    reverted = alerting.revert_threshold(settings, entry["id"], actor="bob")
    assert reverted is not None and reverted.warning == 0.5
    assert settings.query("SELECT actor FROM audit WHERE action = 'threshold.revert'")[0]["actor"] == "bob"
