"""Input batches (``log_inputs``) are monitored: per column one stream, drift and quality per window.

Predictions carry id + time + score, a feature pipeline logs id + time + features: the features get
window profiles from the input rows of each window (by event time), hence drift and quality rows.
Known answers: numpy histograms over the reference's bin edges, scipy's two-sample KS, hand counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.loading.profiling import load_reference, window_profiles
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.readmodels.views import export_frame
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse

NOW = datetime(2026, 3, 1, tzinfo=UTC)  # every window closed, label horizons (30 days) passed
PER_DAY = 720  # one input row every 2 minutes
REGIONS = np.array(["north", "south", "east", None], dtype=object)


def _inputs(
    rng: np.random.Generator, days: int, start: str = "2026-01-01", prefix: str = "r"
) -> pd.DataFrame:
    n = days * PER_DAY
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(start, periods=n, freq="2min", tz="UTC"),
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(REGIONS, n, p=[0.3, 0.3, 0.3, 0.1]),
        }
    )


def _predictions(rng: np.random.Generator, inputs: pd.DataFrame) -> pd.DataFrame:
    """Every other input row was scored: predictions and inputs differ in rows per window."""
    half = inputs.iloc[::2]
    return pd.DataFrame(
        {
            "request_id": half["request_id"].to_numpy(),
            "ts": half["ts"].to_numpy(),
            "score": rng.uniform(size=len(half)),
        }
    )


def _reference(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "region": rng.choice(REGIONS[:3], n),
            "score": rng.uniform(size=n),
        }
    )


def _col_ids(data: DataDir, model: str = "m") -> dict[str, str]:
    return {c.name: c.col_id for c in catalog.get_columns(Settings(data.settings), model)}


def _profiles(data: DataDir, day: int, model: str = "m") -> dict[str, NumericProfile | CategoricalProfile]:
    """The stored profiles of one day's window (all rows, no segment), by column name."""
    ids = {v: k for k, v in _col_ids(data, model).items()}
    wh = Warehouse(data)
    try:
        found = window_profiles(wh, model, "", "", datetime(2026, 1, day, tzinfo=UTC))
    finally:
        wh.close()
    return {ids[k]: v for k, v in found.items()}


def _reference_profiles(data: DataDir, model: str = "m") -> dict[str, NumericProfile | CategoricalProfile]:
    ids = {v: k for k, v in _col_ids(data, model).items()}
    wh = Warehouse(data)
    try:
        return {ids[k]: v for k, v in load_reference(wh, model).items()}
    finally:
        wh.close()


def _windows(data: DataDir, model: str = "m") -> pd.DataFrame:
    frame = export_frame(data, "windows", model)
    frame["day"] = pd.to_datetime(frame["window_start"]).dt.day
    return frame.set_index("day")


def _expected_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin counts the profile keeps: below the first edge, numpy's histogram bins, above the last."""
    inside, _ = np.histogram(values, bins=edges)
    return np.concatenate([[np.sum(values < edges[0])], inside, [np.sum(values > edges[-1])]])


@pytest.fixture(scope="module")
def split(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DataDir, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Predictions (id, time, score) and inputs (id, time, features) of 3 days, a logged reference."""
    rng = np.random.default_rng(20260101)
    data = DataDir(Path(tmp_path_factory.mktemp("split")) / "data").ensure()
    inputs, ref = _inputs(rng, 3), _reference(rng)
    preds = _predictions(rng, inputs)
    with Collector(data.root) as c:
        c.log_reference("m", ref)
        c.log_predictions("m", preds)
        c.log_inputs("m", inputs)
    report = run_tick(data, now=NOW, notify=False)
    assert report.errors == []
    return data, inputs, preds, ref


def test_input_features_get_drift_and_quality_rows(
    split: tuple[DataDir, pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    data, _inputs_frame, _preds, _ref = split
    m = export_frame(data, "metrics", "m")
    for col in ("income", "region"):
        rows = m[m["column"] == col]
        assert set(rows["family"]) == {"drift", "quality"}
        assert len(set(pd.to_datetime(rows["window_start"]).dt.day)) == 3
    assert {"ks", "wasserstein_norm", "psi"} <= set(m.loc[m["column"] == "income", "metric"])
    assert {"chi2", "js_distance", "null_share", "unseen_share"} <= set(
        m.loc[m["column"] == "region", "metric"]
    )
    # The score (predictions) keeps its output drift and the windows their prediction volume.
    rc = m[m["metric"] == "row_count"]
    assert sorted(rc["value"]) == [PER_DAY / 2] * 3


def test_window_profile_counts_equal_histogram_of_the_windows_input_rows(
    split: tuple[DataDir, pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    data, inputs, _preds, ref = split
    edges = _reference_profiles(data)["income"]
    assert isinstance(edges, NumericProfile)
    m = export_frame(data, "metrics", "m")
    for day in (1, 2, 3):
        x = inputs.loc[inputs["ts"].dt.day == day, "income"].to_numpy(float)
        prof = _profiles(data, day)["income"]
        assert isinstance(prof, NumericProfile)
        assert prof.n == len(x) == PER_DAY
        np.testing.assert_array_equal(prof.counts, _expected_counts(x, edges.binning.edges))
        ks = m[
            (m["column"] == "income")
            & (m["metric"] == "ks")
            & (pd.to_datetime(m["window_start"]).dt.day == day)
        ]
        assert len(ks) == 1
        exact = stats.ks_2samp(ref["income"].to_numpy(float), x).statistic
        assert ks["lower"].iloc[0] - 1e-12 <= exact <= ks["upper"].iloc[0] + 1e-12
        assert ks["n"].iloc[0] == PER_DAY


def test_null_share_of_an_input_feature_equals_the_hand_count(
    split: tuple[DataDir, pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    data, inputs, _preds, _ref = split
    m = export_frame(data, "metrics", "m")
    q = m[(m["column"] == "region") & (m["metric"] == "null_share")]
    assert len(q) == 3
    for _, row in q.iterrows():
        day = pd.Timestamp(row["window_start"]).day
        region = inputs.loc[inputs["ts"].dt.day == day, "region"]
        assert row["value"] == pytest.approx(float(region.isna().sum()) / len(region), abs=1e-12)
        assert row["n"] == len(region)


def test_a_column_both_streams_carry_is_profiled_from_predictions_only(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    inputs = _inputs(rng, 2)
    inputs["age"] = rng.normal(40, 10, len(inputs))
    preds = _predictions(rng, inputs)
    preds["age"] = rng.normal(40, 10, len(preds))  # the serving code logs age too, other values
    ref = _reference(rng)
    ref["age"] = rng.normal(40, 10, len(ref))
    with Collector(data_dir.root) as c:
        c.log_reference("m", ref)
        c.log_predictions("m", preds)
        c.log_inputs("m", inputs)
    assert run_tick(data_dir, now=NOW, notify=False).errors == []
    edges = _reference_profiles(data_dir)["age"]
    assert isinstance(edges, NumericProfile)
    m = export_frame(data_dir, "metrics", "m")
    for day in (1, 2):
        prof = _profiles(data_dir, day)
        age, income = prof["age"], prof["income"]
        assert isinstance(age, NumericProfile) and isinstance(income, NumericProfile)
        x = preds.loc[preds["ts"].dt.day == day, "age"].to_numpy(float)
        assert age.n_rows == age.n == len(x) == PER_DAY // 2
        np.testing.assert_array_equal(age.counts, _expected_counts(x, edges.binning.edges))
        assert income.n == PER_DAY  # only inputs carry income
        ks = m[
            (m["column"] == "age") & (m["metric"] == "ks") & (pd.to_datetime(m["window_start"]).dt.day == day)
        ]
        assert ks["n"].tolist() == [PER_DAY // 2]


@pytest.mark.parametrize("reference", ["logged", "first input window"])
def test_inputs_only_model_gets_windows_and_flags_an_injected_shift(
    data_dir: DataDir, rng: np.random.Generator, reference: str
) -> None:
    inputs = _inputs(rng, 5)
    inputs.loc[inputs["ts"].dt.day == 5, "income"] *= 3  # the pipeline switched units on day 5
    with Collector(data_dir.root) as c:
        if reference == "logged":
            c.log_reference("m", _reference(rng).drop(columns=["score"]))
        c.log_inputs("m", inputs)
    report = run_tick(data_dir, now=NOW, notify=False)
    assert report.errors == [] and report.windows_computed == 5
    windows = _windows(data_dir)
    assert sorted(windows.index) == [1, 2, 3, 4, 5]
    assert windows["computed_at"].notna().all() and not windows["dirty"].any()
    m = export_frame(data_dir, "metrics", "m")
    assert set(m["family"]) == {"drift", "quality"}  # no prediction: no volume, no performance
    flagged = m[(m["status"] != "ok") & (m["family"] == "drift")]
    assert set(flagged["column"]) == {"income"}
    assert set(pd.to_datetime(flagged["window_start"]).dt.day) == {5}
    wh = Warehouse(data_dir)
    try:
        sources = {r[0] for r in wh.rows("SELECT source FROM reference_profiles WHERE model = 'm'")}
    finally:
        wh.close()
    if reference == "logged":
        assert sources == {"reference data (version default)"}
    else:
        # The first windows that together hold 1,000 rows (days 1 and 2): their rows are the reference.
        assert sources == {"first input window 2026-01-01 00:00"}
        edges = _reference_profiles(data_dir)["income"]
        assert isinstance(edges, NumericProfile)
        assert edges.n == 2 * PER_DAY
        x = inputs.loc[inputs["ts"].dt.day <= 2, "income"].to_numpy(float)
        np.testing.assert_array_equal(edges.counts, _expected_counts(x, edges.binning.edges))


def test_a_late_input_batch_recomputes_its_window_once(data_dir: DataDir, rng: np.random.Generator) -> None:
    inputs = _inputs(rng, 3)
    with Collector(data_dir.root) as c:
        c.log_reference("m", _reference(rng).drop(columns=["score"]))
        c.log_inputs("m", inputs)
    run_tick(data_dir, now=NOW, notify=False)
    before = _windows(data_dir)
    assert (before["computed_at"] == NOW).all()
    late = _inputs(rng, 1, prefix="late")
    late = late[late["ts"].dt.hour < 4]  # 120 rows of day 1, arriving after it was computed
    later, latest = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    with Collector(data_dir.root) as c:
        c.log_inputs("m", late, idempotency_key="pipeline-2026-01-01-rerun")
    report = run_tick(data_dir, now=later, notify=False)
    assert report.rows_ingested == len(late) == 120
    after = _windows(data_dir)
    assert after.loc[1, "computed_at"] == later
    assert after.loc[2, "computed_at"] == after.loc[3, "computed_at"] == NOW
    income = _profiles(data_dir, 1)["income"]
    assert isinstance(income, NumericProfile)
    assert income.n == PER_DAY + 120
    edges = _reference_profiles(data_dir)["income"]
    assert isinstance(edges, NumericProfile)
    x = np.concatenate([inputs.loc[inputs["ts"].dt.day == 1, "income"], late["income"]])
    np.testing.assert_array_equal(income.counts, _expected_counts(x, edges.binning.edges))
    null_share = export_frame(data_dir, "metrics", "m").query("column == 'region' and metric == 'null_share'")
    day1 = null_share[pd.to_datetime(null_share["window_start"]).dt.day == 1]
    region = pd.concat([inputs.loc[inputs["ts"].dt.day == 1, "region"], late["region"]])
    assert day1["value"].iloc[0] == pytest.approx(region.isna().mean(), abs=1e-12)

    # The pipeline re-delivers the same batch under the same key: taken in once, nothing moves.
    with Collector(data_dir.root) as c:
        c.log_inputs("m", late, idempotency_key="pipeline-2026-01-01-rerun")
    report = run_tick(data_dir, now=latest, notify=False)
    assert report.rows_ingested == 0
    again = _profiles(data_dir, 1)["income"]
    assert isinstance(again, NumericProfile)
    assert again.n == PER_DAY + 120
    np.testing.assert_array_equal(again.counts, income.counts)
    assert _windows(data_dir).loc[1, "computed_at"] == later


def _metrics(data: DataDir) -> pd.DataFrame:
    frame = export_frame(data, "metrics", "m")
    keys = ["window_start", "family", "metric", "column", "version", "experiment", "segment"]
    return frame.sort_values(keys).reset_index(drop=True)[[*keys, "value", "status", "n"]]


def test_inputs_in_pieces_equal_inputs_at_once(tmp_path: Path, rng: np.random.Generator) -> None:
    """Pieces cut across windows, inputs a tick behind predictions (features first profiled from the
    all-NULL prediction slots, then rebuilt from inputs): the same metrics as one tick of everything."""
    inputs, ref = _inputs(rng, 3), _reference(rng)
    preds = _predictions(rng, inputs)
    one, many = DataDir(tmp_path / "one").ensure(), DataDir(tmp_path / "many").ensure()
    with Collector(one.root) as c:
        c.log_reference("m", ref)
        c.log_predictions("m", preds)
        c.log_inputs("m", inputs)
    run_tick(one, now=NOW, notify=False)
    with Collector(many.root) as c:
        c.log_reference("m", ref)
    run_tick(many, now=NOW, notify=False)
    pred_parts = np.array_split(np.arange(len(preds)), 4)
    input_parts = np.array_split(np.arange(len(inputs)), 4)
    for i in range(5):
        with Collector(many.root) as c:
            if i < 4:
                c.log_predictions("m", preds.iloc[pred_parts[i]])
            if i > 0:
                c.log_inputs("m", inputs.iloc[input_parts[i - 1]])
        assert run_tick(many, now=NOW, notify=False).errors == []
    a, b = _metrics(one), _metrics(many)
    assert len(a) == len(b) and len(a) > 0
    pd.testing.assert_frame_equal(a.drop(columns=["value"]), b.drop(columns=["value"]))
    np.testing.assert_allclose(a["value"].to_numpy(float), b["value"].to_numpy(float), rtol=1e-9, atol=1e-9)


def test_a_column_predictions_start_to_carry_leaves_the_inputs(
    data_dir: DataDir, rng: np.random.Generator
) -> None:
    inputs = _inputs(rng, 3)
    preds = _predictions(rng, inputs)
    with Collector(data_dir.root) as c:
        c.log_reference("m", _reference(rng))
        c.log_predictions("m", preds[preds["ts"].dt.day <= 2])
        c.log_inputs("m", inputs)
    run_tick(data_dir, now=NOW, notify=False)
    first = _profiles(data_dir, 1)["income"]
    assert isinstance(first, NumericProfile) and first.n == PER_DAY
    day3 = preds[preds["ts"].dt.day == 3].copy()
    day3["income"] = rng.lognormal(10, 0.5, len(day3))
    with Collector(data_dir.root) as c:
        c.log_predictions("m", day3)  # the serving code now logs income too
    assert run_tick(data_dir, now=NOW, notify=False).errors == []
    for day in (1, 2, 3):
        income = _profiles(data_dir, day)["income"]
        assert isinstance(income, NumericProfile)
        # From the window's prediction rows alone (days 1-2 hold no income there), never mixed.
        assert income.n_rows == PER_DAY // 2
        assert income.n == (PER_DAY // 2 if day == 3 else 0)


def test_row_count_windows_leave_inputs_out(data_dir: DataDir, rng: np.random.Generator) -> None:
    inputs = _inputs(rng, 2)
    preds = _predictions(rng, inputs)
    with Collector(data_dir.root) as c:
        c.declare("m", window="rows:200")
        c.log_reference("m", _reference(rng))
        c.log_predictions("m", preds)
        c.log_inputs("m", inputs)
    report = run_tick(data_dir, now=NOW, notify=False)
    assert report.errors == [] and report.windows_computed == len(preds) // 200
    m = export_frame(data_dir, "metrics", "m")
    assert not m.empty
    assert not set(m["column"]) & {"income", "region"}
    ids = _col_ids(data_dir)
    wh = Warehouse(data_dir)
    try:
        profiled = {r[0] for r in wh.rows("SELECT DISTINCT col_id FROM profiles WHERE model = 'm'")}
    finally:
        wh.close()
    assert ids["score"] in profiled and ids["income"] not in profiled
