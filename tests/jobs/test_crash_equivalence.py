"""A tick SIGKILLed at each stage, then rerun, ends like an uninterrupted tick: same metrics, same
incidents, and the same notification delivered once to a real local webhook receiver."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.alerting.notify import send_digest
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.store.incidents import list_incidents
from duckwatch.store.routing import set_channels
from duckwatch.store.settings import Settings
from tests.conftest import make_predictions
from tests.receivers import Receiver, webhook_receiver

NOW = datetime(2026, 1, 13, tzinfo=UTC)
CHILD = """
import os, signal, sys
from datetime import datetime, UTC
from duckwatch.config import DataDir
import duckwatch.jobs.tick as tick
import duckwatch.jobs.compute as compute
import duckwatch.alerting.notify as notify
import duckwatch.store.warehouse as warehouse

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

stage = sys.argv[2]
if stage == "ingest":
    warehouse.Warehouse._ledger = die          # inside the ingest transaction
elif stage == "compute":
    compute.compute_model = die                # after ingest, before metrics
elif stage == "publish":
    tick.publish_model = die                   # metrics written, nothing published
elif stage == "notify":
    notify.deliver_outbox = die                # incident recorded, message not sent yet
tick.run_tick(DataDir(__import__("pathlib").Path(sys.argv[1])), now=datetime.fromisoformat(sys.argv[3]))
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _prepare(data: DataDir, url: str) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    ref = make_predictions(rng, 5000, prefix="ref").drop(columns=["request_id", "ts"])
    history = make_predictions(rng, 8 * 720, start="2026-01-01", freq="2min")
    broken = make_predictions(rng, 4 * 720, start="2026-01-09", freq="2min", prefix="b")
    broken["income"] *= 1000  # an upstream unit change that also moves the score
    broken["score"] = np.clip(broken["score"] + 0.3, 0, 1)
    broken["prediction"] = (broken["score"] > 0.5).astype(int)
    settings = Settings(data.settings)
    with Collector(data.root) as c:
        c.declare("m", display_name="Loan approvals", owner="ana@example.com")
        c.log_reference("m", ref)
        c.log_predictions("m", history)
    set_channels(
        settings, "*", [{"kind": "webhook", "target": url}], actor="admin", role="admin", reason="test"
    )
    run_tick(data, now=datetime(2026, 1, 9, tzinfo=UTC))  # quiet history
    with Collector(data.root) as c:
        c.log_predictions("m", broken)
    return broken


def _state(data: DataDir) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    m = export_frame(data, "metrics", "m")
    keys = ["window_start", "family", "metric", "column", "version", "experiment", "segment"]
    m = m.sort_values(keys).reset_index(drop=True)[[*keys, "value", "status"]]
    incidents = sorted(
        (str(i["state"]), str(i["opened_at"])) for i in list_incidents(Settings(data.settings))
    )
    return m, incidents


@pytest.mark.parametrize("stage", ["ingest", "compute", "publish", "notify"])
def test_a_killed_tick_rerun_equals_an_uninterrupted_one(
    tmp_path: Path, receiver: Receiver, stage: str
) -> None:
    clean, crashed = DataDir(tmp_path / "clean").ensure(), DataDir(tmp_path / "crashed").ensure()
    _prepare(clean, receiver.url)
    run_tick(clean, now=NOW)
    send_digest(Settings(clean.settings), NOW)  # warnings go out in the daily digest
    expected_messages = len(receiver.received)
    receiver.received.clear()

    _prepare(crashed, receiver.url)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(crashed.root), stage, NOW.isoformat()], timeout=300
    )
    assert proc.returncode == -9  # it really died at that stage
    run_tick(crashed, now=NOW)
    send_digest(Settings(crashed.settings), NOW)

    (m1, inc1), (m2, inc2) = _state(clean), _state(crashed)
    assert inc1 and inc1 == inc2
    pd.testing.assert_frame_equal(m1.drop(columns=["value"]), m2.drop(columns=["value"]))
    np.testing.assert_allclose(m1["value"].to_numpy(float), m2["value"].to_numpy(float), rtol=1e-9, atol=1e-9)
    assert expected_messages >= 1
    assert len(receiver.received) == expected_messages
