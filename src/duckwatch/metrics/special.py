"""The few scipy.special functions a job tick needs, in pure Python/numpy (scipy.special costs ~0.12 s).

Poisson and binomial terms use Loader's saddle-point form (``stirlerr`` + ``bd0``, as in R's
dpois/dbinom), so no term loses accuracy to a large cancelling exponent. ``tests/metrics/test_special.py``
checks every function against scipy on wide grids.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["binom_ppf", "chi2_sf", "ndtr", "rel_entr"]

FloatArray = npt.NDArray[np.float64]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# Series coefficients of Stirling's error: 1/12, 1/360, 1/1260, 1/1680, 1/1188.
_S0, _S1, _S2, _S3, _S4 = 1.0 / 12, 1.0 / 360, 1.0 / 1260, 1.0 / 1680, 1.0 / 1188
# A term this far (in e-folds) below the running sum cannot change it.
_NEGLIGIBLE = 1e-18
_EPS = 2.0**-52
# Truncated tail mass allowed in the binomial CDF, relative to the quantile level (e^-46 ~ 1e-20).
_TAIL_NATS = 46.0


def _stirlerr(x: float) -> float:
    """log(x!) - ((x + 1/2) log x - x + log sqrt(2 pi)) for x > 0 (integer or half-integer)."""
    if x <= 15.0:
        return math.lgamma(x + 1.0) - (x + 0.5) * math.log(x) + x - _LOG_SQRT_2PI
    xx = x * x
    if x > 500.0:
        return (_S0 - _S1 / xx) / x
    if x > 80.0:
        return (_S0 - (_S1 - _S2 / xx) / xx) / x
    if x > 35.0:
        return (_S0 - (_S1 - (_S2 - _S3 / xx) / xx) / xx) / x
    return (_S0 - (_S1 - (_S2 - (_S3 - _S4 / xx) / xx) / xx) / xx) / x


def _bd0(x: float, m: float) -> float:
    """x log(x / m) + m - x without cancellation (Loader's deviance term)."""
    if abs(x - m) < 0.1 * (x + m):
        v = (x - m) / (x + m)
        s = (x - m) * v
        ej = 2.0 * x * v
        v2 = v * v
        j = 1
        while True:
            ej *= v2
            s1 = s + ej / (2 * j + 1)
            if s1 == s:
                return s1
            s = s1
            j += 1
    return x * math.log(x / m) + m - x


def _log_dpois(a: float, lam: float) -> float:
    """log(e^-lam lam^a / Gamma(a + 1)) for a > 0, lam > 0."""
    return -_stirlerr(a) - _bd0(a, lam) - _LOG_SQRT_2PI - 0.5 * math.log(a)


def _erfcx_large(z: float) -> float:
    """exp(z^2) erfc(z) by its asymptotic series, for z >= 20 (converges to double precision)."""
    term, total, k, w = 1.0, 1.0, 1, 0.5 / (z * z)
    while abs(term) > 1e-17:
        term *= -(2 * k - 1) * w
        total += term
        k += 1
    return total / (z * math.sqrt(math.pi))


def _ratio_sum(anchor: float, y: float, lo: float, hi: float) -> float:
    """Sum over a in {lo, lo+1, ..., hi} of dpois(a, y) / dpois(anchor, y), anchor being one of them."""
    total, term, a = 1.0, 1.0, anchor
    while a > lo:  # downward: dpois(a - 1) = dpois(a) * a / y
        term *= a / y
        a -= 1.0
        total += term
        if term < _NEGLIGIBLE * total:
            break
    term, a = 1.0, anchor
    while a < hi:  # upward: dpois(a + 1) = dpois(a) * y / (a + 1)
        a += 1.0
        term *= y / a
        total += term
        if term < _NEGLIGIBLE * total:
            break
    return total


def chi2_sf(df: int, x: float) -> float:
    """``scipy.special.chdtrc(df, x)``: chi-square survival function for an integer df."""
    if math.isnan(x) or df < 0 or x < 0.0:
        return math.nan
    if df == 0:
        return 0.0 if x > 0.0 else math.nan
    if x == 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    y = 0.5 * x
    half, odd = divmod(df, 2)
    if not odd:
        # Q(m, y) = P(Poisson(y) <= m - 1) = sum_{j<m} e^-y y^j / j!
        top = float(half - 1)
        anchor = min(top, math.floor(y))
        log_anchor = -y if anchor == 0.0 else _log_dpois(anchor, y)
        return _exp_times(log_anchor, _ratio_sum(anchor, y, 0.0, top))
    # Q(m + 1/2, y) = erfc(sqrt y) + sum_{j=1..m} e^-y y^(j-1/2) / Gamma(j + 1/2)
    if half == 0:
        return math.erfc(math.sqrt(y))
    top = half - 0.5
    anchor = min(top, max(0.5, math.floor(y - 0.5) + 0.5))
    log_anchor = _log_dpois(anchor, y)
    ratio = _ratio_sum(anchor, y, 0.5, top)
    if y < 600.0:
        return math.erfc(math.sqrt(y)) + _exp_times(log_anchor, ratio)
    # erfc(sqrt y) underflows before the sum does: add it relative to the anchor term
    z = math.sqrt(y)
    ratio += math.exp(-y - log_anchor) * _erfcx_large(z)
    return _exp_times(log_anchor, ratio)


def _exp_times(log_value: float, factor: float) -> float:
    """exp(log_value) * factor, without overflow in the intermediate and 0 on underflow."""
    return math.exp(log_value + math.log(factor)) if log_value < -700.0 else math.exp(log_value) * factor


def _dbinom(k: int, n: int, p: float) -> float:
    """Binomial pmf at integer k (0 <= k <= n, 0 < p < 1) by Loader's saddle-point formula."""
    q = 1.0 - p
    nf, kf = float(n), float(k)
    if k == 0:
        return math.exp(-_bd0(nf, nf * q) - nf * p if p < 0.1 else nf * math.log(q))
    if k == n:
        return math.exp(-_bd0(nf, nf * p) - nf * q if q < 0.1 else nf * math.log(p))
    lc = _stirlerr(nf) - _stirlerr(kf) - _stirlerr(nf - kf) - _bd0(kf, nf * p) - _bd0(nf - kf, nf * q)
    lf = math.log(2.0 * math.pi) + math.log(kf) + math.log1p(-kf / nf)
    return math.exp(lc - 0.5 * lf)


def _pmf_window(a: int, b: int, n: int, p: float) -> FloatArray:
    """Binomial pmf at a..b: Loader's formula at the mode (clipped to the window), then the exact term
    ratios outward. A few array operations instead of Loader's ~40 at every k: the quantile runs for
    every column of every window; the ratios' rounding (~1e-16 per step) stays far below the
    distance between consecutive CDF values that decides the answer, and the caller confirms close
    calls with exact sums."""
    q = 1.0 - p
    mode = min(max(math.floor((n + 1) * p), a), b)
    anchor = _dbinom(mode, n, p)
    up_k = np.arange(mode, b, dtype=np.float64)
    up = anchor * np.cumprod((n - up_k) / (up_k + 1.0) * (p / q))
    down_k = np.arange(mode, a, -1, dtype=np.float64)
    down = anchor * np.cumprod(down_k / (n - down_k + 1.0) * (q / p))
    return np.concatenate([down[::-1], [anchor], up])


def _window(n: int, p: float, nats_below: float, nats_above: float) -> tuple[int, int]:
    """Integers [a, b] with P(X < a) <= e^-nats_below and P(X > b) <= e^-nats_above, X ~ Bin(n, p).

    Chernoff's lower tail exp(-t^2 / (2 mu)) and Bernstein's upper tail exp(-t^2 / (2 (var + t/3))).
    """
    mean = n * p
    var = mean * (1.0 - p)
    a = math.floor(mean - math.sqrt(2.0 * mean * nats_below))
    t = nats_above / 3.0 + math.sqrt(nats_above * nats_above / 9.0 + 2.0 * nats_above * var)
    b = math.ceil(mean + t)
    return max(a, 0), min(b, n)


def binom_ppf(q: float, n: int, p: float) -> float:
    """``scipy.stats.binom.ppf(q, n, p)`` for 0 < q < 1, integer n >= 0 and 0 <= p <= 1."""
    if not (0.0 < q < 1.0 and n >= 0 and 0.0 <= p <= 1.0):
        return math.nan
    if n == 0 or p == 0.0:
        return 0.0
    if p == 1.0:
        return float(n)
    if q <= (1.0 - p) ** n:  # boost's own short-cut: P(X = 0) already reaches q
        return 0.0
    # Mass below a is negligible next to q; mass above b stays below 1 - q, so the answer is in [a, b].
    a, b = _window(n, p, -math.log(q) + _TAIL_NATS, -math.log1p(-q) + 2.0)
    pmf = _pmf_window(a, b, n, p)
    cdf = np.cumsum(pmf)
    i = min(int(np.searchsorted(cdf, q)), pmf.size - 1)  # first running sum reaching q
    tol = 4.0 * pmf.size * _EPS * q
    if abs(cdf[i] - q) <= tol or (i > 0 and abs(cdf[i - 1] - q) <= tol) or cdf[i] < q:
        # The float cumsum is within rounding of q: settle the boundary with exact sums.
        while i > 0 and math.fsum(pmf[:i]) >= q:
            i -= 1
        while i < pmf.size - 1 and math.fsum(pmf[: i + 1]) < q:
            i += 1
    return float(a + i)


def ndtr(x: float) -> float:
    """``scipy.special.ndtr``: the standard normal CDF (cephes' erf/erfc split)."""
    if math.isnan(x):
        return math.nan
    z = x / math.sqrt(2.0)
    if abs(z) < math.sqrt(0.5):
        return 0.5 + 0.5 * math.erf(z)
    y = 0.5 * math.erfc(abs(z))
    return 1.0 - y if z > 0 else y


def rel_entr(x: FloatArray, y: FloatArray) -> FloatArray:
    """``scipy.special.rel_entr``: x log(x / y) elementwise, 0 where x == 0, inf where y == 0 < x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    both = (x > 0) & (y > 0)
    ratio = np.divide(x, y, out=np.ones(np.broadcast(x, y).shape), where=both)
    # scipy's own split: log1p of the relative difference where x / y is near 1
    near = both & (ratio > 0.5) & (ratio < 2.0)
    rel = np.divide(x - y, y, out=np.zeros_like(ratio), where=near)
    value = np.where(near, x * np.log1p(rel), x * np.log(ratio))
    out = np.where(both, value, np.where((x == 0) & (y >= 0), 0.0, np.inf))
    return np.asarray(np.where(np.isnan(x) | np.isnan(y), np.nan, out))
