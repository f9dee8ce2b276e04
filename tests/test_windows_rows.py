"""Row-count windows (``window: rows:N``) end to end: cut points, open window, late labels, same times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from duckwatch import Collector
from duckwatch.alerting import monitors
from duckwatch.cli import main
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.jobs.tick import run_tick
from duckwatch.loading.profiling import window_profiles
from duckwatch.metrics.profile import NumericProfile
from duckwatch.readmodels import app_views
from duckwatch.readmodels.views import export_frame
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse
from tests.conftest import make_predictions

NOW = datetime(2026, 3, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


def _windows(data: DataDir, model: str = "m") -> pd.DataFrame:
    frame = export_frame(data, "windows", model)
    return frame.sort_values("window_start").reset_index(drop=True)


def _log(data: DataDir, frame: pd.DataFrame, model: str = "m", window: str = "rows:1000") -> None:
    with Collector(data.root) as c:
        c.declare(model, window=window)
        c.log_predictions(model, frame)


@pytest.fixture
def cut(data_dir: DataDir, rng: np.random.Generator) -> tuple[DataDir, pd.DataFrame]:
    """2,500 predictions in 3 batches (3 ticks) of a rows:1000 model, auto-reference."""
    frame = make_predictions(rng, 3100, start="2026-01-01", freq="1min")
    for i, (lo, hi) in enumerate([(0, 800), (800, 1700), (1700, 2500)]):
        _log(data_dir, frame.iloc[lo:hi])
        report = run_tick(data_dir, now=NOW + timedelta(hours=i), notify=False)
        assert not report.errors
    return data_dir, frame


def test_closed_windows_hold_exactly_n_rows_and_the_open_one_is_never_evaluated(
    cut: tuple[DataDir, pd.DataFrame],
) -> None:
    data, frame = cut
    win = _windows(data)
    assert len(win) == 2  # the 500-row remainder is open: no window_state row
    ts = frame["ts"]
    assert list(win["window_start"]) == [ts[0], ts[1000]]
    assert list(win["window_end"]) == [ts[999] + US, ts[1999] + US]
    metrics = export_frame(data, "metrics", "m")
    assert sorted(metrics["window_start"].unique()) == [ts[0], ts[1000]]
    counts = metrics.query("metric == 'row_count'")
    assert list(counts["value"]) == [1000.0, 1000.0]
    assert "volume_ratio" not in set(metrics["metric"])  # meaningless when every window holds N rows

    settings = Settings(data.settings)
    cols = {c.name: c.col_id for c in catalog.get_columns(settings, "m")}
    wh = Warehouse(data)
    try:
        for i, ws in enumerate(win["window_start"]):
            rows = frame.iloc[i * 1000 : (i + 1) * 1000]
            profile = window_profiles(wh, "m", "", "", ws.to_pydatetime())[cols["income"]]
            assert isinstance(profile, NumericProfile) and profile.n == 1000
            assert profile.mean == pytest.approx(rows["income"].mean(), rel=1e-12)
            assert profile.min == rows["income"].min() and profile.max == rows["income"].max()
        open_ws = wh.rows("SELECT window_start, n, size FROM row_windows WHERE model = 'm' AND n < size")
        assert [(r[1], r[2]) for r in open_ws] == [(500, 1000)]
        assert open_ws[0][0] == ts[2000]  # profiled as it fills, never evaluated
        assert cols["income"] in window_profiles(wh, "m", "", "", open_ws[0][0])
    finally:
        wh.close()
    # The auto-reference is the first closed window: window 2's KS against exactly window 1's rows.
    ks = metrics.query("metric == 'ks' and column == 'income'").set_index("window_start")
    exact = stats.ks_2samp(frame["income"][:1000], frame["income"][1000:2000]).statistic
    lo, hi = ks.loc[ts[1000], "lower"], ks.loc[ts[1000], "upper"]
    assert lo - 1e-9 <= exact <= hi + 1e-9
    assert ks.loc[ts[0], "value"] == pytest.approx(0.0, abs=1e-12)


def test_new_batch_closes_the_next_window_only_and_late_labels_dirty_their_window(
    cut: tuple[DataDir, pd.DataFrame], rng: np.random.Generator
) -> None:
    data, frame = cut
    before = _windows(data)
    _log(data, frame.iloc[2500:3100])
    later = NOW + timedelta(hours=5)
    assert run_tick(data, now=later, notify=False).windows_computed == 1
    win = _windows(data)
    assert len(win) == 3 and win["window_start"][2] == frame["ts"][2000]
    assert list(win["computed_at"][:2]) == list(before["computed_at"])  # closed windows never change
    assert win["computed_at"][2] == later

    labels = frame.iloc[:500]
    out = pd.DataFrame({"request_id": labels["request_id"], "label": labels["prediction"]})
    with Collector(data.root) as c:
        c.log_outcomes("m", out)
    latest = NOW + timedelta(hours=6)
    assert run_tick(data, now=latest, notify=False).windows_computed == 1
    win = _windows(data)
    assert list(win["computed_at"]) == [latest, *list(win["computed_at"][1:])]
    assert win["computed_at"][1] != latest and win["computed_at"][2] != latest
    metrics = export_frame(data, "metrics", "m")
    acc = metrics.query("metric == 'accuracy' and n > 0")
    assert list(acc["window_start"]) == [frame["ts"][0]]
    assert acc["value"].iloc[0] == pytest.approx(1.0) and acc["n"].iloc[0] == 500

    # Readers: the CLI export and the app's data layer take row windows like any other.
    target = data.root / "m.csv"
    assert (
        main(["export", "metrics", "--model", "m", "--out", str(target), "--data-dir", str(data.root)]) == 0
    )
    exported = pd.read_csv(target)
    assert exported["window_start"].nunique() == 3
    shown = app_views.metrics(data, "m")
    assert not shown.empty and not app_views.scalar_series(shown).empty
    assert not app_views.drift_table(shown).empty
    hist = app_views.histogram_pair(data, "m", "income", frame["ts"][1000])
    assert len(hist) > 0
    assert app_views.model_card(data, "m")["window"] == "rows:1000"
    assert app_views.model_row(data, "m", now=latest)["model"] == "m"


def test_rows_sharing_one_time_still_get_distinct_increasing_windows(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    frame = make_predictions(rng, 250).drop(columns=["ts"])  # no time column: one time per batch
    _log(data_dir, frame, window="rows:100")
    report = run_tick(data_dir, now=datetime.now(UTC) + timedelta(hours=1), notify=False)
    assert not report.errors and report.windows_computed == 2
    win = _windows(data_dir)
    assert len(win) == 2
    first, second = win["window_start"]
    assert second == first + US  # bumped past the previous start
    assert (win["window_end"] > win["window_start"]).all()
    counts = export_frame(data_dir, "metrics", "m").query("metric == 'row_count'")
    assert list(counts["value"]) == [100.0, 100.0]
    wh = Warehouse(data_dir)
    try:  # the cut follows the arrival order: rows 0-99, 100-199, then the open 200-249
        held = wh.rows(
            "SELECT w.window_start, count(*) FROM raw_1_predictions p "
            "ASOF JOIN row_windows w ON p._version = w.version "
            "AND (p._seq, p._ts, p._batch, p._row) >= (w.first_seq, w.first_ts, w.first_batch, w.first_row) "
            "GROUP BY ALL ORDER BY 1"
        )
    finally:
        wh.close()
    assert [r[1] for r in held] == [100, 100, 50]


def test_bad_window_values_are_refused_everywhere(data_dir: DataDir, tmp_path: Path) -> None:
    settings = Settings(data_dir.settings)
    catalog.ensure_model(settings, "m")
    for bad in ("rows:0", "rows:abc", "rows:", "fortnight", "rows:-5"):
        with pytest.raises(BadInputError, match="rows:N"):
            catalog.update_model(settings, "m", actor="t", window=bad)
        with Collector(data_dir.root) as c, pytest.raises(BadInputError, match="rows:N"):
            c.declare("m", window=bad)
        path = tmp_path / "m.yaml"
        path.write_text(f"model: m\nwindow: '{bad}'\n")
        assert any("window" in e for e in monitors.validate(path))
    assert catalog.update_model(settings, "m", actor="t", window=" ROWS:500 ").window == "rows:500"
    path = tmp_path / "ok.yaml"
    path.write_text("model: m\nwindow: rows:250\n")
    monitors.apply(settings, path, actor="t")
    assert catalog.get_model(settings, "m").window == "rows:250"  # type: ignore[union-attr]


def test_changing_the_window_recomputes_every_stored_row(data_dir: DataDir, rng: np.random.Generator) -> None:
    frame = make_predictions(rng, 900, start="2026-01-01", freq="1min")
    _log(data_dir, frame.iloc[:300], window="hour")
    run_tick(data_dir, now=NOW, notify=False)
    assert len(_windows(data_dir)) == 5  # 300 minutes: five hours
    _log(data_dir, frame.iloc[300:550], window="rows:100")  # history too: 550 rows in windows of 100
    assert not run_tick(data_dir, now=NOW + timedelta(hours=1), notify=False).errors
    win = _windows(data_dir)
    assert list(win["window_start"]) == [frame["ts"][i] for i in range(0, 500, 100)]  # 50 rows open
    _log(data_dir, frame.iloc[550:600], window="rows:40")
    assert not run_tick(data_dir, now=NOW + timedelta(hours=2), notify=False).errors
    win = _windows(data_dir)
    assert list(win["window_start"]) == [frame["ts"][i] for i in range(0, 600, 40)]
    counts = export_frame(data_dir, "metrics", "m").query("metric == 'row_count'")
    assert list(counts["value"]) == [40.0] * 15
