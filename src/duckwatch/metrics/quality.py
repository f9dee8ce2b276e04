"""Per column/window data-quality checks from profiles, flagged against window-sized thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.registry import metric
from duckwatch.metrics.special import binom_ppf

__all__ = [
    "DEFAULT_SHARE_FLOOR",
    "DEFAULT_SHARE_QUANTILE",
    "DUPLICATE_ID_CRITICAL",
    "DUPLICATE_ID_WARNING",
    "QualityResult",
    "constant_column",
    "duplicate_id_share",
    "duplicate_id_status",
    "inf_share",
    "nan_share",
    "null_share",
    "out_of_range_share",
    "share_change_threshold",
    "special_share",
    "unseen_share",
]

Profile = NumericProfile | CategoricalProfile

# The smallest absolute share change worth a look whatever the window size: 1 point. Below it a big
# window would flag harmless wobble (0.1% -> 0.3% nulls). It sits under the 2-point change the product
# promises to catch (recall >= 95% on 5,000-row windows, tests/metrics/test_drift_power.py): at the
# old 2-point floor a 2-point rise was a coin toss.
DEFAULT_SHARE_FLOOR = 0.01
# Quality checks are not FDR-controlled, so use a strict per-check no-drift quantile.
DEFAULT_SHARE_QUANTILE = 0.999
MIN_ROWS_FOR_CONSTANT = 30


@dataclass(frozen=True)
class QualityResult:
    """One quality value for the current window with its reference value and flag."""

    metric: str
    value: float
    reference: float | None
    threshold: float | None
    flagged: bool
    detail: str = ""


def _binom_quantile(q: float, n: int, p: float) -> float:
    """``scipy.stats.binom.ppf(q, n, p)`` without importing scipy.stats (~1-3 s) on the usual path."""
    if 0.0 < q < 1.0 and 0.0 <= p <= 1.0 and n >= 0:
        return binom_ppf(q, n, p)
    from scipy import stats  # edge cases: let scipy apply its own support rules

    return float(stats.binom.ppf(q, n, p))


@lru_cache(maxsize=8192)  # binom_ppf costs ~0.1-1 ms; windows repeat the same reference shares
def share_change_threshold(
    ref_share: float,
    n_current: int,
    quantile: float = DEFAULT_SHARE_QUANTILE,
    floor: float = DEFAULT_SHARE_FLOOR,
    n_reference: int = 0,
) -> float:
    """Largest absolute share change expected with no drift at this window size (binomial), >= floor.

    With ``n_reference``, the reference share's own sampling error (its binomial band at that size) is
    added in quadrature: a small reference's share is itself uncertain."""
    if n_current <= 0:
        return float("nan")
    p = min(max(ref_share, 0.0), 1.0)
    hi = _binom_quantile(quantile, n_current, p) / n_current - p
    lo = p - _binom_quantile(1.0 - quantile, n_current, p) / n_current
    if n_reference > 0:
        hi_r = _binom_quantile(quantile, n_reference, p) / n_reference - p
        lo_r = p - _binom_quantile(1.0 - quantile, n_reference, p) / n_reference
        hi, lo = float(np.hypot(hi, lo_r)), float(np.hypot(lo, hi_r))
    return max(floor, hi, lo)


def _share(
    name: str,
    cur: tuple[int, int],
    ref: tuple[int, int],
    detail: str = "",
    two_sided: bool = False,
    floor: float = DEFAULT_SHARE_FLOOR,
) -> QualityResult:
    """Compare a current share num/den with the reference share; flag a change beyond the threshold."""
    (cn, cd), (rn, rd) = cur, ref
    if cd == 0:
        return QualityResult(name, float("nan"), rn / rd if rd else None, None, False, detail)
    value = cn / cd
    if rd == 0:
        return QualityResult(name, value, None, None, False, detail)
    ref_share = rn / rd
    threshold = share_change_threshold(ref_share, cd, floor=floor, n_reference=rd)
    change = value - ref_share
    flagged = abs(change) > threshold if two_sided else change > threshold
    return QualityResult(name, value, ref_share, threshold, bool(flagged), detail)


@metric(
    name="null_share",
    display_name="Missing values (NULL)",
    meaning="Share of rows where the value is missing (SQL NULL).",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.02),
    higher_is_worse=True,
    kinds=("numeric", "categorical"),
)
def null_share(reference: Profile, current: Profile) -> QualityResult:
    """Share of NULL rows, flagged when it rose beyond the window-sized threshold."""
    return _share("null_share", (current.n_null, current.n_rows), (reference.n_null, reference.n_rows))


@metric(
    name="nan_share",
    display_name="Not-a-number values (NaN)",
    meaning="Share of rows holding NaN, usually a failed computation upstream.",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.02),
    higher_is_worse=True,
    kinds=("numeric",),
)
def nan_share(reference: NumericProfile, current: NumericProfile) -> QualityResult:
    """Share of NaN rows, flagged when it rose beyond the window-sized threshold."""
    return _share("nan_share", (current.n_nan, current.n_rows), (reference.n_nan, reference.n_rows))


@metric(
    name="inf_share",
    display_name="Infinite values",
    meaning="Share of rows holding +inf or -inf, usually a division by zero upstream.",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.02),
    higher_is_worse=True,
    kinds=("numeric",),
)
def inf_share(reference: NumericProfile, current: NumericProfile) -> QualityResult:
    """Share of infinite rows, flagged when it rose beyond the window-sized threshold."""
    return _share("inf_share", (current.n_inf, current.n_rows), (reference.n_inf, reference.n_rows))


@metric(
    name="special_share",
    display_name="Special values (sentinels such as -1, 0, -999999)",
    meaning="Share of rows holding each special value; a change either way often means an upstream change.",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.02),
    higher_is_worse=True,
    kinds=("numeric",),
)
def special_share(reference: NumericProfile, current: NumericProfile) -> list[QualityResult]:
    """One result per special value (detail = the value), flagged on a change in either direction."""
    out = []
    for i, s in enumerate(reference.binning.specials):
        cur = (int(current.special_counts[i]), current.n_rows)
        ref = (int(reference.special_counts[i]), reference.n_rows)
        out.append(_share("special_share", cur, ref, detail=repr(s), two_sided=True))
    return out


@metric(
    name="out_of_range_share",
    display_name="Values outside the reference range",
    meaning="Share of values below the reference minimum or above its maximum.",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.02),
    higher_is_worse=True,
    kinds=("numeric",),
)
def out_of_range_share(reference: NumericProfile, current: NumericProfile) -> QualityResult:
    """Share of finite values in the below/above-range bins."""
    cur = (int(current.counts[0] + current.counts[-1]), current.n)
    # The range is the reference's own min..max, so the reference has no values outside it by
    # construction; a new sample from the same continuous distribution lands outside with
    # probability 2/(m+1). Judge the change against that, not against 0.
    outside = int(reference.counts[0] + reference.counts[-1])
    ref = (max(outside, 2), reference.n + 1) if reference.n else (outside, reference.n)
    return _share("out_of_range_share", cur, ref)


@metric(
    name="unseen_share",
    display_name="New categories",
    meaning="Share of non-missing values that never appeared in the reference.",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.02),
    higher_is_worse=True,
    kinds=("categorical",),
)
def unseen_share(reference: CategoricalProfile, current: CategoricalProfile) -> QualityResult:
    """Share of unseen categories; detail lists the most frequent examples."""
    examples = ", ".join(list(current.unseen_examples)[:5])
    return _share("unseen_share", (current.unseen, current.n), (reference.unseen, reference.n), examples)


def _is_constant(profile: Profile) -> bool:
    if isinstance(profile, NumericProfile):
        return profile.n > 0 and profile.min == profile.max
    return int(np.count_nonzero(profile.category_counts())) == 1


@metric(
    name="constant_column",
    display_name="Column stuck on one value",
    meaning="1 when every non-missing value in the window is the same, 0 otherwise.",
    family="quality",
    shape="per_column_table",
    normal_range=(0.0, 0.0),
    higher_is_worse=True,
    kinds=("numeric", "categorical"),
)
def constant_column(reference: Profile, current: Profile) -> QualityResult:
    """Flag a window whose values are all identical when the reference's were not."""
    cur, ref = _is_constant(current), _is_constant(reference)
    # A handful of rows is constant by chance; only a real window stuck on one value is news.
    big_enough = current.n >= MIN_ROWS_FOR_CONSTANT
    return QualityResult("constant_column", float(cur), float(ref), None, cur and not ref and big_enough)


# Repeated ids are never expected (a retry with an idempotency key is not one), so fixed shares judge them.
DUPLICATE_ID_WARNING = 0.01
DUPLICATE_ID_CRITICAL = 0.05


@metric(
    name="duplicate_id_share",
    display_name="Duplicate ids",
    meaning="Share of the window's predictions whose id repeated an id already received (set aside, not stored).",
    family="quality",
    shape="scalar_series",
    normal_range=(0.0, DUPLICATE_ID_WARNING),
    higher_is_worse=True,
    kinds=("id",),
)
def duplicate_id_share(duplicates: int, stored: int, warning: float = DUPLICATE_ID_WARNING) -> QualityResult:
    """Duplicates / (stored + duplicates), exact; flagged above ``warning``."""
    n = duplicates + stored
    if n <= 0:
        return QualityResult("duplicate_id_share", float("nan"), None, warning, False)
    value = duplicates / n
    detail = f"{duplicates} of {n} rows"
    return QualityResult("duplicate_id_share", value, None, warning, value > warning, detail)


def duplicate_id_status(value: float, critical: float = DUPLICATE_ID_CRITICAL) -> str:
    """Default status of a duplicate-id share: critical above ``critical``, warning above the warning share."""
    if not value > DUPLICATE_ID_WARNING:  # NaN included
        return "ok"
    return "critical" if value > critical else "warning"
