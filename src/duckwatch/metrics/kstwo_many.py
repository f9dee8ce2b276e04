"""`kstwo_sf_bounded` for many (statistic, size) pairs at once, equal to the scalar one element by element.

A window's numeric columns need one KS p-value each, and the screening of its bounds one more: about
19,000 scalar calls on a tick of 720 hourly windows, 4.5 s, most of it Python overhead around the
Pelz-Good series (a 4-vector Horner loop per call). Here the Pelz-Good branch, the branch almost every
call of a window of a few hundred rows or more takes, runs as array arithmetic over all pairs, with the
same operations in the same order, so the numbers are the scalar function's (tests/metrics/
test_kstwo_many.py compares them bitwise). The rare branches (tiny windows, x ≥ 0.5, the exact
Durbin-matrix range) call the scalar function per pair.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from duckwatch.metrics._kstwo import kstwo_sf_bounded

__all__ = ["kstwo_sf_bounded_many"]

FloatArray = npt.NDArray[np.float64]

_SQRT2PI = np.sqrt(2 * np.pi)
_MIN_LOG = -708
_SQRT3 = np.sqrt(3)
_PI_SQUARED = np.pi**2
_PI_FOUR = np.pi**4
_PI_SIX = np.pi**6


def kstwo_sf_bounded_many(x: npt.ArrayLike, n: npt.ArrayLike) -> FloatArray:
    """``[kstwo_sf_bounded(x_i, n_i)]`` as an array; ``n`` holds positive integers."""
    xs = np.asarray(x, dtype=np.float64).ravel()
    ns = np.asarray(n, dtype=np.int64).ravel()
    out = np.empty(xs.size, dtype=np.float64)
    with np.errstate(all="ignore"):
        nx2 = ns * xs * xs
        t = ns * xs
        # The Pelz-Good branch of _kstwo._kolmogn for the SF: n > 140, 1 < n x < n - 1, x < 0.5,
        # n x² < 2.2, outside the Durbin-matrix range, and not the bounded far tail of a large n.
        pelz = (
            (ns > 140)
            & (xs > 0.5 / ns)
            & (xs < 0.5)
            & (t > 1.0)
            & (t < ns - 1)
            & (nx2 < 2.2)
            & ~((ns <= 100_000) & (ns * _pow(xs, 1.5) <= 1.4))
            & ~((ns > 10_000) & (nx2 >= 2.2))
        )
    idx = np.flatnonzero(pelz)
    if idx.size:
        cdf = _pelz_good_cdf(ns[idx], xs[idx])
        out[idx] = np.clip(1.0 - cdf, 0.0, 1.0)
    with np.errstate(all="ignore"):  # the Durbin matrix scales its own overflow away
        for i in np.flatnonzero(~pelz):
            out[i] = kstwo_sf_bounded(float(xs[i]), int(ns[i]))
    return out


def _pow(a: FloatArray, e: float) -> FloatArray:
    """``a ** e`` as the scalar code computes it (C pow; numpy's array power can differ in the last bit)."""
    return np.fromiter((math.pow(v, e) for v in a.tolist()), dtype=np.float64, count=a.size)


def _pelz_good_cdf(n: npt.NDArray[np.int64], x: FloatArray) -> FloatArray:
    """``_kolmogn_PelzGood(n, x, cdf=True)`` element-wise (scipy's algorithm, same operation order)."""
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = _pow(z, 2), _pow(z, 3), _pow(z, 4), _pow(z, 6)
    qlog = -_PI_SQUARED / 8 / zsquared
    tiny = qlog < _MIN_LOG  # z ~ 0.0417: the CDF is 0 there
    q = np.exp(qlog)
    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * _pow(z, 8)
    maxk = np.ceil(16 * z / np.pi).astype(np.int64)
    k0 = np.zeros(z.size)
    k1 = np.zeros(z.size)
    k2 = np.zeros(z.size)
    k3 = np.zeros(z.size)
    # Horner over odd integers, from each pair's own maxk down: a pair joins when k reaches its maxk.
    for k in range(int(maxk.max(initial=0)), 0, -1):
        on = maxk >= k
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        k0 = np.where(on, k0 * qpower + 1.0, k0)
        k1 = np.where(on, k1 * qpower + (k1a + k1b * msquared), k1)
        k2 = np.where(on, k2 * qpower + (k2a + k2b * msquared + k2c * mfour), k2)
        k3 = np.where(on, k3 * qpower + (k3a + k3b * msquared + k3c * mfour + k3d * msix), k3)
    k0, k1, k2, k3 = (v * q * _SQRT2PI for v in (k0, k1, k2, k3))
    k0, k1, k2, k3 = k0 / z, k1 / (6 * zfour), k2 / (72 * _pow(z, 7)), k3 / (6480 * _pow(z, 10))
    q2 = np.exp(-_PI_SQUARED / 2 / zsquared)
    sqrt3z = _SQRT3 * z
    # scipy sums these with np.sum over k = maxk..1: a plain left-to-right sum below 8 terms, which the
    # masked accumulation below reproduces; numpy's pairwise order at 8 terms, kept per pair.
    k2extra = np.zeros(z.size)
    k3extra = np.zeros(z.size)
    for k in range(min(int(maxk.max(initial=0)), 7), 0, -1):
        on = maxk >= k
        ksquared = k**2
        kspi = np.pi * k
        qpwers = q2**ksquared
        k2extra = np.where(on, k2extra + ksquared * qpwers, k2extra)
        k3extra = np.where(on, k3extra + (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers, k3extra)
    for j in np.flatnonzero(maxk >= 8):
        ks = np.arange(maxk[j], 0, -1)
        ksquared_a = ks**2
        kspi_a = np.pi * ks
        qpwers_a = q2[j] ** ksquared_a
        k2extra[j] = np.sum(ksquared_a * qpwers_a)
        k3extra[j] = np.sum((sqrt3z[j] + kspi_a) * (sqrt3z[j] - kspi_a) * ksquared_a * qpwers_a)
    k2 = k2 + k2extra * (_PI_SQUARED * _SQRT2PI / (-36 * zthree))
    k3 = k3 + k3extra * (_PI_SQUARED * _SQRT2PI / (216 * zsix))
    # pow with an array of exponents, as scipy does (a scalar 0.5 would take numpy's sqrt fast path)
    powers = np.power((n * 1.0)[:, None], np.arange(4) / 2.0)
    k0, k1, k2, k3 = k0 / powers[:, 0], k1 / powers[:, 1], k2 / powers[:, 2], k3 / powers[:, 3]
    return np.where(tiny, 0.0, k0 + k1 + k2 + k3)
