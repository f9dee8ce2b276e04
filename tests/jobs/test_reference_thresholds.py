"""Reference-based default thresholds, end to end: SDK, real ticks, alerts in the settings store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import refthr_scenario as sc

from duckwatch.config import DataDir
from duckwatch.store import alerting
from duckwatch.store.incidents import list_alerts
from duckwatch.store.settings import Settings


def _dir(tmp_path: Path) -> DataDir:
    data = DataDir(tmp_path / "d").ensure()
    Settings(data.settings).schema_version()
    return data


@pytest.fixture(scope="module")
def drop() -> dict[str, float]:
    """The label_beta and the input spread that take the population's ROC AUC 3 standard errors (of one
    window) below the reference's."""
    target = sc.true_auc() - 3 * sc.auc_se(sc.WINDOW_ROWS)
    return {"label_beta": sc.solve(target, "label_beta"), "spread": sc.solve(target, "spread")}


def test_a_model_worse_than_its_reference_alerts_in_its_first_window(tmp_path: Path) -> None:
    data = _dir(tmp_path)
    sc.log_model(data, np.random.default_rng(11), [{"label_beta": 0.8}] * 2)
    sc.tick(data, 2)
    for metric in ("roc_auc", "accuracy"):
        assert sc.first_alert_window(data, metric) == 0, metric
    auc = sc.alerts_of(data, "roc_auc")[0]
    assert auc["severity"] == "critical" and auc["policy"] == "annotate"
    assert auc["baseline"] == pytest.approx(sc.true_auc(), abs=0.02)  # the reference's AUC
    assert "standard errors from the reference" in auc["details"]["note"]


def test_realised_auc_drop_of_three_standard_errors_alerts_within_two_windows(
    tmp_path: Path, drop: dict[str, float]
) -> None:
    """Four models, each 2 healthy windows then 2 with the drop (the concept moved: scores alone cannot
    see it). The rule catches such a drop within two windows ~89% of the time with a reference 10x a
    window (tests/metrics/test_reference_band.py measures it): at least 3 of the 4 here."""
    data = _dir(tmp_path)
    caught = []
    for k in range(4):
        windows = [{}, {}, {"label_beta": drop["label_beta"]}, {"label_beta": drop["label_beta"]}]
        sc.log_model(data, np.random.default_rng(100 + k), windows, model=f"m{k}")
    sc.tick(data, 4)
    for k in range(4):
        found = [a for a in list_alerts(Settings(data.settings), f"m{k}") if a["metric"] == "roc_auc"]
        starts = sorted(str(a["since"]) for a in found)
        assert not [s for s in starts if s < sc.window(2).isoformat()], starts  # no false alarm before
        caught.append(bool(starts))
        estimated = [a for a in list_alerts(Settings(data.settings), f"m{k}") if a["family"] == "estimate"]
        assert not estimated  # the scores did not move: the estimate rightly stays quiet
    assert sum(caught) >= 3, caught


def test_estimated_auc_alerts_when_the_drop_comes_with_an_input_shift(
    tmp_path: Path, drop: dict[str, float]
) -> None:
    data = _dir(tmp_path)
    windows = [{}, {}, {"spread": drop["spread"]}, {"spread": drop["spread"]}]
    sc.log_model(data, np.random.default_rng(12), windows)
    sc.tick(data, 4)
    assert sc.first_alert_window(data, "estimated_roc_auc") in (2, 3)
    alert = sc.alerts_of(data, "estimated_roc_auc")[0]
    assert alert["policy"] == "annotate" and alert["family"] == "estimate"


def test_a_healthy_model_rarely_warns(tmp_path: Path) -> None:
    """60 healthy hourly windows, the 10 metrics the reference defaults judge. One model has one
    reference, whose own sampling error every window shares, so one run's rate scatters around the
    rule's: 9 warnings in 600 metric-windows here (1.5%), none critical; over 40 references the rate is
    0.57% (tests/metrics/test_reference_band.py)."""
    data = _dir(tmp_path)
    sc.log_model(data, np.random.default_rng(13), [{}] * 60)
    sc.tick(data, 60)
    rows = sc.judged_rows(data)
    judged = {t.metric for t in alerting.list_thresholds(Settings(data.settings)) if t.kind == "reference"}
    banded = rows[rows["details"].fillna("").str.contains('"reference"') & rows["metric"].isin(judged)]
    per_metric = banded.groupby("metric").size()
    assert len(per_metric) == 10 and (per_metric == 60).all(), per_metric
    breaches = banded["status"].isin(["warning", "critical"])
    print(f"false alarms: {int(breaches.sum())} of {len(banded)} metric-windows ({breaches.mean():.2%})")
    assert breaches.mean() <= 0.02
    assert not (banded["status"] == "critical").any()  # nothing pages at once


def test_a_persons_threshold_and_one_managed_in_code_win_over_the_default(tmp_path: Path) -> None:
    data = _dir(tmp_path)
    settings = Settings(data.settings)
    sc.log_model(data, np.random.default_rng(11), [{"label_beta": 0.8}] * 2)
    alerting.replace_model_thresholds(
        settings, "m",
        [{"family": "performance", "metric": "accuracy", "kind": "absolute", "direction": "below",
          "warning": 0.5}],
        actor="ci", role="editor", reason="monitors file",
    )  # fmt: skip
    alerting.create_threshold(
        settings, actor="pm", role="editor", reason="AUC above 0.6 is fine for us", model="m",
        family="performance", metric="roc_auc", kind="absolute", direction="below", warning=0.6,
    )  # fmt: skip
    sc.tick(data, 2)
    assert sc.alerts_of(data, "roc_auc") == [] and sc.alerts_of(data, "accuracy") == []
    assert sc.first_alert_window(data, "pr_auc") == 0  # the defaults still judge the rest


def test_without_labels_in_the_reference_the_relative_default_judges(tmp_path: Path) -> None:
    data = _dir(tmp_path)
    rng = np.random.default_rng(14)
    sc.log_model(data, rng, [{}] * 4 + [{"label_beta": 0.5}] * 2, reference_labels=False)
    sc.tick(data, 6)
    rows = sc.judged_rows(data)
    assert not rows["details"].fillna("").str.contains('"reference"').any()
    relative = {t.id for t in alerting.list_thresholds(Settings(data.settings)) if t.kind == "relative"}
    found = sc.alerts_of(data, "roc_auc")
    assert found and found[0]["threshold_id"] in relative
    # Fired at window 5 (2 of the last 3 windows below the 4 before), since window 4.
    assert sc.first_alert_window(data, "roc_auc") == 4
    assert str(found[-1]["window_start"]).startswith(sc.window(5).isoformat()[:19])


def test_the_upgrade_leaves_a_default_a_person_edited_to_rule_alone(tmp_path: Path) -> None:
    """Migration 0010 on a store whose ROC AUC default a person had edited: no reference default for it
    (theirs keeps judging), the others arrive."""
    path = tmp_path / "s.sqlite"
    Settings(path).schema_version()
    con = sqlite3.connect(path)
    con.execute("DELETE FROM thresholds WHERE kind = 'reference'")  # the store as before 0010
    con.execute(
        "UPDATE thresholds SET warning = -0.02, updated_at = '2026-01-01' WHERE metric = 'roc_auc' AND model = '*'"
    )
    con.execute("DELETE FROM schema_version WHERE version = 10")
    con.commit()
    con.close()
    settings = Settings(path)
    settings.schema_version()
    kinds = {(t.metric, t.kind) for t in alerting.list_thresholds(settings)}
    assert ("accuracy", "reference") in kinds and ("roc_auc", "reference") not in kinds
    assert [t.warning for t in alerting.list_thresholds(settings) if t.metric == "roc_auc"] == [-0.02]
