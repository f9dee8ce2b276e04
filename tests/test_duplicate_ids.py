"""Duplicate-id share per window: known answers by event time, re-deliveries, status and overrides."""

from __future__ import annotations

import io
import math
import subprocess
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.metrics import quality, registry
from duckwatch.readmodels.views import export_frame, quarantine_rows
from duckwatch.store import alerting
from duckwatch.store.settings import Settings
from tests.conftest import CLI, make_predictions

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROLES = {"id": "request_id", "timestamp": "ts"}


def _day(rng: np.random.Generator, n: int, day: str, prefix: str) -> pd.DataFrame:
    return make_predictions(rng, n, start=f"2026-01-{day}", freq="1min", prefix=prefix)


def _log(data: DataDir, frame: pd.DataFrame, key: str | None = None, model: str = "m") -> None:
    with Collector(data.root) as c:
        c.log_predictions(model, frame, idempotency_key=key, **ROLES)


def _tick(data: DataDir) -> None:
    report = run_tick(data, now=NOW, notify=False)
    assert not report.errors, report.errors


def _dup_rows(data: DataDir, model: str = "m") -> pd.DataFrame:
    frame = export_frame(data, "metrics", model)
    frame = frame[frame["metric"] == "duplicate_id_share"].copy()
    frame["day"] = pd.to_datetime(frame["window_start"], utc=True).dt.strftime("%d")
    return frame.set_index("day")


def test_share_and_status_functions() -> None:
    q = quality.duplicate_id_share(30, 1000)
    assert q.value == 30 / 1030 and q.flagged and q.threshold == quality.DUPLICATE_ID_WARNING
    assert not quality.duplicate_id_share(0, 600).flagged and quality.duplicate_id_share(0, 600).value == 0.0
    assert math.isnan(quality.duplicate_id_share(0, 0).value)
    assert [quality.duplicate_id_status(v) for v in (0.0, 0.01, 0.02, 0.06, math.nan)] == [
        "ok",
        "ok",
        "warning",
        "critical",
        "ok",
    ]
    spec = registry.get("duplicate_id_share")
    assert spec.family == "quality" and spec.display_name and spec.meaning and spec.fn is not None
    assert spec.normal_range == (0.0, quality.DUPLICATE_ID_WARNING) and spec.higher_is_worse


def test_known_answer_per_window_by_event_time(data_dir: DataDir, rng: np.random.Generator) -> None:
    a = _day(rng, 1000, "01", "a")  # window A: Jan 1
    b = _day(rng, 600, "02", "b")  # window B: Jan 2
    c = _day(rng, 200, "03", "c")  # window C: Jan 3
    _log(data_dir, pd.concat([a.iloc[:700], b.iloc[:500]]))
    _tick(data_dir)
    first = _dup_rows(data_dir)
    assert first.loc["01", "value"] == 0.0 and first.loc["01", "n"] == 700
    # 10 repeats inside one batch (the collector sets them aside), all with A's event time.
    _log(data_dir, pd.concat([a.iloc[700:], a.iloc[700:710]]))
    # Arriving later, with B and C rows: 20 repeats of batch 1's A ids (A's time) count in A, not B;
    # 20 rows repeating A ids but stamped on Jan 3 count in C (by event time, not by the id's first window).
    late_c = a.iloc[100:120].assign(ts=c["ts"].iloc[:20].to_numpy())
    _tick(data_dir)
    _log(data_dir, pd.concat([b.iloc[500:], a.iloc[:20], c, late_c]))
    _tick(data_dir)  # window A gets no new stored row here: its duplicates alone recompute it
    rows = _dup_rows(data_dir)
    assert rows.loc["01", "value"] == 30 / 1030 and rows.loc["01", "n"] == 1030
    assert rows.loc["01", "status"] == "warning" and rows.loc["01", "column"] == "request_id"
    assert rows.loc["02", "value"] == 0.0 and rows.loc["02", "n"] == 600 and rows.loc["02", "status"] == "ok"
    assert rows.loc["03", "value"] == 20 / 220 and rows.loc["03", "status"] == "critical"
    q = quarantine_rows(data_dir, "m", limit=10_000)
    assert len(q) == 50 and q["reason"].str.startswith("duplicate").all()


def test_redelivered_batch_is_not_double_counted(data_dir: DataDir, rng: np.random.Generator) -> None:
    a = _day(rng, 100, "01", "a")
    batch = pd.concat([a, a.iloc[:5]])  # 5 in-batch repeats
    _log(data_dir, batch, key="order-42")
    _log(data_dir, batch, key="order-42")  # a retry before the job ran: same sealed files
    _tick(data_dir)
    _log(data_dir, batch, key="order-42")  # a retry after ingestion: recognised by its batch id
    _tick(data_dir)
    rows = _dup_rows(data_dir)
    assert rows.loc["01", "value"] == 5 / 105 and rows.loc["01", "n"] == 105
    assert len(quarantine_rows(data_dir, "m", limit=10_000)) == 5
    # Without an idempotency key a re-sent batch is repeated ids like any other: every row of it counts
    # once (its 5 in-batch repeats plus 100 repeats of stored ids), never twice.
    _log(data_dir, batch)
    _tick(data_dir)
    rows = _dup_rows(data_dir)
    assert rows.loc["01", "value"] == 110 / 210 and len(quarantine_rows(data_dir, "m", limit=10_000)) == 110


def test_no_id_column_no_row_and_old_quarantine_rows(data_dir: DataDir, rng: np.random.Generator) -> None:
    frame = _day(rng, 50, "01", "x").drop(columns=["request_id"])
    with Collector(data_dir.root) as c:
        c.log_predictions("noid", frame, timestamp="ts")
        c.quarantine_lines("noid", "predictions", [(3, "malformed line", "{oops")])  # no event time
    # A quarantine file sealed before event times were recorded (no _ts column) still ingests.
    folder = data_dir.landing / "quarantine" / "m"
    folder.mkdir(parents=True)
    now = datetime(2026, 1, 5, tzinfo=UTC)
    pq.write_table(
        pa.table(
            {
                "_batch": ["old"],
                "_row": pa.array([0], pa.int64()),
                "_stream": ["predictions"],
                "_version": [""],
                "_experiment": [""],
                "_reason": ["duplicate id a1 within this batch (first row kept)"],
                "_raw": ["{}"],
                "_received_at": pa.array([now], pa.timestamp("us", tz="UTC")),
            }
        ),
        folder / "old.parquet",
    )
    _log(data_dir, _day(rng, 40, "01", "a"))
    _tick(data_dir)
    frame_noid = export_frame(data_dir, "metrics", "noid")
    assert len(frame_noid) and "duplicate_id_share" not in set(frame_noid["metric"])
    rows = _dup_rows(data_dir)
    assert rows.loc["01", "value"] == 0.0 and rows.loc["01", "n"] == 40  # the old row has no time: left out
    assert len(quarantine_rows(data_dir, "m", limit=10_000)) == 1


def test_threshold_override_and_cli_export(data_dir: DataDir, rng: np.random.Generator) -> None:
    a = _day(rng, 100, "01", "a")
    b = _day(rng, 100, "02", "b")
    _log(data_dir, pd.concat([a, a.iloc[:10], b, b.iloc[:10]]))  # 10/110 in each window: critical
    alerting.create_threshold(
        Settings(data_dir.settings), actor="ana", role="editor", reason="retries are expected here",
        model="m", family="quality", metric="duplicate_id_share", kind="absolute", direction="above",
        warning=0.05, critical=0.5,
    )  # fmt: skip
    _tick(data_dir)
    out = subprocess.run(
        [*CLI, "export", "metrics", "--model", "m", "--data-dir", str(data_dir.root)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    frame = pd.read_csv(io.StringIO(out.stdout))
    dup = frame[frame["metric"] == "duplicate_id_share"].reset_index(drop=True)
    assert len(dup) == 2 and (dup["family"] == "quality").all() and (dup["column"] == "request_id").all()
    np.testing.assert_allclose(dup["value"], [10 / 110, 10 / 110])
    assert dup["status"].tolist() == ["warning", "warning"]  # the override (0.05 / 0.5), not the default
    assert dup["n"].tolist() == [110, 110]
