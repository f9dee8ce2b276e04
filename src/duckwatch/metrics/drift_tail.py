"""Share tests at cuts: a tail-sensitive drift test for numeric columns, and L∞'s p-value for categories.

KS weighs a gap in the share of rows below a value the same wherever it is: 2% of rows moving beyond
the reference's maximum is a KS of 0.02, below any sensible floor, though nothing like it happened in
the reference. `tail_h` measures the same gaps on Cohen's h scale, ``|2·asin√Fc − 2·asin√Fr|``, whose
sampling noise is the same (≈ 1/√n) at every share: a gap is judged against the noise of its own cut,
so tails count (the sup form of Anderson–Darling's ``1/(F(1−F))`` weighting, variance-stabilised).
2% beyond the maximum is h = 0.28; a 5-point move at the median is h = 0.10.

Cuts are the reference bins' edges, where both shares are known exactly from the profiles' counts
(the open tails below the reference's minimum and above its maximum included): nothing is assumed
inside a bin, so the statistic is exact for what it is, and its p-value is rigorous.

The p-value is distribution-free and conservative. Under no drift, reference and window rows are
exchangeable: given the pooled count below a cut, the window's count is hypergeometric, and Hoeffding
(1963, Thm. 4) bounds its tails by the binomial Chernoff bound ``exp(−m·KL(x/m ‖ p))``. Two sides
double it; Bonferroni over the cuts that can vary combines them (valid under any dependence). The
integral (Anderson–Darling) form was not chosen: it spreads a concentrated tail change over the
whole range (2% beyond the maximum gives A² ≈ 3, at its 1% critical value, where the sup sees z ≈ 30).
"""

from __future__ import annotations

import numpy as np

from duckwatch.metrics.drift_kernels import FloatArray, bin_counts
from duckwatch.metrics.profile import CategoricalProfile, NumericProfile
from duckwatch.metrics.special import rel_entr

__all__ = [
    "TAIL_METHOD",
    "cut_h",
    "cut_shares",
    "direction_of",
    "ks_direction",
    "linf_direction",
    "linf_p_value",
    "share_test_p",
    "share_test_p_many",
    "tail_h_kernel",
    "tail_h_result",
]

TAIL_METHOD = "cuts at reference bin edges"


def cut_shares(counts: FloatArray) -> FloatArray:
    """Share of rows below each cut (the edges between bins), along the last axis: K+1 cuts for K+2 bins."""
    total = counts.sum(axis=-1, keepdims=True)
    cum = np.cumsum(counts, axis=-1)[..., :-1]
    return np.asarray(np.divide(cum, total, out=np.zeros_like(cum), where=total > 0))


def cut_h(share_ref: FloatArray, share_cur: FloatArray) -> FloatArray:
    """Cohen's h of each share pair, signed: 2·asin√cur − 2·asin√ref."""
    cur = np.arcsin(np.sqrt(np.clip(share_cur, 0.0, 1.0)))
    return np.asarray(2.0 * (cur - np.arcsin(np.sqrt(np.clip(share_ref, 0.0, 1.0)))))


def tail_h_kernel(pr: FloatArray, pc: FloatArray) -> FloatArray:
    """Largest |h| over the cuts of bin shares (last axis = bins), for the no-drift simulation."""
    return np.asarray(np.abs(cut_h(cut_shares(pr), cut_shares(pc))).max(axis=-1))


def share_test_p(ref_hits: FloatArray, cur_hits: FloatArray, n_ref: int, n_cur: int) -> float:
    """Conservative p-value that the window's share of hits equals the reference's at every cut.

    ``ref_hits[j]`` / ``cur_hits[j]``: rows counted at cut j (below it, or in category j) on each side.
    Per cut a two-sided Chernoff–Hoeffding bound on the hypergeometric tail; Bonferroni over the cuts
    whose pooled count leaves the window's count free to vary.
    """
    if n_ref <= 0 or n_cur <= 0:
        return float("nan")
    cur = np.asarray(cur_hits, dtype=np.float64)[None, :]
    return float(share_test_p_many(np.asarray(ref_hits, dtype=np.float64), cur, np.array([n_cur]), n_ref)[0])


def share_test_p_many(
    ref_hits: FloatArray, cur_hits: FloatArray, n_cur: FloatArray, n_ref: int
) -> FloatArray:
    """`share_test_p` of many windows (rows of ``cur_hits``, sizes ``n_cur``) against one reference."""
    m = np.asarray(n_cur, dtype=np.float64)[:, None]
    n = float(n_ref) + m
    hits = ref_hits[None, :] + cur_hits
    free = (hits > 0) & (hits < n)
    b = np.where(free, hits, 1.0)
    rest = np.where(free, n - hits, 1.0)
    x = np.where(free, cur_hits, 0.0)
    share = np.broadcast_to(m / n, b.shape)
    # The window's count is Hypergeometric(N, B, m) = Hypergeometric(N, m, B): the binomial Chernoff
    # bound holds drawing the m window rows (share B/N), or the B hits, or the N - B misses (share
    # m/N); each is valid, so the smallest is. The last two are tight where a cut has few hits.
    exponent = np.maximum.reduce(
        [m * _kl(x / m, b / n), b * _kl(x / b, share), rest * _kl((m - x) / rest, share)]
    )
    per_cut = np.where(free, np.minimum(1.0, 2.0 * np.exp(-exponent)), 1.0)
    tests = free.sum(axis=-1)
    p = np.minimum(1.0, tests * per_cut.min(axis=-1))
    return np.asarray(np.where(tests > 0, p, 1.0))


def _kl(q: FloatArray, p: FloatArray) -> FloatArray:
    """Bernoulli Kullback–Leibler divergence KL(q ‖ p), >= 0."""
    return np.asarray(np.maximum(rel_entr(q, p) + rel_entr(1.0 - q, 1.0 - p), 0.0))


def direction_of(signed_h: float) -> str:
    """Numeric direction at the widest gap: fewer window rows below the cut means values moved up."""
    return "up" if signed_h < 0 else "down"


def ks_direction(reference: NumericProfile, current: NumericProfile) -> str:
    """Direction of the binned KS gap at its widest cut ("up": the window's values are larger there)."""
    d = cut_shares(bin_counts(current)) - cut_shares(bin_counts(reference))
    return direction_of(float(d[int(np.argmax(np.abs(d)))]))


def tail_h_result(reference: NumericProfile, current: NumericProfile) -> tuple[float, float, str]:
    """(largest |h| over the cuts, its conservative p-value, the direction at the largest gap)."""
    r, c = bin_counts(reference), bin_counts(current)
    h = cut_h(cut_shares(r), cut_shares(c))
    j = int(np.argmax(np.abs(h)))
    p = share_test_p(np.cumsum(r)[:-1], np.cumsum(c)[:-1], reference.n, current.n)
    return float(abs(h[j])), p, direction_of(float(h[j]))


def linf_direction(reference: CategoricalProfile, current: CategoricalProfile) -> str:
    """The category whose share moved most, and which way: ``"<name> up"`` or ``"<name> down"``."""
    pr, pc = bin_counts(reference), bin_counts(current)
    if pr.sum() == 0 or pc.sum() == 0:
        return ""
    diff = pc / pc.sum() - pr / pr.sum()
    j = int(np.argmax(np.abs(diff)))
    names = [*reference.vocabulary.values, "(other)", "(unseen)"]
    return f"{names[j]} {'up' if diff[j] > 0 else 'down'}"


def linf_p_value(reference: CategoricalProfile, current: CategoricalProfile) -> float:
    """`share_test_p` over the categories (vocabulary, other, unseen): L∞'s p-value."""
    return share_test_p(bin_counts(reference), bin_counts(current), int(reference.n), int(current.n))
