"""The demo's expected-incident table, exactly: the history is backfilled silently, then the job runs
day by day like production, sending to a real local webhook receiver. Each planted incident opens in
its window with its severity and sends one notification; no other incident opens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from duckwatch.alerting.notify import send_digest
from duckwatch.config import DataDir
from duckwatch.demo import EXPECTED_INCIDENTS, MODELS, generate
from duckwatch.jobs.tick import run_tick
from duckwatch.store.incidents import list_alerts, list_incidents
from duckwatch.store.routing import set_channels
from duckwatch.store.settings import Settings
from tests.receivers import Receiver, webhook_receiver

END = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 40
LIVE_DAYS = 22  # the earliest planted incident starts 20 days before the end


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DataDir, Receiver]]:
    with webhook_receiver() as receiver:
        yield _replay(tmp_path_factory, receiver), receiver


def _replay(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> DataDir:
    data = DataDir(tmp_path_factory.mktemp("demo-live") / "data").ensure()
    generate(data, seed=7, days=DAYS, end=END, progress=lambda _m: None, tick=False)
    settings = Settings(data.settings)
    set_channels(
        settings,
        "*",
        [{"kind": "webhook", "target": receiver.url}],
        actor="admin",
        role="admin",
        reason="test",
    )
    first_live = END - timedelta(days=LIVE_DAYS)
    assert run_tick(data, now=first_live, notify=False).errors == []  # history: recorded, never notified
    for day in range(1, LIVE_DAYS + 1):
        now = first_live + timedelta(days=day)
        assert run_tick(data, now=now).errors == []
        send_digest(settings, now + timedelta(hours=8))  # the daily digest carries the warnings
    return data


def test_each_planted_incident_opens_in_its_window_with_its_severity_and_no_other(
    replay: tuple[DataDir, Receiver],
) -> None:
    settings = Settings(replay[0].settings)
    names = {model: spec["display_name"] for model, (_g, _n, spec) in MODELS.items()}
    opened = sorted(
        (str(i["model"]), pd.Timestamp(str(i["since"])).date().isoformat(), str(i["severity"]))
        for i in list_incidents(settings)
    )
    expected = sorted(
        (inc["model"], (pd.Timestamp(END) - pd.Timedelta(days=inc["days_before_end"])).date().isoformat(),
         inc["severity"])
        for inc in EXPECTED_INCIDENTS
    )  # fmt: skip
    assert opened == expected, (opened, names)


def test_each_incident_pages_on_its_symptom_and_names_its_cause(replay: tuple[DataDir, Receiver]) -> None:
    settings = Settings(replay[0].settings)
    by_model = {str(i["model"]): i for i in list_incidents(settings)}
    for inc in EXPECTED_INCIDENTS:
        incident = by_model[inc["model"]]
        paging = [a for a in list_alerts(settings, incident_id=incident["id"]) if a["policy"] == "page"]
        assert any(a["family"] == inc["family"] and a["metric"] == inc["metric"] for a in paging), inc[
            "model"
        ]
        if inc["column"]:
            assert inc["column"] in str(incident["likely_cause"]), (inc["model"], incident["likely_cause"])


def test_each_incident_notifies_once_per_severity_it_reaches(replay: tuple[DataDir, Receiver]) -> None:
    """One message per incident, plus one escalation if it turns critical later (fraud: the output
    shift is a warning in the digest at once; the ROC AUC drop is critical once the labels are final)."""
    settings = Settings(replay[0].settings)
    by_model = {str(i["model"]): i for i in list_incidents(settings)}
    for inc in EXPECTED_INCIDENTS:
        name = next(spec["display_name"] for model, (_g, _n, spec) in MODELS.items() if model == inc["model"])
        incident = by_model[inc["model"]]
        texts = [t for t in replay[1].texts() if name in t]
        assert texts, inc["model"]
        assert all(f"incident #{incident['id']}" in t for t in texts), inc["model"]
        levels = [next(level for level in ("CRITICAL", "WARNING") if f"[{level}] {name}" in t) for t in texts]
        assert levels in (["WARNING"], ["CRITICAL"], ["WARNING", "CRITICAL"]), (inc["model"], levels)
        assert levels[-1].lower() == incident["severity"], inc["model"]


def test_incidents_opened_live_measure_time_to_detect_from_their_timeline(
    replay: tuple[DataDir, Receiver],
) -> None:
    """Opened by the day-by-day ticks (not the silent backfill): detected is the tick that opened the
    incident, and time to detect is detected − started: a few windows of persistence, plus the label
    horizon (7 days for lead scoring) when the symptom is labels that stopped arriving."""
    from duckwatch.readmodels.incident_view import load

    incidents = load(replay[0])
    assert len(incidents) == len(EXPECTED_INCIDENTS)
    for inc in incidents:
        line = inc["timeline"]
        assert not line.by_backfill, inc["headline"]
        assert line.detected == pd.Timestamp(str(inc["opened_at"]))
        assert line.started == pd.Timestamp(str(inc["since"]))
        ttd = line.time_to_detect()
        assert ttd is not None and timedelta(days=1) <= ttd <= timedelta(days=10), (inc["headline"], ttd)
        assert inc["when"]["time_to_detect"] == f"{ttd.days} d 0 h"
