"""Raw rows where a KS bound straddles the decision: exact value stored, status follows it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from duckwatch import Collector
from duckwatch.calculators import drift_raw
from duckwatch.calculators.drift_raw import raw_rows_budget
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.metrics import drift
from duckwatch.metrics.drift_exact import (
    MAX_RAW_ROWS,
    ambiguous,
    bins_to_read,
    ks_raw_threshold,
    refine_cell,
    refine_ks,
)
from duckwatch.metrics.profile import NumericBinning, NumericProfile, profile_numeric
from duckwatch.readmodels.views import export_frame

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROWS_PER_DAY = 720  # one row every 2 minutes


def _window(day: int, x: np.ndarray) -> pd.DataFrame:
    ts = pd.date_range(f"2026-01-{day:02d}", periods=x.size, freq="2min", tz="UTC")
    return pd.DataFrame({"request_id": [f"d{day}r{i}" for i in range(x.size)], "ts": ts, "x": x})


def _draw(
    rng: np.random.Generator, ref_x: np.ndarray, pr: NumericProfile, shift: float, want: str
) -> np.ndarray:
    """A window of N(shift, 1) whose binned KS is: 'below'/'above' the bar, or 'straddle' (+ raw status)."""
    for _ in range(2000):
        x = rng.normal(size=ROWS_PER_DAY) + shift
        pc = profile_numeric(x, pr.binning)
        cell = drift.drift_cell(pr, pc)
        bar = max(cell.threshold, cell.floor)
        if want == "below" and cell.result.upper < bar and cell.p_value > 0.05:
            return x
        if want == "above" and cell.result.lower > bar and cell.p_value < 1e-6:
            return x
        if want.startswith("straddle") and ambiguous([cell], [(pr.n, pc.n)])[0]:
            exact = stats.ks_2samp(ref_x, x).statistic
            raw_bar = max(ks_raw_threshold(cell, pr.n, pc.n), cell.floor)
            if (exact >= raw_bar) == (want == "straddle_drift"):
                return x
    raise AssertionError(f"no {want} window found")


@pytest.mark.parametrize("read_ahead", [True, False])
@pytest.mark.parametrize(
    ("with_reference", "stream"),
    [(True, "predictions"), (False, "predictions"), (True, "inputs"), (False, "inputs")],
)
def test_straddling_window_is_decided_on_raw_rows(
    data_dir: DataDir, with_reference: bool, stream: str, read_ahead: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not read_ahead:  # each window's bins and the reference's read by their own queries
        monkeypatch.setattr(drift_raw, "PREFETCH_CELLS", 0)
        monkeypatch.setattr(drift_raw, "REFERENCE_CACHE_ROWS", 0)
    rng = np.random.default_rng(7)
    # Without reference data the first full windows (days 1-2, >= 1000 rows) become the reference.
    ref_x = rng.normal(size=4000 if with_reference else 2 * ROWS_PER_DAY)
    pr = profile_numeric(ref_x, NumericBinning.from_reference(ref_x))
    plan = {"below": 0.0, "above": 0.5, "straddle_ok": 0.1, "straddle_drift": 0.12}
    first = 1 if with_reference else 3
    windows = {first + i: _draw(rng, ref_x, pr, shift, want) for i, (want, shift) in enumerate(plan.items())}
    with Collector(data_dir.root) as c:
        # Windows of input batches (features logged without predictions) read their raw rows alike.
        log = c.log_inputs if stream == "inputs" else c.log_predictions
        if with_reference:
            c.log_reference("m", pd.DataFrame({"x": ref_x}))
        else:
            log("m", pd.concat([_window(1, ref_x[:ROWS_PER_DAY]), _window(2, ref_x[ROWS_PER_DAY:])]))
        log("m", pd.concat([_window(day, x) for day, x in windows.items()]))
    run_tick(data_dir, now=NOW, notify=False)
    m = export_frame(data_dir, "metrics", "m")
    ks_rows = m[(m["metric"] == "ks") & (m["column"] == "x")].copy()
    ks_rows["day"] = pd.to_datetime(ks_rows["window_start"]).dt.day
    got = ks_rows.set_index("day")
    for (want, _shift), day in zip(plan.items(), windows, strict=True):
        row = got.loc[day]
        if not want.startswith("straddle"):
            # Decided by the bound: no raw rows read, the binned method and bound stay.
            assert row["method"] == "binned_ecdf" and not row["exact"]
            assert row["status"] == ("warning" if want == "above" else "ok")
            continue
        exact = stats.ks_2samp(ref_x, windows[day]).statistic
        assert row["method"] == "ks (raw rows)" and row["exact"]
        assert abs(row["value"] - exact) <= 1e-12
        assert row["lower"] == row["value"] == row["upper"]
        assert row["status"] == ("warning" if want == "straddle_drift" else "ok")
        assert (row["value"] >= row["threshold"]) == (want == "straddle_drift")


def test_partial_read_keeps_a_rigorous_bound_and_full_read_is_scipy() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=5000), rng.normal(size=3000) + 0.05
    binning = NumericBinning.from_reference(ref)
    pr, pc = profile_numeric(ref, binning), profile_numeric(cur, binning)
    exact = stats.ks_2samp(ref, cur).statistic
    lower = drift.ks(pr, pc).lower
    rb, cb = binning.bin_index(ref), binning.bin_index(cur)

    def values(bins: list[int]) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        return {j: ref[rb == j] for j in bins}, {j: cur[cb == j] for j in bins}

    every = bins_to_read(pr, pc, lower, budget=10**9)
    full = refine_ks(pr, pc, *values(every))
    assert full.exact and abs(full.value - exact) <= 1e-12
    few = bins_to_read(pr, pc, lower, budget=200)  # ~1-4 bins of 50 reference rows each
    assert 0 < len(few) < len(every)
    part = refine_ks(pr, pc, *values(few))
    assert not part.exact and part.method.startswith("ks (raw rows in")
    assert lower <= part.lower <= exact + 1e-12 and exact <= part.upper <= drift.ks(pr, pc).upper


def test_raw_decisions_add_no_false_alarms_without_drift() -> None:
    """200 no-drift windows of 1,000 rows, 5 numeric columns, ambiguous cells decided on raw rows."""
    rng = np.random.default_rng(11)
    draws = [
        lambda n: rng.normal(size=n),
        lambda n: rng.lognormal(0, 1, n),
        lambda n: rng.exponential(size=n),
        lambda n: rng.standard_t(3, size=n),
        lambda n: rng.uniform(size=n),
    ]
    refs = [d(50_000) for d in draws]
    profiles = [profile_numeric(r, NumericBinning.from_reference(r)) for r in refs]
    ref_bins = [_by_bin(p, r) for p, r in zip(profiles, refs, strict=True)]
    flagged = resolved = 0
    windows = 200
    for _ in range(windows):
        cur = [d(1_000) for d in draws]
        pcs = [profile_numeric(x, p.binning) for x, p in zip(cur, profiles, strict=True)]
        cells = [drift.drift_cell(p, c) for p, c in zip(profiles, pcs, strict=True)]
        todo = ambiguous(cells, [(p.n, c.n) for p, c in zip(profiles, pcs, strict=True)])
        for i in np.flatnonzero(todo):
            refined = refine_ks(profiles[i], pcs[i], ref_bins[i], _by_bin(pcs[i], cur[i]))
            assert refined.exact
            cells[i] = refine_cell(cells[i], refined, profiles[i].n, pcs[i].n)
            resolved += 1
        flags = drift.decide(
            [c.value for c in cells],
            [c.p_value for c in cells],
            [c.threshold for c in cells],
            [c.floor for c in cells],
        )
        flagged += int(flags.sum())
    assert flagged / (windows * len(draws)) <= 0.02
    assert resolved > 0  # the fallback did run on some cells


def _by_bin(profile: NumericProfile, x: np.ndarray) -> dict[int, np.ndarray]:
    idx = profile.binning.bin_index(x)
    return {j: x[idx == j] for j in range(profile.binning.n_bins)}


def test_raw_rows_budget_from_meta() -> None:
    assert raw_rows_budget({}) == MAX_RAW_ROWS
    assert raw_rows_budget({"drift_raw_max_rows": 0}) == 0  # off: bounds decide, as before
    assert raw_rows_budget({"drift_raw_max_rows": "1000000"}) == 1_000_000
    assert raw_rows_budget({"drift_raw_max_rows": "lots"}) == MAX_RAW_ROWS


@pytest.mark.parametrize("seed", range(12))
def test_full_read_is_scipy_with_ties_and_small_windows(seed: int) -> None:
    """Only the turning points of each bin are evaluated: the maximum is still scipy's, with many tied
    values, windows far smaller than the reference, and bins one side leaves empty."""
    rng = np.random.default_rng(seed)
    ref = np.round(rng.gamma(2.0, size=4000), int(rng.integers(0, 3)))
    cur = np.round(rng.gamma(2.0, size=int(rng.integers(5, 400))) * rng.uniform(0.8, 1.3), 1)
    binning = NumericBinning.from_reference(ref)
    pr, pc = profile_numeric(ref, binning), profile_numeric(cur, binning)
    rb, cb = binning.bin_index(ref), binning.bin_index(cur)
    bins = sorted(set(rb.tolist()) | set(cb.tolist()))
    full = refine_ks(pr, pc, {j: ref[rb == j] for j in bins}, {j: cur[cb == j] for j in bins})
    assert abs(full.value - stats.ks_2samp(ref, cur).statistic) <= 1e-12
