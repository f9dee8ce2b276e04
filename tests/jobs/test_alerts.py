"""Alerts and incidents: grouping, likely cause, cool-down, mutes, maintenance, backfill, lifecycle."""

from __future__ import annotations

import pandas as pd
import pytest
from alerting_frames import day, frame, model, row

from duckwatch.alerting import alerts
from duckwatch.config import DataDir
from duckwatch.errors import PermissionDeniedError
from duckwatch.store import alert_state, alerting, routing
from duckwatch.store.settings import Settings


def _history(n: int = 7) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append(row(i, "output", "ks", 0.01 + 0.002 * (i % 3 - 1), col="score", threshold=0.05))
        rows.append(row(i, "drift", "psi", 0.01, col="income", threshold=0.1))
        rows.append(row(i, "drift", "psi", 0.02, col="age", threshold=0.1))
        rows.append(row(i, "quality", "out_of_range_share", 0.0, col="income", threshold=0.01))
    return frame(rows)


def _broken(i: int) -> pd.DataFrame:
    return frame(
        [
            row(i, "output", "ks", 0.40, col="score", threshold=0.05, status="critical"),
            row(i, "drift", "psi", 0.80, col="income", threshold=0.1, status="critical"),
            row(i, "drift", "psi", 0.15, col="age", threshold=0.1, status="warning"),
            row(i, "quality", "out_of_range_share", 0.30, col="income", threshold=0.01, status="critical"),
        ]
    )


def test_one_upstream_break_makes_one_incident_and_one_notification(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    info = model(settings)
    history = _history()
    first = alerts.evaluate_and_alert(settings, info, _broken(7), history, now=day(8), notify=True)
    # Input drift and data quality annotate: recorded, no incident, no page yet (output needs 2 of 3).
    assert (first.opened, first.incidents_opened, first.notifications) == (3, 0, 0)
    history = pd.concat([history, first.results], ignore_index=True)
    second = alerts.evaluate_and_alert(settings, info, _broken(8), history, now=day(9), notify=True)
    assert (second.opened, second.incidents_opened, second.notifications) == (1, 1, 1)
    assert second.results.set_index("metric").loc["ks", "status"] == "critical"
    [incident] = alerts.list_incidents(settings, "churn", state="open")
    members = alerts.list_alerts(settings, incident_id=incident["id"])
    assert sorted(a["metric"] + ":" + a["col"] for a in members) == [
        "ks:score", "out_of_range_share:income", "psi:age", "psi:income",
    ]  # fmt: skip
    assert incident["likely_cause"].startswith("input drift in column 'income' (psi 0.8")
    assert incident["severity"] == "critical" and incident["since"] == day(7).isoformat(
        timespec="microseconds"
    )
    assert incident["time_to_detect_s"] == pytest.approx(2 * 86400)
    [msg] = alert_state.outbox(settings)
    assert msg["mode"] == "immediate" and msg["channel_kind"] == "log"
    # The break continues: same incident, no second notification (de-duplicated).
    history = pd.concat([history, second.results], ignore_index=True)
    third = alerts.evaluate_and_alert(settings, info, _broken(9), history, now=day(10), notify=True)
    assert (third.opened, third.incidents_opened, third.notifications) == (0, 0, 0) and third.refreshed == 4
    # Recovery auto-resolves the incident and records time to resolve.
    history = pd.concat([history, third.results], ignore_index=True)
    fine = _history(1)
    fine["window_start"], fine["window_end"] = pd.Timestamp(day(10)), pd.Timestamp(day(11))
    last = alerts.evaluate_and_alert(settings, info, fine, history, now=day(11), notify=True)
    assert last.resolved == 4 and last.incidents_resolved == 1
    [done] = alerts.list_incidents(settings, "churn")
    assert done["state"] == "resolved" and done["time_to_resolve_s"] == pytest.approx(2 * 86400)
    assert len(alert_state.outbox(settings)) == 1


def _kpi_threshold(settings: Settings, **extra: object) -> alerting.Threshold:
    return alerting.create_threshold(
        settings, actor="pm", role="editor", reason="revenue floor", model="churn", family="kpi",
        metric="revenue", kind="absolute", direction="below", warning=100.0, critical=50.0, cooldown_hours=72,
        **extra,
    )  # fmt: skip


def _tick(
    settings: Settings, i: int, value: float, history: pd.DataFrame, notify: bool = True
) -> pd.DataFrame:
    info = model(settings)
    res = frame([row(i, "kpi", "revenue", value)])
    summary = alerts.evaluate_and_alert(settings, info, res, history, now=day(i + 1), notify=notify)
    return pd.concat([history, summary.results], ignore_index=True)


def test_breach_inside_cooldown_does_not_notify(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    _kpi_threshold(settings)
    history = _tick(settings, 0, 10.0, frame([]))  # critical → notified
    history = _tick(settings, 1, 500.0, history)  # back to normal → resolved
    history = _tick(settings, 2, 10.0, history)  # breaks again 48 h after the page: cool-down (72 h)
    assert len(alert_state.outbox(settings)) == 1
    states = [(a["state"], a["suppressed"]) for a in reversed(alerts.list_alerts(settings, "churn"))]
    assert states == [("resolved", ""), ("open", "cooldown")]
    _tick(settings, 4, 10.0, history)  # still broken after the cool-down ended: now it pages
    assert len(alert_state.outbox(settings)) == 2


def test_mute_and_maintenance_record_but_do_not_notify(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    t = _kpi_threshold(settings, mute_until=day(5).isoformat())
    _tick(settings, 0, 10.0, frame([]))
    assert alert_state.outbox(settings) == []
    assert alerts.list_alerts(settings, "churn")[0]["suppressed"] == "muted"
    alerting.update_threshold(settings, t.id, actor="pm", role="editor", reason="unmute", mute_until=None)
    routing.add_maintenance(
        settings, model="churn", start_at=day(1).isoformat(), end_at=day(3).isoformat(), actor="ops",
        role="editor", reason="warehouse migration",
    )  # fmt: skip
    _tick(settings, 1, 10.0, frame([]))
    assert alert_state.outbox(settings) == []
    assert alerts.list_alerts(settings, "churn")[0]["suppressed"] == "maintenance"


def test_backfill_records_alerts_but_sends_nothing(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    _kpi_threshold(settings)
    info = model(settings)
    res = frame([row(i, "kpi", "revenue", 10.0) for i in range(3)])
    summary = alerts.evaluate_and_alert(settings, info, res, frame([]), now=day(30), notify=False)
    assert summary.opened == 1 and summary.incidents_opened == 1 and summary.notifications == 0
    assert alert_state.outbox(settings) == []


def test_warning_goes_to_digest_and_escalation_pages(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    _kpi_threshold(settings)
    history = _tick(settings, 0, 80.0, frame([]))
    _tick(settings, 1, 10.0, history)
    assert [m["mode"] for m in alert_state.outbox(settings)] == ["digest", "immediate"]


def test_lifecycle_is_role_checked_audited_and_feeds_precision(data_dir: DataDir) -> None:
    settings = Settings(data_dir.settings)
    _kpi_threshold(settings)
    _tick(settings, 0, 10.0, frame([]))
    [incident] = alerts.list_incidents(settings, state="open")
    iid, now = incident["id"], day(2).isoformat()
    for call in (
        lambda: alerts.acknowledge(settings, iid, actor="v", role="viewer", now=now),
        lambda: alerts.assign(settings, iid, "bob", actor="v", role="viewer"),
        lambda: alerts.comment(settings, iid, "hi", actor="v", role="viewer", now=now),
        lambda: alerts.resolve(settings, iid, actor="v", role="viewer", now=now, useful=True, note="x"),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    alerts.acknowledge(settings, iid, actor="ana", role="editor", now=now)
    alerts.assign(settings, iid, "bob", actor="ana", role="editor", reason="on call")
    alerts.comment(settings, iid, "looking at the pricing feed", actor="bob", role="editor", now=now)
    alerts.resolve(
        settings, iid, actor="bob", role="editor", now=day(3).isoformat(), useful=True, note="fixed feed"
    )
    [done] = alerts.list_incidents(settings)
    assert (done["state"], done["assignee"], done["useful"], done["acknowledged_by"]) == (
        "resolved",
        "bob",
        1,
        "ana",
    )
    assert [c["text"] for c in alerts.comments(settings, iid)] == ["looking at the pricing feed"]
    [precision] = alerts.alert_precision(settings)
    assert precision["precision"] == 1.0
    actions = [
        r["action"] for r in settings.query("SELECT action FROM audit WHERE target = ?", (f"incident:{iid}",))
    ]
    assert actions == ["incident.open", "incident.acknowledge", "incident.assign", "incident.comment",
                       "incident.resolve"]  # fmt: skip


def test_likely_cause_names_label_drift_apart_from_input_drift() -> None:
    from duckwatch.alerting.alerts import _likely_cause

    base = {"state": "open", "bound": 0.05, "metric": "js_distance"}
    label = {**base, "family": "drift", "col": "defaulted", "effect": 3.0, "value": 0.15}
    feature = {**base, "family": "drift", "col": "income", "effect": 2.0, "value": 0.1}
    assert _likely_cause([label, feature], frozenset({"defaulted"})).startswith(
        "label drift in column 'defaulted'"
    )
    assert _likely_cause([label, feature]).startswith("input drift in column 'defaulted'")
    assert _likely_cause([feature], frozenset({"defaulted"})).startswith("input drift in column 'income'")
