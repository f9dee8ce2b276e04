"""Collector SDK: bulk and one-row logging, quarantine with reasons, idempotency, roles, bounds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError, CollectorRefusedError
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame, models_overview, quarantine_rows
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from tests.conftest import make_predictions


def _counts(data: DataDir) -> dict[str, int]:
    rows = {r["model"]: r for r in models_overview(data)}
    return {k: v for k, v in rows.items()} if False else rows  # type: ignore[return-value]


def test_bulk_pandas_and_arrow_land_and_are_ingested_once(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    df = make_predictions(rng, 500)
    with Collector(data_dir.root) as c:
        r1 = c.log_predictions("credit", df, version="v1", id="request_id", timestamp="ts")
        r2 = c.log_predictions(
            "credit", pa.Table.from_pandas(make_predictions(rng, 300, prefix="a")), version="v1"
        )
    assert (r1.landed, r1.quarantined) == (500, 0)
    assert r2.landed == 300
    run_tick(data_dir)
    run_tick(data_dir)  # a second tick finds nothing new: nothing double counted
    row = models_overview(data_dir)[0]
    assert row["predictions"] == 800 and row["pending"] == 0


def test_one_row_calls_are_buffered_until_flush(data_dir: DataDir) -> None:
    c = Collector(data_dir.root, flush_interval_s=3600)
    for i in range(250):
        res = c.log_predictions("fraud", {"id": f"t{i}", "amount": float(i), "score": 0.1})
        assert res.buffered == 1
    assert not list((data_dir.landing / "predictions").glob("*/*.parquet"))
    c.flush()
    assert c.stats.landed == 250
    c.close()
    run_tick(data_dir)
    assert models_overview(data_dir)[0]["predictions"] == 250


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_land(data_dir: DataDir) -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b", "b", None, "e", "f"],
            "ts": [
                "2026-01-01T00:00:00Z",
                "2026-01-01T01:00:00Z",
                "2026-01-01T02:00:00Z",
                "2026-01-01T03:00:00Z",
                "not a date",
                "2026-01-01T05:00:00Z",
            ],
            "score": [0.1, 0.2, 0.3, 0.4, 0.5, 7.0],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    with Collector(data_dir.root) as c:
        res = c.log_predictions("m", df, id="id", timestamp="ts")
    assert res.landed == 2  # a, b (first)
    assert res.quarantined == 4
    run_tick(data_dir)
    q = quarantine_rows(data_dir, "m")
    reasons = " | ".join(q["reason"])
    assert "duplicate id b" in reasons
    assert "missing id" in reasons
    assert "not a date-time" in reasons
    assert "probability in [0, 1]" in reasons
    assert models_overview(data_dir)[0]["quarantined"] == 4


def test_outcomes_need_an_id_and_label(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.declare("m", id="rid", label="y")
        res = c.log_outcomes("m", pd.DataFrame({"rid": ["1", "2", None], "y": [1, None, 0]}))
    assert res.landed == 1
    assert res.quarantined == 2


def test_idempotency_key_stores_a_retried_batch_once(data_dir: DataDir, rng: np.random.Generator) -> None:
    df = make_predictions(rng, 100)
    with Collector(data_dir.root) as c:
        c.log_predictions("m", df, idempotency_key="req-1")
    run_tick(data_dir)
    with Collector(data_dir.root) as c:
        c.log_predictions("m", df, idempotency_key="req-1")  # the client retried after a timeout
    run_tick(data_dir)
    assert models_overview(data_dir)[0]["predictions"] == 100


def test_duplicate_ids_across_batches_count_once_champion_and_challenger_both_kept(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    df = make_predictions(rng, 200)
    with Collector(data_dir.root) as c:
        c.log_predictions("m", df, version="v1")
        c.log_predictions("m", df, version="v1")  # same ids again: duplicates
        c.log_predictions("m", df, version="v2", experiment="challenger")  # same ids, other version: kept
    run_tick(data_dir)
    row = models_overview(data_dir)[0]
    assert row["predictions"] == 400
    assert row["quarantined"] == 200


def test_roles_are_remembered_and_case_collisions_kept_apart(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.declare("m", id="rid", timestamp="when", scores=["p"], segments=["region"], owner="ana")
        c.log_predictions(
            "m",
            pd.DataFrame(
                {"rid": ["1"], "when": ["2026-01-01"], "p": [0.2], "Age": [3], "age": ["x"], "region": ["n"]}
            ),
        )
    settings = Settings(data_dir.settings)
    cols = {col.name: col for col in catalog.get_columns(settings, "m")}
    assert cols["rid"].role == "id" and cols["p"].role == "score" and cols["region"].role == "segment"
    assert cols["Age"].col_id != cols["age"].col_id
    assert cols["Age"].dtype == "numeric" and cols["age"].dtype == "categorical"
    assert catalog.get_model(settings, "m").owner == "ana"  # type: ignore[union-attr]
    kinds = {e["kind"] for e in catalog.schema_events(settings, "m")}
    assert "case_collision" in kinds


def test_retyped_and_new_columns_are_schema_events_not_crashes(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.log_predictions("m", pd.DataFrame({"id": ["1", "2"], "x": [1.0, 2.0], "score": [0.1, 0.2]}))
        res = c.log_predictions(
            "m", pd.DataFrame({"id": ["3", "4"], "x": ["oops", "5"], "z": [1, 2], "score": [0.1, 0.2]})
        )
    assert res.landed == 2
    kinds = {(e["col"], e["kind"]) for e in catalog.schema_events(Settings(data_dir.settings), "m")}
    assert ("x", "retyped") in kinds and ("z", "new_column") in kinds


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", "x" * 200, "bad name", ".hidden"])
def test_unsafe_model_names_are_rejected(data_dir: DataDir, bad: str) -> None:
    with Collector(data_dir.root) as c, pytest.raises(BadInputError, match="invalid model name"):
        c.log_predictions(bad, {"id": "1", "score": 0.5})


def test_full_buffer_refuses_counted_never_blocks(tmp_path: Path) -> None:
    c = Collector(tmp_path / "d", max_buffer_rows=10, flush_interval_s=3600)
    for i in range(15):
        c.log_predictions("m", {"id": str(i), "score": 0.5})
    assert c.stats.refused == 5 and c.stats.accepted == 10
    strict = Collector(tmp_path / "d", max_buffer_rows=1, flush_interval_s=3600, strict=True)
    strict.log_predictions("m", {"id": "a", "score": 0.5})
    with pytest.raises(CollectorRefusedError):
        strict.log_predictions("m", {"id": "b", "score": 0.5})
    c.close()
    strict.close()


def test_disk_failure_keeps_rows_and_retries(data_dir: DataDir, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckwatch.collector.sdk as sdk

    real = sdk.land_batch
    calls = {"n": 0}

    def failing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sdk, "land_batch", failing)
    c = Collector(data_dir.root, flush_interval_s=3600)
    res = c.log_predictions("m", pd.DataFrame({"id": ["1", "2"], "score": [0.1, 0.2]}))
    assert res.buffered == 2 and c.stats.flush_errors == 1
    c.flush()  # disk is back: the kept rows land now
    assert c.stats.landed == 2
    c.close()


def test_fork_child_does_not_double_write_parent_buffer(data_dir: DataDir) -> None:
    c = Collector(data_dir.root, flush_interval_s=3600)
    c.log_predictions("m", {"id": "parent", "score": 0.5})
    pid = os.fork()
    if pid == 0:  # child: logs its own row and exits
        try:
            c.log_predictions("m", {"id": "child", "score": 0.5})
            c.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    c.flush()
    c.close()
    run_tick(data_dir)
    assert models_overview(data_dir)[0]["predictions"] == 2


def test_export_metrics_has_the_documented_columns_even_when_empty(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.log_predictions("m", {"id": "1", "score": 0.5})
    run_tick(data_dir)
    cols = list(export_frame(data_dir, "metrics", "m").columns)
    for needed in (
        "model",
        "version",
        "window_start",
        "window_end",
        "family",
        "metric",
        "column",
        "value",
        "status",
    ):
        assert needed in cols


def test_nested_values_are_kept_as_json_text(data_dir: DataDir) -> None:
    # Field names that differ only in case collide inside a DuckDB struct: keep the value as JSON.
    with Collector(data_dir.root) as c:
        res = c.log_predictions(
            "m", [{"id": "1", "score": 0.5, "meta": {"A": 1, "a": 2}, "items": ["x", "y"]}]
        )
    assert (res.landed, res.quarantined) == (1, 0)
    cols = {col.name: col for col in catalog.get_columns(Settings(data_dir.settings), "m")}
    assert cols["meta"].dtype == "categorical" and cols["items"].dtype == "list"


def test_columns_declared_before_data_take_their_type_from_the_first_batch(data_dir: DataDir) -> None:
    with Collector(data_dir.root) as c:
        c.declare("m", id="id", prediction="price_pred", label="price", scores=["p"])
        c.log_predictions(
            "m", pd.DataFrame({"id": ["1", "2"], "price_pred": [1.5e5, 2.5e5], "p": [0.1, 0.2]})
        )
    cols = {col.name: col for col in catalog.get_columns(Settings(data_dir.settings), "m")}
    assert cols["price_pred"].dtype == "numeric"  # not a category of 100k distinct prices
    assert cols["p"].dtype == "numeric"
    assert cols["price"].dtype == ""  # no outcome seen yet: typed when the first one arrives
