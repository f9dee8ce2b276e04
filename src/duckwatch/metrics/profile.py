"""Mergeable per-column profiles (numeric bins with exact per-bin sums; categorical counts).

This module holds the numeric profile and `merge`; the reference binning lives in ``profile_binning``
and the categorical vocabulary and profile in ``profile_categories``, both re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from duckwatch.metrics.profile_binning import BLOCK_ROWS, DEFAULT_BINS, SPECIAL_MIN_SHARE, NumericBinning
from duckwatch.metrics.profile_binning import MAX_AUTO_SPECIALS as MAX_AUTO_SPECIALS
from duckwatch.metrics.profile_categories import MAX_OTHER_VALUES as MAX_OTHER_VALUES
from duckwatch.metrics.profile_categories import (
    MAX_UNSEEN_EXAMPLES,
    MAX_VOCABULARY,
    CategoricalProfile,
    CategoricalVocabulary,
    merge_categorical,
    profile_categorical,
    profile_category_counts,
)

__all__ = [
    "DEFAULT_BINS",
    "MAX_UNSEEN_EXAMPLES",
    "MAX_VOCABULARY",
    "SPECIAL_MIN_SHARE",
    "CategoricalProfile",
    "CategoricalVocabulary",
    "NumericBinning",
    "NumericProfile",
    "merge",
    "profile_categorical",
    "profile_category_counts",
    "profile_numeric",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Mergeable summary of one numeric column: per-bin counts and sums, moments, null/NaN/inf."""

    binning: NumericBinning
    counts: IntArray
    sums: FloatArray
    special_counts: IntArray
    n_null: int
    n_nan: int
    n_inf: int
    n: int
    mean: float
    m2: float
    min: float
    max: float

    @property
    def n_rows(self) -> int:
        """All rows, including NULL, NaN and infinite values."""
        return self.n + self.n_null + self.n_nan + self.n_inf

    @property
    def std(self) -> float:
        """Population standard deviation of the finite values (0 when empty)."""
        return float(np.sqrt(self.m2 / self.n)) if self.n > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; empty min/max become None."""
        return {
            "kind": "numeric",
            "edges": self.binning.edges.tolist(),
            "specials": list(self.binning.specials),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "special_counts": self.special_counts.tolist(),
            "n_null": self.n_null,
            "n_nan": self.n_nan,
            "n_inf": self.n_inf,
            "n": self.n,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.min if self.n else None,
            "max": self.max if self.n else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericProfile:
        """Inverse of `to_dict`."""
        binning = NumericBinning(
            edges=np.asarray(d["edges"], dtype=np.float64), specials=tuple(float(s) for s in d["specials"])
        )
        return cls(
            binning=binning,
            counts=np.asarray(d["counts"], dtype=np.int64),
            sums=np.asarray(d["sums"], dtype=np.float64),
            special_counts=np.asarray(d["special_counts"], dtype=np.int64),
            n_null=int(d["n_null"]),
            n_nan=int(d["n_nan"]),
            n_inf=int(d["n_inf"]),
            n=int(d["n"]),
            mean=float(d["mean"]),
            m2=float(d["m2"]),
            min=float("nan") if d["min"] is None else float(d["min"]),
            max=float("nan") if d["max"] is None else float(d["max"]),
        )


def profile_numeric(
    values: npt.ArrayLike,
    binning: NumericBinning,
    null_mask: npt.ArrayLike | None = None,
    *,
    scratch: FloatArray | None = None,
) -> NumericProfile:
    """Profile a float64 array (NaN = NaN, `null_mask` = SQL NULL) against a reference binning.

    ``scratch`` (optional, at least as long as ``values``) is reused for a temporary instead of fresh
    memory, whose page faults cost as much as the arithmetic on big windows; results are the same.
    """
    x = np.asarray(values, dtype=np.float64)
    n_null = 0
    if null_mask is not None:
        nm = np.asarray(null_mask, dtype=bool)
        n_null = int(nm.sum())
        if n_null:
            x = x[~nm]
    finite = np.isfinite(x)
    n_nan = n_inf = 0
    if not finite.all():
        n_nan = int(np.isnan(x).sum())
        n_inf = int(x.size - finite.sum()) - n_nan
        x = x[finite]
    counts, sums, special_counts = _binned(x, binning)
    n = int(x.size)
    if n:
        mean = float(x.mean())
        d = np.subtract(x, mean, out=scratch[:n]) if scratch is not None and scratch.size >= n else x - mean
        m2 = float(np.dot(d, d))
        lo, hi = float(x.min()), float(x.max())
    else:
        mean, m2, lo, hi = 0.0, 0.0, float("nan"), float("nan")
    return NumericProfile(binning, counts, sums, special_counts, n_null, n_nan, n_inf, n, mean, m2, lo, hi)


def _binned(x: FloatArray, binning: NumericBinning) -> tuple[IntArray, FloatArray, IntArray]:
    """Rows and value sums per bin, and rows per special value, of finite ``x``, one block at a time.

    A block's bin indexes never leave the cache. np.add.at adds each row to its bin in row order,
    exactly the additions np.bincount(weights=...) makes over the whole array, so sums are identical.
    """
    nb = binning.n_bins
    counts = np.zeros(nb, dtype=np.int64)
    sums = np.zeros(nb, dtype=np.float64)
    specials = np.asarray(binning.specials, dtype=np.float64)
    special_counts = np.zeros(specials.size, dtype=np.int64)
    for start in range(0, x.size, BLOCK_ROWS):
        block = x[start : start + BLOCK_ROWS]
        idx = binning.bin_index(block)
        counts += np.bincount(idx, minlength=nb)
        np.add.at(sums, idx, block)
        for j, value in enumerate(specials):
            special_counts[j] += np.count_nonzero(block == value)
    return counts, sums, special_counts


def _merge_numeric(a: NumericProfile, b: NumericProfile) -> NumericProfile:
    if a.binning != b.binning:
        raise ValueError("cannot merge numeric profiles built on different binnings (reference changed?)")
    n = a.n + b.n
    if a.n == 0 or b.n == 0:
        src = a if b.n == 0 else b
        mean, m2, lo, hi = src.mean, src.m2, src.min, src.max
    else:
        # Chan et al. parallel update: stable for large values, unlike merging sums of squares.
        delta = b.mean - a.mean
        mean = a.mean + delta * b.n / n
        m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n
        lo, hi = min(a.min, b.min), max(a.max, b.max)
    return NumericProfile(
        binning=a.binning,
        counts=a.counts + b.counts,
        sums=a.sums + b.sums,
        special_counts=a.special_counts + b.special_counts,
        n_null=a.n_null + b.n_null,
        n_nan=a.n_nan + b.n_nan,
        n_inf=a.n_inf + b.n_inf,
        n=n,
        mean=mean,
        m2=m2,
        min=lo,
        max=hi,
    )


def merge(
    a: NumericProfile | CategoricalProfile, b: NumericProfile | CategoricalProfile
) -> NumericProfile | CategoricalProfile:
    """Combine two profiles of the same column and reference (associative and commutative)."""
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        return _merge_numeric(a, b)
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        return merge_categorical(a, b)
    raise TypeError(f"cannot merge {type(a).__name__} with {type(b).__name__}")
