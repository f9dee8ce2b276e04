"""Quality checks, plus end-to-end decisions: no false alarms without drift, exactly the drifted columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from duckwatch.metrics import drift, quality, registry
from duckwatch.metrics.profile import (
    CategoricalProfile,
    CategoricalVocabulary,
    NumericBinning,
    NumericProfile,
    profile_categorical,
    profile_numeric,
)

SEED = 11


def numeric(
    ref: np.ndarray, cur: np.ndarray, cur_null: np.ndarray | None = None, specials: tuple[float, ...] = ()
):  # type: ignore[no-untyped-def]
    b = NumericBinning.from_reference(ref, specials=specials)
    return profile_numeric(ref, b), profile_numeric(cur, b, null_mask=cur_null)


def test_share_change_threshold_is_binomial_with_floor() -> None:
    assert quality.share_change_threshold(0.0, 1_000) == quality.DEFAULT_SHARE_FLOOR
    t = quality.share_change_threshold(0.3, 200)
    assert t == pytest.approx(stats.binom.ppf(0.999, 200, 0.3) / 200 - 0.3)
    assert t > quality.DEFAULT_SHARE_FLOOR
    assert quality.share_change_threshold(0.3, 10_000_000) == quality.DEFAULT_SHARE_FLOOR
    assert np.isnan(quality.share_change_threshold(0.1, 0))


def test_null_rate_jump_is_flagged_and_noise_is_not() -> None:
    rng = np.random.default_rng(SEED)
    ref_p, cur_p = numeric(rng.normal(size=10_000), rng.normal(size=1_000), rng.random(1_000) < 0.2)
    res = quality.null_share(ref_p, cur_p)
    assert res.flagged and res.reference == 0.0 and 0.15 < res.value < 0.25
    _, noisy = numeric(rng.normal(size=10_000), rng.normal(size=1_000), rng.random(1_000) < 0.005)
    assert not quality.null_share(ref_p, noisy).flagged


def test_nan_inf_special_and_out_of_range_shares() -> None:
    rng = np.random.default_rng(SEED)
    ref = np.where(rng.random(10_000) < 0.1, -1.0, rng.normal(size=10_000))
    cur = np.concatenate([rng.normal(size=900), [np.nan] * 50, [np.inf] * 30, [1e6] * 20])
    ref_p, cur_p = numeric(ref, cur, specials=(-999999.0,))
    assert quality.nan_share(ref_p, cur_p).value == pytest.approx(0.05)
    assert quality.nan_share(ref_p, cur_p).flagged
    assert quality.inf_share(ref_p, cur_p).value == pytest.approx(0.03)
    out = quality.out_of_range_share(ref_p, cur_p)
    assert out.value == pytest.approx(20 / 920) and out.flagged
    specials = {r.detail: r for r in quality.special_share(ref_p, cur_p)}
    assert set(specials) == {"-999999.0", "-1.0"}
    assert specials["-1.0"].reference == pytest.approx(np.mean(ref == -1.0))
    assert specials["-1.0"].value == 0.0 and specials["-1.0"].flagged  # a sentinel vanishing is news too
    assert not specials["-999999.0"].flagged


def test_unseen_share_and_constant_column() -> None:
    vocab = CategoricalVocabulary.from_reference(np.array(["a", "b", "c"] * 100, dtype=object))
    ref_p = profile_categorical(np.array(["a", "b", "c"] * 100, dtype=object), vocab)
    cur_p = profile_categorical(np.array(["a"] * 70 + ["zzz"] * 30, dtype=object), vocab)
    unseen = quality.unseen_share(ref_p, cur_p)
    assert unseen.value == pytest.approx(0.3) and unseen.flagged and unseen.detail == "zzz"
    assert not quality.constant_column(ref_p, cur_p).flagged
    stuck = profile_categorical(np.array(["b"] * 100, dtype=object), vocab)
    assert quality.constant_column(ref_p, stuck).flagged
    ref_n, cur_n = numeric(np.arange(100.0), np.full(100, 3.0))
    assert quality.constant_column(ref_n, cur_n).flagged
    assert quality.null_share(ref_p, cur_p).value == 0.0


def test_empty_window_is_not_flagged() -> None:
    ref_p, cur_p = numeric(np.arange(100.0), np.array([]))
    res = quality.null_share(ref_p, cur_p)
    assert np.isnan(res.value) and not res.flagged


# ---- end to end: 25 columns, decisions per tick ----

Column = tuple[str, Callable[[np.random.Generator, int], np.ndarray]]
CATEGORIES = np.array(["web", "ios", "android", "partner", "call_center", "kiosk"], dtype=object)
CAT_P = np.array([0.3, 0.25, 0.2, 0.12, 0.08, 0.05])


def _numeric_columns() -> list[Column]:
    cols: list[Column] = []
    for i in range(11):
        cols.append((f"num_{i}", lambda r, n, i=i: r.normal(10 + i, 1 + i / 3, n)))
    cols.append(("amount", lambda r, n: r.lognormal(3, 1, n)))
    cols.append(("visits", lambda r, n: r.poisson(3, n).astype(float)))
    cols.append(("balance", lambda r, n: np.where(r.random(n) < 0.3, 0.0, r.exponential(500, n))))
    cols.append(("income", lambda r, n: r.pareto(2.0, n) * 1e4))
    return cols


def _categorical_columns() -> list[Column]:
    cols: list[Column] = []
    for i in range(10):
        k = 3 + i
        weights = np.arange(k, 0, -1, dtype=float)
        p = weights / weights.sum()
        names = np.array([f"v{j}" for j in range(k)], dtype=object)
        cols.append((f"cat_{i}", lambda r, n, names=names, p=p: r.choice(names, size=n, p=p)))
    return cols


COLUMNS = _numeric_columns() + _categorical_columns()
assert len(COLUMNS) == 25


@dataclass(frozen=True)
class Tick:
    drift_flags: set[str]
    quality_flags: set[str]


def references(rng: np.random.Generator, n: int) -> dict[str, NumericProfile | CategoricalProfile]:
    out: dict[str, NumericProfile | CategoricalProfile] = {}
    for name, draw in COLUMNS:
        x = draw(rng, n)
        if x.dtype == object:
            out[name] = profile_categorical(x, CategoricalVocabulary.from_reference(x))
        else:
            out[name] = profile_numeric(x, NumericBinning.from_reference(x))
    return out


def profile_like(ref: NumericProfile | CategoricalProfile, x: np.ndarray, null: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    if isinstance(ref, NumericProfile):
        return profile_numeric(x, ref.binning, null_mask=null)
    return profile_categorical(x, ref.vocabulary, null_mask=null)


QUALITY_CHECKS = (quality.null_share, quality.out_of_range_share, quality.unseen_share, quality.nan_share)


def evaluate(
    refs: dict[str, NumericProfile | CategoricalProfile],
    current: dict[str, NumericProfile | CategoricalProfile],
) -> Tick:
    names = list(refs)
    cells = [drift.drift_cell(refs[c], current[c]) for c in names]
    flags = drift.decide(
        [c.value for c in cells],
        [c.p_value for c in cells],
        [c.threshold for c in cells],
        [c.floor for c in cells],
    )
    quality_flags = set()
    for c in names:
        for check in QUALITY_CHECKS:
            kind = "numeric" if isinstance(refs[c], NumericProfile) else "categorical"
            if kind in registry.get(check.__name__).kinds and check(refs[c], current[c]).flagged:  # type: ignore[arg-type]
                quality_flags.add(c)
    return Tick({n for n, f in zip(names, flags, strict=True) if f}, quality_flags)


@pytest.fixture(scope="module")
def reference_profiles() -> dict[str, NumericProfile | CategoricalProfile]:
    return references(np.random.default_rng(SEED), 200_000)


def test_no_drift_windows_rarely_flag(
    reference_profiles: dict[str, NumericProfile | CategoricalProfile],
) -> None:
    rng = np.random.default_rng(SEED + 1)
    windows, size = 200, 1_000
    data = {name: draw(rng, windows * size) for name, draw in COLUMNS}
    flagged = 0
    for w in range(windows):
        current = {n: profile_like(reference_profiles[n], data[n][w * size : (w + 1) * size]) for n in data}
        flagged += len(evaluate(reference_profiles, current).drift_flags)
    assert flagged / (windows * len(COLUMNS)) <= 0.02


@pytest.fixture(scope="module")
def drifted_million() -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """1M current rows; drift in exactly 4 columns."""
    rng = np.random.default_rng(SEED + 2)
    n = 1_000_000
    data: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        name: (draw(rng, n), None) for name, draw in COLUMNS
    }
    data["num_0"] = (data["num_0"][0] * 1000, None)  # unit change: metres became millimetres
    data["num_1"] = (data["num_1"][0] + 0.3 * (1 + 1 / 3), None)  # +0.3 sd shift
    p = np.arange(5, 0, -1, dtype=float)
    p = p / p.sum()
    p_shifted = p + np.array([-0.08, 0.08, 0, 0, 0])  # the top category loses 8 points of share
    names = np.array([f"v{j}" for j in range(5)], dtype=object)
    data["cat_2"] = (rng.choice(names, size=n, p=p_shifted), None)
    data["num_3"] = (data["num_3"][0], rng.random(n) < 0.2)  # null rate 0 -> 20%
    return data


@pytest.mark.parametrize("n_rows", [100_000, 1_000_000])
def test_exactly_the_drifted_columns_are_flagged(
    reference_profiles: dict[str, NumericProfile | CategoricalProfile],
    drifted_million: dict[str, tuple[np.ndarray, np.ndarray | None]],
    n_rows: int,
) -> None:
    current = {
        name: profile_like(reference_profiles[name], x[:n_rows], None if null is None else null[:n_rows])
        for name, (x, null) in drifted_million.items()
    }
    tick = evaluate(reference_profiles, current)
    assert tick.drift_flags == {"num_0", "num_1", "cat_2"}
    assert "num_3" in tick.quality_flags
    assert tick.drift_flags | tick.quality_flags == {"num_0", "num_1", "cat_2", "num_3"}


def test_duplicate_id_share_is_exact_with_a_fixed_warning_share() -> None:
    # Per-window counts come from the quarantine; see tests/test_duplicate_ids.py for the end-to-end answers.
    q = quality.duplicate_id_share(30, 1000)
    assert q.value == 30 / 1030 and q.flagged and q.threshold == quality.DUPLICATE_ID_WARNING
    assert not quality.duplicate_id_share(5, 995).flagged  # 0.5%: below the 1% warning share
