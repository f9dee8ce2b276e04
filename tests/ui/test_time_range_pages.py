"""Readers never fail on what is stored: pages and exports over a published file holding year-99999 times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame, models_overview
from duckwatch.store import catalog
from duckwatch.store.published import publish_model
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse
from tests.conftest import make_predictions

MAIN = Path(__file__).resolve().parents[2] / "src" / "duckwatch" / "ui" / "main.py"
FAR, FAR_END, PAST = "99999-01-01 00:00:00+00", "99999-01-02 00:00:00+00", "1900-01-01 00:00:00+00"


@pytest.fixture
def stored_far_times(data_dir: DataDir, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    """A model whose published file holds a window, metrics and a last time in year 99999 (as an older
    version could store them), published as they are."""
    rng = np.random.default_rng(11)
    with Collector(data_dir.root) as c:
        c.declare("m1", display_name="Model one", purpose="Reads what is stored")
        ref = make_predictions(rng, 400, start="2025-12-01", prefix="ref")
        c.log_reference("m1", ref, id="request_id", timestamp="ts")
        c.log_predictions("m1", make_predictions(rng, 1500, freq="5min"), id="request_id", timestamp="ts")
    assert run_tick(data_dir, notify=False).errors == []
    info = catalog.get_model(Settings(data_dir.settings), "m1")
    assert info is not None
    wh = Warehouse(data_dir)
    try:
        far, end = "CAST(? AS TIMESTAMPTZ)", "CAST(? AS TIMESTAMPTZ)"
        latest = "(SELECT max(window_start) FROM {t} WHERE model = 'm1')"
        for table in ("metric_results", "profiles"):
            cols = f"{far} AS window_start" + (f", {end} AS window_end" if table == "metric_results" else "")
            wh.execute(
                f"INSERT INTO {table} SELECT * REPLACE ({cols}) FROM {table} "
                f"WHERE model = 'm1' AND window_start = {latest.format(t=table)}",
                [FAR, FAR_END] if table == "metric_results" else [FAR],
            )
        wh.execute(
            "INSERT INTO window_state (model, version, experiment, window_start, window_end, dirty, computed_at, "
            f"row_count) VALUES ('m1', '', '', {far}, {end}, false, now(), 1)",
            [FAR, FAR_END],
        )
        wh.execute(
            f"UPDATE stream_stats SET first_ts = {far}, last_ts = {end} WHERE model_key = ?",
            [PAST, FAR, info.model_key],
        )
        publish_model(wh, "m1", info.model_key)
    finally:
        wh.close()
    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(data_dir.root))
    st.cache_data.clear()
    return data_dir


def test_exports_read_far_times_as_the_latest_time_python_holds(stored_far_times: DataDir) -> None:
    [row] = models_overview(stored_far_times)
    assert row["first_ts"].startswith("1900-01-01") and row["last_ts"].startswith("9999-")
    windows = export_frame(stored_far_times, "windows", "m1")
    assert windows["window_start"].max().year == 9999
    assert len(export_frame(stored_far_times, "metrics", "m1").to_csv()) > 0


@pytest.mark.parametrize(
    ("page", "params", "text"),
    [
        (None, {}, "Model one"),
        ("model", {}, "Model one"),
        ("model", {"tab": "Diagnose"}, "Data quality"),
        ("audit", {}, "Reads what is stored"),
    ],
    ids=["portfolio", "model", "model-diagnose", "audit"],
)
def test_pages_render_over_far_times(
    stored_far_times: DataDir, page: str | None, params: dict[str, str], text: str
) -> None:
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.query_params["model"] = "m1"
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [e.value for kind in ("title", "subheader", "markdown", "caption") for e in getattr(at, kind)]
    assert at.title and text in " ".join(str(v) for v in shown)
