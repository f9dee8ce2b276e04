"""Label drift: each window's labels against the reference's labels, through the SDK and a tick."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp

from duckwatch import Collector
from duckwatch.calculators.label_drift import MIN_LABELLED
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import export_frame
from duckwatch.store.published import query
from duckwatch.store.settings import Settings

LATE = datetime(2026, 3, 1, tzinfo=UTC)  # the 720 h label horizon of January windows has passed
DAY_A, DAY_B = "2026-01-01", "2026-01-02"


def _dir(tmp_path: Path, name: str) -> DataDir:
    data = DataDir(tmp_path / name).ensure()
    Settings(data.settings).schema_version()
    return data


def _exact_share(rng: np.random.Generator, n: int, positives: int) -> np.ndarray:
    return rng.permutation(np.r_[np.ones(positives, dtype=int), np.zeros(n - positives, dtype=int)])


def _predictions(rng: np.random.Generator, day: str, n: int, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "ts": pd.date_range(day, periods=n, freq="3min", tz="UTC"),
            "x": rng.normal(size=n),
            "score": rng.random(n),
        }
    )


def _label_rows(data: DataDir, model: str = "m") -> pd.DataFrame:
    m = export_frame(data, "metrics", model)
    return m[(m["family"] == "drift") & (m["column"] == "label")].reset_index(drop=True)


def _row(rows: pd.DataFrame, day: str, metric: str) -> pd.Series:
    hit = rows[
        (pd.to_datetime(rows["window_start"]) == pd.Timestamp(day, tz="UTC")) & (rows["metric"] == metric)
    ]
    assert len(hit) == 1, (day, metric, rows[["window_start", "metric"]])
    return hit.iloc[0]


def _details(data: DataDir, day: str, metric: str, model: str = "m") -> dict[str, Any]:
    found = query(
        data,
        model,
        "SELECT details FROM metric_results WHERE col = 'label' AND family = 'drift' AND metric = ? "
        "AND window_start = ?",
        [metric, pd.Timestamp(day, tz="UTC").to_pydatetime()],
    )
    assert len(found) == 1
    out: dict[str, Any] = json.loads(found["details"].iloc[0])
    return out


def _binary_case(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Reference 400/2000 positives (20%); window A 80/400 (20%), window B 180/400 (45%)."""
    ref = pd.DataFrame(
        {"x": rng.normal(size=2000), "score": rng.random(2000), "label": _exact_share(rng, 2000, 400)}
    )
    pred = pd.concat(
        [_predictions(rng, DAY_A, 400, "a"), _predictions(rng, DAY_B, 400, "b")], ignore_index=True
    )
    labels = np.r_[_exact_share(rng, 400, 80), _exact_share(rng, 400, 180)]
    out = pd.DataFrame({"request_id": pred["request_id"], "label": labels})
    return ref, pred, out


def test_binary_label_drift_known_answer(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, pred, out = _binary_case(rng)
    data = _dir(tmp_path, "d")
    older = ref.assign(label=_exact_share(rng, 2000, 1000))  # an earlier reference version: 50%
    with Collector(data.root) as c:
        c.declare("m", task="binary")
        c.log_reference("m", older, version="v1")
        c.log_reference("m", ref, version="v2")  # the latest version is the reference
        c.log_predictions("m", pred)
        c.log_outcomes("m", out)
    run_tick(data, now=LATE, notify=False)
    rows = _label_rows(data)
    a, b = _row(rows, DAY_A, "js_distance"), _row(rows, DAY_B, "js_distance")
    assert a["status"] == "ok" and b["status"] == "warning"
    assert a["n"] == 400 and b["n"] == 400
    assert not a["provisional"] and not b["provisional"]
    assert "reference's labels" in b["method"]
    assert a["value"] == pytest.approx(jensenshannon([0.8, 0.2], [0.8, 0.2], base=2), abs=1e-12)
    assert b["value"] == pytest.approx(jensenshannon([0.8, 0.2], [0.55, 0.45], base=2), abs=1e-12)
    details = _details(data, DAY_B, "js_distance")
    assert b["threshold"] == pytest.approx(max(details["null_threshold"], details["floor"]), abs=1e-15)
    assert details["floor"] == 0.05
    # chi2: Cramér's V with the contingency test's p-value (no continuity correction, as its method says).
    table = np.array([[1600, 400], [220, 180]])
    test = chi2_contingency(table, correction=False)
    chi2_b = _row(rows, DAY_B, "chi2")
    assert chi2_b["value"] == pytest.approx(math.sqrt(test.statistic / table.sum()), abs=1e-12)
    assert _details(data, DAY_B, "chi2")["p_value"] == pytest.approx(test.pvalue, rel=1e-9, abs=1e-300)
    assert details["p_value"] == pytest.approx(test.pvalue, rel=1e-9, abs=1e-300)  # it decides with it
    assert set(rows[pd.to_datetime(rows["window_start"]) == pd.Timestamp(DAY_B, tz="UTC")]["metric"]) == {
        "js_distance", "chi2", "psi", "linf", "hellinger"
    }  # fmt: skip
    # linf: the positive share moved 25 points.
    assert _row(rows, DAY_B, "linf")["value"] == pytest.approx(0.25, abs=1e-12)


def test_late_labels_and_yes_no_labels_give_the_same_values(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, pred, out = _binary_case(rng)
    at_once, late, words = _dir(tmp_path, "once"), _dir(tmp_path, "late"), _dir(tmp_path, "words")
    with Collector(at_once.root) as c:  # labels logged with the predictions, one tick
        c.declare("m", task="binary")
        c.log_reference("m", ref)
        c.log_predictions("m", pred)
        c.log_outcomes("m", out)
    run_tick(at_once, now=LATE, notify=False)
    with Collector(late.root) as c:
        c.declare("m", task="binary")
        c.log_reference("m", ref)
        c.log_predictions("m", pred)
    run_tick(late, now=LATE, notify=False)
    assert _label_rows(late).empty  # no labels yet: no label drift
    for part in np.array_split(rng.permutation(len(out)), 3):  # late, out of order, joined by id
        with Collector(late.root) as c:
            c.log_outcomes("m", out.iloc[np.sort(part)])
        run_tick(late, now=LATE, notify=False)
    # "yes"/"no" outcomes against a 1/0 reference (the label column declared categorical, so both
    # streams keep their text), with the positive label named.
    yes_no = out.assign(label=np.where(out["label"] == 1, "yes", "no"))
    with Collector(words.root) as c:
        c.declare("m", task="binary", positive_label="yes", label="label", categorical=["label"])
        c.log_reference("m", ref)
        c.log_predictions("m", pred)
        c.log_outcomes("m", yes_no)
    run_tick(words, now=LATE, notify=False)
    # Words the positive-label rule only knows from the model's setting ("yes" it knows anyway).
    named = _dir(tmp_path, "named")
    with Collector(named.root) as c:
        c.declare("m", task="binary", positive_label="bad", label="label", categorical=["label"])
        c.log_reference("m", ref.assign(label=np.where(ref["label"] == 1, "bad", "good")))
        c.log_predictions("m", pred)
        c.log_outcomes("m", out.assign(label=np.where(out["label"] == 1, "bad", "good")))
    run_tick(named, now=LATE, notify=False)
    keys = ["window_start", "metric"]
    first = _label_rows(at_once).sort_values(keys).reset_index(drop=True)
    assert len(first) == 10
    for other in (_label_rows(late), _label_rows(words), _label_rows(named)):
        other = other.sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(first[[*keys, "status", "n"]], other[[*keys, "status", "n"]])
        np.testing.assert_allclose(other["value"].to_numpy(float), first["value"].to_numpy(float), rtol=1e-12)
    assert set(first[first["metric"] == "js_distance"]["status"]) == {"ok", "warning"}


def test_regression_labels_ks_bound_contains_the_exact_statistic(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    ref_y = rng.normal(10.0, 2.0, 3000)
    pred = pd.concat(
        [_predictions(rng, DAY_A, 300, "a"), _predictions(rng, DAY_B, 300, "b")], ignore_index=True
    )
    pred["prediction"] = rng.normal(10.0, 2.0, len(pred))
    win_a, win_b = rng.normal(10.0, 2.0, 300), rng.normal(11.0, 2.0, 300)  # B: the mean moved 0.5 sd
    data = _dir(tmp_path, "r")
    with Collector(data.root) as c:
        c.declare("m", task="regression")
        c.log_reference("m", pd.DataFrame({"x": rng.normal(size=3000), "prediction": ref_y, "label": ref_y}))
        c.log_predictions("m", pred.drop(columns=["score"]))
        c.log_outcomes("m", pd.DataFrame({"request_id": pred["request_id"], "label": np.r_[win_a, win_b]}))
    run_tick(data, now=LATE, notify=False)
    rows = _label_rows(data)
    for day, window, status in ((DAY_A, win_a, "ok"), (DAY_B, win_b, "warning")):
        ks = _row(rows, day, "ks")
        exact = ks_2samp(ref_y, window).statistic
        assert ks["lower"] - 1e-12 <= exact <= ks["upper"] + 1e-12
        assert ks["status"] == status and ks["n"] == 300
    assert {"ks", "wasserstein_norm", "psi", "js_distance"} == set(rows["metric"])


def test_multiclass_labels_with_an_unseen_class(tmp_path: Path, rng: np.random.Generator) -> None:
    ref_y = np.repeat(["a", "b", "c"], [500, 300, 200])
    win_y = np.repeat(["a", "b", "c", "d"], [40, 30, 20, 10])
    pred = _predictions(rng, DAY_A, 100, "a")
    pred["prediction"] = rng.choice(["a", "b", "c"], 100)
    data = _dir(tmp_path, "mc")
    with Collector(data.root) as c:
        c.declare("m", task="multiclass")
        c.log_reference("m", pd.DataFrame({"x": rng.normal(size=1000), "label": rng.permutation(ref_y)}))
        c.log_predictions("m", pred.drop(columns=["score"]))
        c.log_outcomes("m", pd.DataFrame({"request_id": pred["request_id"], "label": rng.permutation(win_y)}))
    run_tick(data, now=LATE, notify=False)
    js = _row(_label_rows(data), DAY_A, "js_distance")
    # Categories [a, b, c, other, unseen]: "d" was never in the reference.
    expected = jensenshannon([0.5, 0.3, 0.2, 0.0, 0.0], [0.4, 0.3, 0.2, 0.0, 0.1], base=2)
    assert js["value"] == pytest.approx(expected, abs=1e-12)
    assert js["n"] == 100


def test_provisional_until_the_label_horizon_passed(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, pred, out = _binary_case(rng)
    data = _dir(tmp_path, "p")
    with Collector(data.root) as c:
        c.declare("m", task="binary", label_horizon_hours=48)
        c.log_reference("m", ref)
        c.log_predictions("m", pred)
        c.log_outcomes("m", out)
    run_tick(data, now=datetime(2026, 1, 3, 12, tzinfo=UTC), notify=False)  # A ends Jan 2: 36 h ago
    early = _label_rows(data)
    assert not early.empty and early["provisional"].all()
    value = _row(early, DAY_B, "js_distance")["value"]
    # Nothing new arrived: the matured horizon alone recomputes window A.
    run_tick(data, now=datetime(2026, 1, 4, 1, tzinfo=UTC), notify=False)
    later = _label_rows(data)
    a = later[pd.to_datetime(later["window_start"]) == pd.Timestamp(DAY_A, tz="UTC")]
    b = later[pd.to_datetime(later["window_start"]) == pd.Timestamp(DAY_B, tz="UTC")]
    assert len(a) == 5 and not a["provisional"].any()  # A ended 49 h ago: its labels are final
    assert len(b) == 5 and b["provisional"].all()  # B ended 25 h ago
    assert _row(later, DAY_B, "js_distance")["value"] == pytest.approx(value, abs=1e-12)


def test_no_reference_labels_no_row(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, pred, out = _binary_case(rng)
    without, none = _dir(tmp_path, "without"), _dir(tmp_path, "none")
    with Collector(without.root) as c:  # a reference without the label column
        c.declare("m", task="binary")
        c.log_reference("m", ref.drop(columns=["label"]))
        c.log_predictions("m", pred)
        c.log_outcomes("m", out)
    with Collector(none.root) as c:  # no reference stream at all
        c.declare("m", task="binary")
        c.log_predictions("m", pred)
        c.log_outcomes("m", out)
    for data in (without, none):
        run_tick(data, now=LATE, notify=False)
        m = export_frame(data, "metrics", "m")
        assert (m["metric"] == "label_coverage").any()  # the windows were computed, with labels
        assert _label_rows(data).empty


def test_too_few_labelled_rows_no_row(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, pred, out = _binary_case(rng)
    # Window A: one label short of the minimum; window B: exactly the minimum.
    keep = np.r_[np.arange(MIN_LABELLED - 1), 400 + np.arange(MIN_LABELLED)]
    data = _dir(tmp_path, "few")
    with Collector(data.root) as c:
        c.declare("m", task="binary")
        c.log_reference("m", ref)
        c.log_predictions("m", pred)
        c.log_outcomes("m", out.iloc[keep])
    run_tick(data, now=LATE, notify=False)
    rows = _label_rows(data)
    assert set(pd.to_datetime(rows["window_start"])) == {pd.Timestamp(DAY_B, tz="UTC")}
    assert _row(rows, DAY_B, "js_distance")["n"] == MIN_LABELLED


def test_missing_labels_count_as_negative_once_the_horizon_passed(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    ref, pred, out = _binary_case(rng)
    data = _dir(tmp_path, "neg")
    with Collector(data.root) as c:  # only positives are ever reported (e.g. defaults)
        c.declare("m", task="binary", label_horizon_hours=48, missing_label_is_negative=True)
        c.log_reference("m", ref)
        c.log_predictions("m", pred)
        c.log_outcomes("m", out[out["label"] == 1])
    run_tick(data, now=datetime(2026, 1, 3, 12, tzinfo=UTC), notify=False)
    assert _label_rows(data).empty  # before the horizon the known labels are all positive: no row
    run_tick(data, now=datetime(2026, 1, 4, 1, tzinfo=UTC), notify=False)
    rows = _label_rows(data)
    a = _row(rows, DAY_A, "js_distance")
    assert set(pd.to_datetime(rows["window_start"])) == {pd.Timestamp(DAY_A, tz="UTC")}
    assert a["n"] == 400 and not a["provisional"]  # every prediction counts, 80 positives
    assert a["value"] == pytest.approx(jensenshannon([0.8, 0.2], [0.8, 0.2], base=2), abs=1e-12)
    assert _row(rows, DAY_A, "linf")["value"] == pytest.approx(0.0, abs=1e-12)
