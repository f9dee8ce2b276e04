"""Segments where the model got worse, end to end through the SDK and a tick."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from duckwatch import Collector
from duckwatch.calculators.segments import refine_from_rows
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.metrics.drift import drift_cell
from duckwatch.metrics.drift_exact import ambiguous
from duckwatch.metrics.profile import NumericBinning, profile_numeric
from duckwatch.readmodels.views import export_frame

NOW = datetime(2026, 3, 1, tzinfo=UTC)
REGIONS = np.array(["north", "south", "east", "west"])


def _frame(
    rng: np.random.Generator, n: int, weights: list[float], broken: str | None, start: str | None
) -> pd.DataFrame:
    region = rng.choice(REGIONS, n, p=weights)
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-2 * x))
    label = (rng.uniform(size=n) < score).astype(int)
    if broken is not None:  # the model is wrong much more often in one region
        flip = (region == broken) & (rng.uniform(size=n) < 0.35)
        label = np.where(flip, 1 - label, label)
    df = pd.DataFrame(
        {"id": [f"r{i}" for i in range(n)], "region": region, "x": x, "score": score, "label": label}
    )
    if start is not None:
        df["ts"] = pd.date_range(start, periods=n, freq="20s", tz="UTC")
    return df


def _run(data: DataDir, rng: np.random.Generator, weights: list[float], broken: str | None) -> pd.DataFrame:
    ref = _frame(rng, 20_000, [0.25] * 4, None, None).drop(columns=["id"])
    cur = _frame(rng, 4_000, weights, broken, "2026-01-01")
    with Collector(data.root) as c:
        c.declare("m", id="id", timestamp="ts", scores=["score"], label="label", segments=["region"])
        c.log_reference("m", ref)
        c.log_predictions("m", cur.drop(columns=["label"]))
        c.log_outcomes("m", cur[["id", "label"]])
    run_tick(data, now=NOW, notify=False)
    m = export_frame(data, "metrics", "m")
    return m[m["family"] == "segment"]


def test_only_the_degraded_segment_is_reported_and_ranked_first(data_dir: DataDir) -> None:
    seg = _run(data_dir, np.random.default_rng(1), [0.25] * 4, broken="south")
    assert not seg.empty
    flagged = seg[seg["status"] != "ok"]
    assert set(flagged["segment"]) == {"region=south"}
    single = seg[seg["column"] == "region"].sort_values("value", ascending=False)
    assert single.iloc[0]["segment"] == "region=south"


def test_a_shift_in_segment_mix_alone_is_not_a_segment_problem(data_dir: DataDir) -> None:
    seg = _run(data_dir, np.random.default_rng(2), [0.7, 0.1, 0.1, 0.1], broken=None)
    assert not seg.empty
    assert (seg["status"] == "ok").all()


def test_output_drift_is_reported_per_segment_only_where_it_happened(data_dir: DataDir) -> None:
    rng = np.random.default_rng(4)
    ref = _frame(rng, 20_000, [0.25] * 4, None, None).drop(columns=["id"])
    cur = _frame(rng, 4_000, [0.4, 0.2, 0.2, 0.2], None, "2026-01-01")
    north = cur["region"] == "north"
    cur.loc[north, "score"] = np.clip(cur.loc[north, "score"] + 0.25, 0, 1)  # scores moved in one region
    with Collector(data_dir.root) as c:
        c.declare("m", id="id", timestamp="ts", scores=["score"], label="label", segments=["region"])
        c.log_reference("m", ref)
        c.log_predictions("m", cur.drop(columns=["label"]))
        c.log_outcomes("m", cur[["id", "label"]])
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    drift = m[(m["family"] == "segment") & m["metric"].str.startswith("score_")]
    assert set(drift["segment"]) == {"region=north", "region=south", "region=east", "region=west"}
    assert set(drift.loc[drift["status"] != "ok", "segment"]) == {"region=north"}


def test_an_undecided_segment_ks_is_decided_on_the_exact_statistic_from_raw_rows() -> None:
    # Coarse bins (10 deciles) leave the binned KS a wide bound; a small shift puts the no-drift bar
    # inside it. Only such cells are recomputed, and then equal scipy's statistic on the raw scores.
    rng = np.random.default_rng(11)
    ref = rng.normal(size=4_000)
    binning = NumericBinning.from_reference(ref, bins=10)
    pr = profile_numeric(ref, binning)
    found = None
    for shift in np.linspace(0.0, 0.3, 61):
        cur = rng.normal(shift, 1.0, 3_000)
        pc = profile_numeric(cur, binning)
        cell = drift_cell(pr, pc)
        if cell.metric == "ks" and ambiguous([cell], [(pr.n, pc.n)])[0]:
            found = (cell, pc, cur)
            break
    assert found is not None, "no shift gave an undecided KS bound"
    cell, pc, cur = found
    far = rng.normal(1.0, 1.0, 3_000)  # drifted beyond doubt: flagged at both ends of its bound
    pf = profile_numeric(far, binning)
    plain = drift_cell(pr, pf)
    out = refine_from_rows([cell, plain], [(pr, pc, ref, cur), (pr, pf, ref, far)])
    assert out[1] is plain
    assert out[0].result.exact and out[0].result.method == "ks (raw rows)"
    assert out[0].value == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert cell.result.lower <= out[0].value <= cell.result.upper
