"""Exact KS from raw rows where the binned bound cannot decide: which bins to read, and the refined value.

The binned KS (`drift.ks`) knows the ECDF gap exactly at every bin edge; only inside a bin is it
unknown. So the exact statistic needs only the raw values of the bins whose per-bin upper bound can
exceed what is already attained: the cumulative counts before each bin come exact from the profiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from duckwatch.metrics._kstwo import kstwo_sf_bounded
from duckwatch.metrics.drift import DriftResult, ks, sup_per_bin
from duckwatch.metrics.drift_decision import DriftCell, decide
from duckwatch.metrics.ks_distribution import ks_isf, ks_sf
from duckwatch.metrics.profile import NumericProfile

__all__ = [
    "MAX_RAW_ROWS",
    "RAW_METHOD_SUFFIX",
    "ambiguous",
    "bins_to_read",
    "ks_p_value",
    "ks_raw_threshold",
    "refine_cell",
    "refine_ks",
]

# Rows read per side (window, reference) at most. The bins closest to deciding are read first; a bin
# is read whole or not at all (never sampled), so an unread bin keeps its rigorous bound. 250k rows of
# one DOUBLE column is 2 MB and ~20 ms of numpy; a 5M-row window holds ~50k rows per bin, so ~5 bins.
MAX_RAW_ROWS = 250_000
RAW_METHOD_SUFFIX = " (raw rows)"


def ks_p_value(d: float, n_ref: int, n_cur: int) -> float:
    """KS p-value the engine uses: the KS distribution at the effective size n·m/(n+m) (exact at small
    sizes, Kolmogorov's limit with its stated error from 10,000 on: metrics/ks_distribution)."""
    if not d > 0 or n_ref <= 0 or n_cur <= 0:
        return 1.0
    n_eff = max(1, round(n_ref * n_cur / (n_ref + n_cur)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(ks_sf(d, n_eff))


def _ks_p_screen(d: float, n_ref: int, n_cur: int) -> float:
    """``ks_p_value`` for screening bounds, with the binned KS's bounded far tail (``kstwo_sf_bounded``)."""
    if not d > 0 or n_ref <= 0 or n_cur <= 0:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return kstwo_sf_bounded(d, max(1, round(n_ref * n_cur / (n_ref + n_cur))))


def ks_raw_threshold(cell: DriftCell, n_ref: int, n_cur: int, quantile: float = 0.99) -> float:
    """No-drift bar for the exact KS: the binned null quantile, or the continuous one if higher.

    The binned null only sees the ECDF at bin edges, so the exact statistic is larger under no drift
    too; the continuous two-sample KS quantile (distribution-free, conservative with ties) keeps a
    raw-row value from flagging more often than the binned one would.
    """
    n_eff = max(1, round(n_ref * n_cur / (n_ref + n_cur)))
    continuous = ks_isf(1.0 - quantile, n_eff)
    return continuous if np.isnan(cell.threshold) else max(cell.threshold, continuous)


def ambiguous(
    cells: Sequence[DriftCell],
    sizes: Sequence[tuple[int, int]],
    fdr: float = 0.05,
    p_upper: Sequence[float] | None = None,
) -> npt.NDArray[np.bool_]:
    """Cells whose flag differs between the bound's two ends (values and p-values), BH included.

    ``sizes`` holds each cell's (reference rows, window rows). BH is monotone in every p-value, so the
    flags at all-lower and at all-upper bracket the flags of any values inside the bounds: a cell
    flagged at both ends (or at neither) is decided already. ``p_upper``: the p-values at the KS
    cells' upper bounds, computed already (metrics/drift_cells.screen_p_values).
    """
    hi, p_hi = [], []
    for i, (cell, (n_ref, n_cur)) in enumerate(zip(cells, sizes, strict=True)):
        res = cell.result
        wide = cell.metric == "ks" and res.upper > res.lower
        hi.append(res.upper if wide else cell.value)
        if wide:
            p_hi.append(_ks_p_screen(res.upper, n_ref, n_cur) if p_upper is None else p_upper[i])
        else:
            p_hi.append(cell.p_value)
    thresholds = [c.threshold for c in cells]
    floors = [c.floor for c in cells]
    flags_lo = decide([c.value for c in cells], [c.p_value for c in cells], thresholds, floors, fdr)
    flags_hi = decide(hi, p_hi, thresholds, floors, fdr)
    return np.asarray(flags_lo != flags_hi)


def bins_to_read(
    reference: NumericProfile, current: NumericProfile, attained: float, budget: int = MAX_RAW_ROWS
) -> list[int]:
    """Bins whose inside may hold a gap above ``attained``, largest bound first, within ``budget`` rows."""
    upper = sup_per_bin(reference, current)
    order = np.argsort(-upper, kind="stable")
    chosen: list[int] = []
    used_r = used_c = 0
    for j in order:
        if not upper[j] > attained:
            break
        r, c = int(reference.counts[j]), int(current.counts[j])
        if used_r + r > budget or used_c + c > budget:
            continue  # a smaller bin further down may still fit
        chosen.append(int(j))
        used_r, used_c = used_r + r, used_c + c
    return sorted(chosen)


def _turning_points(r: npt.NDArray[np.float64], c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The points of a bin where |F_c - F_r| can be largest: between two current values F_c is flat and
    F_r rises, so each stretch has its extremes at its ends (the current value opening it, the last
    reference value before the next one, the bin's first and last values). Evaluating there instead of
    at every reference value gives the same maximum, in O(current log reference)."""
    if c.size == 0 or r.size == 0:
        return np.concatenate([r[:1], r[-1:], c[:1], c[-1:]])
    before = np.searchsorted(r, c, side="left") - 1
    return np.concatenate([c, r[before[before >= 0]], r[:1], r[-1:]])


def refine_ks(
    reference: NumericProfile,
    current: NumericProfile,
    ref_values: Mapping[int, npt.NDArray[np.float64]],
    cur_values: Mapping[int, npt.NDArray[np.float64]],
) -> DriftResult:
    """KS with the inside of the given bins computed from raw values; exact when no unread bin matters.

    ``ref_values[j]`` / ``cur_values[j]`` hold every finite raw value in bin j (as the profile counts
    them); the result's [lower, upper] is still rigorous when some bins were not read.
    """
    base = ks(reference, current)
    upper_per_bin = sup_per_bin(reference, current)
    nr, nc = reference.n, current.n
    before_r = np.concatenate([[0], np.cumsum(reference.counts)[:-1]])
    before_c = np.concatenate([[0], np.cumsum(current.counts)[:-1]])
    value = base.lower
    for j in ref_values:
        r = np.sort(np.asarray(ref_values[j], dtype=np.float64))
        c = np.sort(np.asarray(cur_values[j], dtype=np.float64))
        if r.size + c.size == 0:
            continue
        points = _turning_points(r, c)
        fr = (before_r[j] + np.searchsorted(r, points, side="right")) / nr
        fc = (before_c[j] + np.searchsorted(c, points, side="right")) / nc
        value = max(value, float(np.abs(fc - fr).max()))
    unread = np.ones(upper_per_bin.size, dtype=bool)
    unread[list(ref_values)] = False
    rest = upper_per_bin[unread]
    upper = max(value, float(rest.max())) if rest.size else value
    exact = not upper > value
    method = "ks" + RAW_METHOD_SUFFIX if exact else f"ks (raw rows in {len(ref_values)} bins)"
    return DriftResult("ks", value, value, upper, exact, ks_p_value(value, nr, nc), method)


def refine_cell(cell: DriftCell, refined: DriftResult, n_ref: int, n_cur: int) -> DriftCell:
    """The cell decided on a raw-row KS: its value, p-value and the exact statistic's no-drift bar."""
    # Any raw rows read make the value larger than the binned one, so it meets the exact statistic's bar.
    p_value = refined.p_value if refined.p_value is not None else 1.0
    threshold = ks_raw_threshold(cell, n_ref, n_cur)
    return replace(cell, value=refined.value, p_value=p_value, threshold=threshold, result=refined)
