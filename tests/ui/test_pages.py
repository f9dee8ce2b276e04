"""Every page under streamlit.testing.v1.AppTest over a generated data dir: no exceptions, key texts, numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from duckwatch.config import DataDir
from duckwatch.readmodels.views import export_frame
from duckwatch.store.settings import Settings
from duckwatch.store.users import add_user

MAIN = Path(__file__).resolve().parents[2] / "src" / "duckwatch" / "ui" / "main.py"
THIN = Path(__file__).resolve().parents[2] / "app" / "streamlit_app.py"


@pytest.fixture
def served(app_data: DataDir, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(app_data.root))
    st.cache_data.clear()
    return app_data


@pytest.fixture
def writable(app_data: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataDir:
    """A private copy of the generated data dir, for tests that write settings."""
    copy = DataDir(tmp_path / "data")
    shutil.copytree(app_data.root, copy.root)
    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(copy.root))
    st.cache_data.clear()
    return copy


def _open(
    page: str | None = None, script: Path = MAIN, opened: tuple[str, ...] = (), **params: str
) -> AppTest:
    """Run the app (then ``page``) with query ``params``; ``opened``: keys of on-demand expanders to open."""
    at = AppTest.from_file(str(script), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    for key in opened:  # tables behind charts are read only when their expander is opened
        at.session_state[f"exp-{key}"] = True
    at.run()
    if page:
        at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "success")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def _frames(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def _login(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def test_portfolio_first_sentence_attention_gaps_and_rule(served: DataDir) -> None:
    at = _open(opened=("gaps",))
    text = _texts(at)
    assert "of 2 models need attention" in at.subheader[0].value
    assert "Credit risk" in text and "ana@example.com" in text
    gaps = next(f for f in _frames(at) if list(f.columns) == ["model", "gaps"])
    assert "Coverage gaps" in text and "no labels" in "\n".join(map(str, gaps["gaps"]))
    assert "How health is decided" in [e.label for e in at.expander]
    assert "Read-only: no users yet" in text and "duckwatch users add NAME --role editor" in text
    assert any(b.label == "Download CSV" for b in at.get("download_button"))


def test_portfolio_empty_state_shows_sdk_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUCKWATCH_DATA_DIR", str(DataDir(tmp_path / "empty").ensure().root))
    st.cache_data.clear()
    at = _open()
    assert "No models yet" in _texts(at)
    assert "from duckwatch import Collector" in at.code[0].value


def test_model_overview_numbers_equal_export(served: DataDir) -> None:
    at = _open("model", model="credit", opened=("tbl-headline-credit",))
    text = _texts(at)
    assert "Credit risk" in text and "Owner: ana@example.com" in text
    expected = export_frame(served, "metrics", "credit")
    shown = next(
        f for f in _frames(at) if {"metric", "value", "window_start", "provisional"} <= set(f.columns)
    )
    assert not shown.empty
    for _, row in shown.head(20).iterrows():
        match = expected[
            (expected["metric"] == row["metric"])
            & (expected["window_start"] == row["window_start"])
            & (expected["version"] == row["version"])
            & (expected["experiment"] == row["experiment"])
            & (expected["column"] == "")
        ]
        assert len(match) == 1 and match["value"].iloc[0] == pytest.approx(row["value"])


def test_model_diagnose_drift_table_equals_export_and_shows_histogram(served: DataDir) -> None:
    at = _open("model", model="credit", tab="Diagnose", opened=("tbl-drift-credit", "tbl-hist-credit"))
    expected = export_frame(served, "metrics", "credit")
    bars = next(f for f in _frames(at) if list(f.columns) == ["column", "value"])
    drift = next(f for f in _frames(at) if list(f.columns[:3]) == ["column", "metric", "value"])
    ws = expected[expected["family"] == "drift"]["window_start"].max()
    latest = expected[(expected["family"] == "drift") & (expected["window_start"] == ws)]
    assert bars.iloc[0]["column"] == "income"  # the feature whose units changed is listed first
    js = latest[(latest["column"] == "income") & (latest["metric"] == "js_distance")]
    assert bars.iloc[0]["value"] == pytest.approx(js["value"].max())
    for _, row in drift.iterrows():
        match = latest[
            (latest["column"] == row["column"])
            & (latest["metric"] == row["metric"])
            & (latest["version"] == row["version"])
        ]
        assert row["value"] == pytest.approx(match["value"].iloc[0], nan_ok=True)
    assert "Data quality (latest window: " in _texts(at)
    assert any(f.columns.tolist() == ["bin", "reference", "current"] for f in _frames(at))


def test_model_query_params_pick_model_and_fairness_explains(served: DataDir) -> None:
    at = _open("model", model="fraud", tab="Fairness")  # only the selected tab runs
    assert at.selectbox[0].value == "fraud"
    assert any('sensitive=["gender"]' in c.value for c in at.code)


def test_compare_verdict_first_and_values_equal_export(served: DataDir) -> None:
    at = _open("compare", model="credit")
    assert "v1/champion" in at.subheader[0].value or "v2/challenger" in at.subheader[0].value
    table = next(f for f in _frames(at) if "value_a" in f.columns)
    expected = export_frame(served, "metrics", "credit")
    for metric in ("row_count", "accuracy"):
        shown = table[table["metric"] == metric].iloc[0]
        series = expected[(expected["metric"] == metric) & (expected["version"] == "v1")].sort_values(
            "window_start"
        )
        assert shown["value_a"] == pytest.approx(series["value"].iloc[-1], nan_ok=True)


def test_thresholds_read_only_for_viewers(served: DataDir) -> None:
    at = _open("thresholds", model="credit")
    assert "would have been" in _texts(at)
    assert not [b for b in at.button if b.label == "Save limits"]
    assert "Read-only" in _texts(at)


def test_thresholds_editor_saves_with_reason_and_it_is_audited(writable: DataDir) -> None:
    add_user(Settings(writable.settings), "ed", "pw-123456", "editor", actor="test")
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    assert at.get("form"), "a login form is shown once users exist"
    _login(at, "ed", "pw-123456")
    at.switch_page("screens/thresholds.py").run()
    save = next(b for b in at.button if b.label == "Save limits")
    save.click().run()
    assert "Write a reason" in "\n".join(e.value for e in at.error)
    at.selectbox(key="thr_monitor").set_value(("row_count", "")).run()
    at.text_input(key="thr_reason").input("alert earlier on volume")
    next(b for b in at.button if b.label == "Save limits").click().run()
    assert not at.exception
    assert "Saved" in "\n".join(e.value for e in at.success)
    log = Settings(writable.settings).query(
        "SELECT actor, action, reason FROM audit WHERE action LIKE 'threshold.%'"
    )
    # The fixture already set a row_count threshold for this exact scope, so the save updates it.
    assert {"actor": "ed", "action": "threshold.update", "reason": "alert earlier on volume"} in log


def test_write_functions_refuse_viewers_even_without_the_ui(writable: DataDir) -> None:
    from duckwatch.ui import data

    with pytest.raises(data.ReadOnlyError):
        data.save_threshold(
            "viewer", "eve", model="credit", family="performance", metric="roc_auc", column="",
            warning=0.9, critical=0.8, direction="below", reason="x",
        )  # fmt: skip
    with pytest.raises(data.ReadOnlyError):
        data.incident_action("acknowledge", "viewer", "eve", 1)


def test_login_rejects_a_wrong_password(writable: DataDir) -> None:
    add_user(Settings(writable.settings), "ed", "pw-123456", "editor", actor="test")
    at = _login(AppTest.from_file(str(MAIN), default_timeout=60).run(), "ed", "nope")
    assert "wrong password" in at.error[0].value
    assert at.session_state["role"] == "viewer" if "role" in at.session_state else True


def test_alerts_lists_incidents_and_editor_acknowledges(writable: DataDir) -> None:
    from duckwatch.store.incidents import list_incidents

    assert list_incidents(Settings(writable.settings)), (
        "the fixture's row_count threshold should open an incident"
    )
    add_user(Settings(writable.settings), "ed", "pw-123456", "editor", actor="test")
    at = _login(AppTest.from_file(str(MAIN), default_timeout=60).run(), "ed", "pw-123456")
    at.switch_page("screens/alerts.py").run()
    assert "Predictions per window fell to" in _texts(at)  # the title in words
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception
    states = {i["state"] for i in list_incidents(Settings(writable.settings))}
    assert "acknowledged" in states


def test_audit_page_and_model_card(served: DataDir) -> None:
    at = _open("audit", model="credit")
    text = _texts(at)
    assert "entries" in text and "Approve small loans" in text
    columns = next(f for f in _frames(at) if list(f.columns) == ["column", "role", "type", "class"])
    assert {"income", "age", "region"} <= set(columns["column"])


def test_thin_entry_point_runs_the_same_app(served: DataDir) -> None:
    at = _open(script=THIN)
    assert at.title[0].value == "Portfolio"


def test_pages_cannot_be_reached_around_the_login_gate(writable: DataDir) -> None:
    add_user(Settings(writable.settings), "ed", "pw-123456", "editor", actor="test")
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    at.switch_page("screens/thresholds.py").run()
    assert [t.value for t in at.title] == ["duckwatch"] and at.get("form")


def test_screens_hold_no_sql() -> None:
    for page in (MAIN.parent / "screens").glob("*.py"):
        text = page.read_text(encoding="utf-8").upper()
        assert "SELECT " not in text and "INSERT " not in text and "IMPORT DUCKDB" not in text, page.name
