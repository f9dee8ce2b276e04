"""Per-process caches built from the reference follow the data dir and the settings a running job sees change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.calculators import outcomes
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse


def _reference(rng: np.random.Generator, n: int, power: float) -> pd.DataFrame:
    score = rng.uniform(0.01, 0.99, n)
    hit = rng.uniform(size=n) < score**power  # P(yes | score)
    return pd.DataFrame({"score": score, "label": np.where(hit, "yes", "no")})


def _mean_at(data: DataDir, scores: list[float]) -> np.ndarray:
    info = catalog.get_model(Settings(data.settings), "m")
    assert info is not None
    wh = Warehouse(data)
    try:
        cal = outcomes.fit_calibrator(wh, info, catalog.get_columns(Settings(data.settings), "m"))
    finally:
        wh.close()
    assert cal is not None
    return cal.transform(scores)


def _dir(root: Path, name: str, ref: pd.DataFrame, positive: str) -> DataDir:
    data = DataDir(root / name).ensure()
    Settings(data.settings).schema_version()
    with Collector(data.root) as c:
        c.declare("m", task="binary", positive_label=positive, categorical=["label"])
        c.log_reference("m", ref, scores="score", label="label")
    run_tick(data, notify=False)  # ingests the reference and fits the calibrator
    return data


def test_two_data_dirs_and_a_new_positive_label_each_get_their_own_fit(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    # Same model name, same reference size (so the same reference stamp), different relations.
    calibrated = _dir(tmp_path, "a", _reference(rng, 4000, 1.0), "yes")
    overconfident = _dir(tmp_path, "b", _reference(rng, 4000, 4.0), "yes")
    assert abs(_mean_at(calibrated, [0.5])[0] - 0.5) < 0.1
    assert abs(_mean_at(overconfident, [0.5])[0] - 0.5**4) < 0.1  # its own fit, not the first dir's
    # The positive label renamed in the same process: P(no | score) = 1 - score falls with the
    # score, so the monotone fit is flat at the share of "no" (~0.5) instead of rising to ~0.9.
    with Collector(calibrated.root) as c:
        c.declare("m", task="binary", positive_label="no", categorical=["label"])
    assert abs(_mean_at(calibrated, [0.9])[0] - 0.5) < 0.1


def test_a_named_positive_label_counts_alone() -> None:
    """The usual words count together; a label named outside them turns "yes" into a negative."""
    from duckwatch.calculators.labels import binary

    words = pd.Series(["yes", "no", "YES ", None, "true", "1"])
    assert np.array_equal(binary(words, "1"), [1, 0, 1, np.nan, 1, 1], equal_nan=True)
    assert np.array_equal(binary(words, "no"), [0, 1, 0, np.nan, 0, 0], equal_nan=True)
    assert np.array_equal(binary(pd.Series([1, 0, 1]), "1"), [1, 0, 1])
    assert np.array_equal(binary(pd.Series([1.0, 0.0, np.nan]), "0"), [0, 1, np.nan], equal_nan=True)


def test_an_edited_value_matrix_is_seen_by_a_running_job(tmp_path: Path, rng: np.random.Generator) -> None:
    """The reference's value per prediction (the baseline of value at stake) follows the matrix."""
    from duckwatch.calculators.value import reference_value_per_prediction

    ref = _reference(rng, 3000, 1.0)
    data = _dir(tmp_path, "v", ref, "yes")
    y = (ref["label"] == "yes").to_numpy()
    p = ref["score"].to_numpy() >= 0.5
    counts = {
        "tp": int(np.sum(y & p)),
        "fp": int(np.sum(~y & p)),
        "tn": int(np.sum(~y & ~p)),
        "fn": int(np.sum(y & ~p)),
    }

    def baseline(matrix: dict[str, float]) -> float:
        with Collector(data.root) as c:
            c.declare("m", value_matrix=matrix)
        info = catalog.get_model(Settings(data.settings), "m")
        assert info is not None
        wh = Warehouse(data)
        try:
            return reference_value_per_prediction(wh, info, catalog.get_columns(Settings(data.settings), "m"))
        finally:
            wh.close()

    for matrix in ({"tp": 10, "fp": -1, "tn": 0, "fn": -5}, {"tp": 1, "fp": -20, "tn": 2, "fn": 0}):
        want = sum(matrix[k] * counts[k] for k in counts) / len(ref)
        assert baseline(matrix) == pytest.approx(want, rel=1e-12)
    # The entry of the first matrix is dropped, not kept for the life of the job loop.
    from duckwatch.calculators import value

    assert [k[:2] for k in value._BASELINE].count((str(data.root), "m")) == 1
