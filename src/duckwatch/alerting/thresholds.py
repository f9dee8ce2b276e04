"""Threshold resolution (most specific scope wins) and evaluation: absolute, k·σ, relative, status."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from duckwatch.store.alerting import Threshold

__all__ = ["Evaluation", "breaching", "evaluate", "evaluate_series", "persistent", "resolve"]

BREACH = ("warning", "critical")
MIN_BASELINE = 3  # windows needed before a sigma/relative threshold can judge


@dataclass(frozen=True)
class Evaluation:
    """One window judged against a threshold: status, the bound crossed (or the warning bound), baseline."""

    status: str
    bound: float | None = None
    baseline: float | None = None
    note: str = ""


_TOO_FEW = Evaluation("insufficient", note="too few rows in the window to judge")
_NO_VALUE = Evaluation("insufficient", note="no value")


def resolve(
    thresholds: Sequence[Threshold],
    *,
    model: str,
    version: str,
    family: str,
    metric: str,
    col: str,
    segment: str,
) -> Threshold | None:
    """The most specific threshold whose scope matches (None if none, or if the winner is disabled)."""
    want = {
        "model": model,
        "version": version,
        "family": family,
        "metric": metric,
        "col": col,
        "segment": segment,
    }
    best: Threshold | None = None
    for t in thresholds:
        if all(getattr(t, k) in ("*", v) for k, v in want.items()) and (
            best is None or (t.specificity(), t.id) > (best.specificity(), best.id)
        ):
            best = t
    return best if best is not None and best.enabled else None


def breaching(status: str) -> bool:
    """Is this status a breach (warning or critical)?"""
    return status in BREACH


def _crosses(direction: str, value: float, center: float, limit: float) -> bool:
    if direction == "above":
        return value > center + limit
    if direction == "below":
        return value < center + limit
    return abs(value - center) > abs(limit)


def _level(t: Threshold, value: float, center: float, scale: float) -> str:
    """Compare ``value`` with center + level·scale for the critical then the warning level."""
    for name, level in (("critical", t.critical), ("warning", t.warning)):
        if level is None:
            continue
        limit = level * scale if t.kind != "sigma" or t.direction != "below" else -abs(level) * scale
        if _crosses(t.direction, value, center, limit):
            return name
    return "ok"


def _bound(t: Threshold, center: float, scale: float, status: str) -> float | None:
    """The bound of the level reached (critical when critical, else the first line crossed)."""
    level = t.critical if status == "critical" or t.warning is None else t.warning
    if level is None:
        return None
    if t.kind == "sigma" and t.direction == "below":
        return center - abs(level) * scale
    return center + level * scale


def evaluate(
    t: Threshold,
    value: float | None,
    *,
    row_status: str = "ok",
    row_threshold: float | None = None,
    n: float | None = None,
    prior: Sequence[tuple[float, float | None]] = (),
    interval: tuple[float | None, float | None] = (None, None),
) -> Evaluation:
    """Judge one window; ``prior`` holds (value, n) of earlier windows of the same series, oldest first.

    A window whose confidence ``interval`` still contains the baseline is judged normal: a move that
    sampling noise explains (a few hundred labels make accuracy wobble by points) must not page anyone.
    """
    ev = _evaluate(t, value, row_status=row_status, row_threshold=row_threshold, n=n, prior=prior)
    return _confident(t, ev, interval)


def _confident(t: Threshold, ev: Evaluation, interval: tuple[float | None, float | None]) -> Evaluation:
    lower, upper = interval
    if (
        ev.status in BREACH
        and t.kind in ("relative", "sigma")
        and ev.baseline is not None
        and lower is not None
        and upper is not None
        and lower <= ev.baseline <= upper
    ):
        return Evaluation("ok", ev.bound, ev.baseline, note="within the window's confidence interval")
    return ev


def evaluate_series(
    t: Threshold,
    values: Sequence[float | None],
    sizes: Sequence[float | None],
    row_statuses: Sequence[str],
    row_thresholds: Sequence[float | None],
    intervals: Sequence[tuple[float | None, float | None]],
) -> list[Evaluation]:
    """`evaluate` of consecutive windows of one series, oldest first, each with the earlier windows
    judged normal as its ``prior``: only normal windows form the baseline of the next one."""
    prior: list[tuple[float, float | None]] = []
    normal: list[float] = []  # the values of prior: all finite, so its tail is _tail(prior, k)
    lookback = max(t.lookback, 1)
    alone = t.kind in ("status", "absolute")  # judged without a baseline
    out: list[Evaluation] = []
    rows = zip(values, sizes, row_statuses, row_thresholds, intervals, strict=True)
    for value, n, row_status, row_threshold, interval in rows:
        if alone:
            ev = evaluate(
                t, value, row_status=row_status, row_threshold=row_threshold, n=n, interval=interval
            )
        elif row_status == "insufficient":
            ev = _TOO_FEW
        elif value is None or not math.isfinite(value):
            ev = _NO_VALUE
        elif t.kind == "sigma":
            ev = _confident(t, _sigma(t, value, _sigma_pool(prior, lookback, n)), interval)
        else:
            ev = _confident(t, _relative(t, value, normal[-lookback:]), interval)
        out.append(ev)
        if ev.status == "ok" and value is not None:
            prior.append((value, n))
            normal.append(value)
    return out


def _evaluate(
    t: Threshold,
    value: float | None,
    *,
    row_status: str,
    row_threshold: float | None,
    n: float | None,
    prior: Sequence[tuple[float, float | None]],
) -> Evaluation:
    if row_status == "insufficient":
        return _TOO_FEW
    if t.kind == "status":
        if t.warning is None and t.critical is None:
            return Evaluation(row_status if row_status in (*BREACH, "ok") else "ok", row_threshold)
        # An explicit bound on a statistically judged metric: the worse of the two decisions wins.
        own = _evaluate(
            replace(t, kind="absolute"), value, row_status="ok", row_threshold=None, n=None, prior=()
        )
        rank = ("ok", "warning", "critical")
        worse = max(row_status, own.status, key=lambda s: rank.index(s) if s in rank else 0)
        return Evaluation(worse, own.bound if own.status == worse else row_threshold)
    if value is None or not math.isfinite(value):
        return _NO_VALUE
    if t.kind == "absolute":
        status = _level(t, value, 0.0, 1.0)
        return Evaluation(status, _bound(t, 0.0, 1.0, status))
    lookback = max(t.lookback, 1)
    if t.kind == "sigma":
        return _sigma(t, value, _sigma_pool(prior, lookback, n))
    return _relative(t, value, _tail(prior, lookback))


def _sigma_pool(prior: Sequence[tuple[float, float | None]], lookback: int, n: float | None) -> list[float]:
    """Windows of a similar size when there are enough of them, else any: the last `lookback`."""
    similar = _tail(prior, max(lookback, MIN_BASELINE), n)
    return similar[-lookback:] if len(similar) >= MIN_BASELINE else _tail(prior, lookback)


def _sigma(t: Threshold, value: float, pool: list[float]) -> Evaluation:
    if len(pool) < MIN_BASELINE:
        return Evaluation("ok", note=f"baseline needs {MIN_BASELINE} earlier windows, has {len(pool)}")
    mean = sum(pool) / len(pool)
    std = math.sqrt(sum((v - mean) ** 2 for v in pool) / (len(pool) - 1))
    # A flat history would turn rounding noise into "infinite sigma": floor the spread at 1% of the level.
    scale = max(std, 0.01 * abs(mean), 1e-12)
    status = _level(t, value, mean, scale)
    return Evaluation(status, _bound(t, mean, scale, status), mean)


def _relative(t: Threshold, value: float, pool: list[float]) -> Evaluation:
    if len(pool) < min(MIN_BASELINE, t.lookback):
        return Evaluation("ok", note=f"baseline needs {min(MIN_BASELINE, t.lookback)} earlier windows")
    mean = sum(pool) / len(pool)
    if mean == 0:
        return Evaluation("ok", mean, mean, note="baseline is 0; a relative change is undefined")
    status = _level(t, value, mean, abs(mean))
    return Evaluation(status, _bound(t, mean, abs(mean), status), mean)


def _tail(prior: Sequence[tuple[float, float | None]], k: int, size: float | None = None) -> list[float]:
    """The last ``k`` finite values of ``prior`` (oldest first); with ``size``, only those of windows with
    0.5-2x as many rows. Read from the end: a series walks ~60 windows, and filtering the whole
    history at each one cost 0.2 s per tick."""
    out: list[float] = []
    for v, m in reversed(prior):
        if v is None or not math.isfinite(v):
            continue
        if size is not None and not (size and m and 0.5 * size <= m <= 2.0 * size):
            continue
        out.append(v)
        if len(out) >= k:
            break
    out.reverse()
    return out


def persistent(statuses: Sequence[str], n: int, m: int) -> bool:
    """True if at least ``n`` of the last ``m`` statuses (newest last) breach and the newest does."""
    recent = list(statuses)[-m:]
    return bool(recent) and breaching(recent[-1]) and sum(breaching(s) for s in recent) >= n
