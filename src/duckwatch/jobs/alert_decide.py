"""Thresholds applied to metric series: the status of every new window, and which alerts fire or clear.

`evaluate_and_alert` (jobs/alerts.py) turns these decisions into alerts, incidents and notifications.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.jobs import thresholds as th
from duckwatch.store.alerting import Threshold
from duckwatch.store.catalog import ModelInfo

SERIES = ["version", "experiment", "family", "metric", "col", "segment"]


@dataclass(frozen=True)
class Decision:
    """Fire or clear the alert of one series (key) at one window; times are UTC ISO text."""

    action: str  # fire | clear
    key: dict[str, str]
    threshold: Threshold
    severity: str
    value: float | None
    bound: float | None
    baseline: float | None
    since: str
    window_start: str
    window_end: str
    details: dict[str, Any]


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _micros(values: pd.Series) -> np.ndarray:
    """UTC epoch microseconds: they sort and compare as the ISO text does, without building 2 strings a row."""
    ts = pd.to_datetime(values, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    return ts.astype(np.int64)


@functools.lru_cache(maxsize=65_536)
def _iso_micros(us: int) -> str:
    """UTC ISO-8601 text with microseconds of one epoch-microsecond value (the form alerts store).

    Kept: a tick's decisions name a few thousand window bounds, three times each (291k calls for a
    720-window backfill)."""
    return f"{np.datetime_as_string(np.datetime64(int(us), 'us'), unit='us')}+00:00"


def _walk_back(t: Threshold) -> int:
    """Windows before a series' first new one that its decisions read: the baseline of relative and
    sigma thresholds (their look-back, tripled for windows without a value), and the persistence
    window of every kind. Status and absolute thresholds judge each window alone: re-walking 55
    windows of every drift and quality series cost ~0.05 s a tick for nothing."""
    baseline = 3 * t.lookback if t.kind in ("relative", "sigma") else 0
    return baseline + t.persist_m + 10


def _recent_history(history: pd.DataFrame, out: pd.DataFrame, thresholds: list[Threshold]) -> pd.DataFrame:
    """History rows a decision can look at: the windows before the earliest new one, as many as the
    longest look-back (+ persistence) of any threshold needs, and every later window."""
    if history.empty or out.empty:
        return history
    # Twice the rows a series walks back over (_decide): series with gaps span more windows.
    need = 2 * max((_walk_back(t) for t in thresholds), default=0)
    starts = pd.to_datetime(history["window_start"], utc=True)
    earliest = pd.to_datetime(out["window_start"], utc=True).min()
    before = np.sort(starts[starts < earliest].unique())
    if len(before) <= need:
        return history
    return history[starts >= before[-need]] if need else history[starts >= earliest]


def decide(
    model: ModelInfo, thresholds: list[Threshold], out: pd.DataFrame, history: pd.DataFrame
) -> list[Decision]:
    """Evaluate every series (in window order) and fill status/threshold of the new rows in ``out``."""
    new = out.assign(_new=range(len(out)))
    history = _recent_history(history, out, thresholds)
    parts = [history.assign(_new=-1), new] if len(history) else [new]
    combined = pd.concat(parts, ignore_index=True)
    combined[SERIES] = combined[SERIES].fillna("").astype(str)
    combined["_start"] = _micros(combined["window_start"])
    combined["_end"] = _micros(combined["window_end"])
    # A recomputed window replaces its older copy (new rows sort after history rows).
    combined = combined.sort_values([*SERIES, "_start", "_new"], kind="stable")
    combined = combined.drop_duplicates([*SERIES, "_start"], keep="last").reset_index(drop=True)
    cols = {c: combined[c].tolist() for c in ("value", "n", "status", "threshold", "_start", "_end", "_new")}
    for c in ("provisional", "method", "lower", "upper"):
        cols[c] = combined[c].tolist() if c in combined else [None] * len(combined)
    keys = list(zip(*(combined[c].tolist() for c in SERIES), strict=True))
    bounds = [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
    decisions: list[Decision] = []
    for lo, hi in zip([0, *bounds], [*bounds, len(keys)], strict=True):
        news = [i for i in range(lo, hi) if cols["_new"][i] >= 0]
        if not news:
            continue
        key = dict(zip(SERIES, keys[lo], strict=True))
        t = th.resolve(thresholds, model=model.model, **{k: v for k, v in key.items() if k != "experiment"})
        if t is None:
            continue
        decisions += _series(t, key, cols, max(lo, news[0] - _walk_back(t)), hi, out)
    decisions.sort(key=lambda d: (d.window_end, d.window_start, d.action != "clear"))
    return decisions


def _series(
    t: Threshold, key: dict[str, str], cols: dict[str, list[Any]], lo: int, hi: int, out: pd.DataFrame
) -> list[Decision]:
    """Walk one series' windows oldest first: statuses, baseline of normal windows, persistence."""
    prior: list[tuple[float, float | None]] = []
    statuses: list[str] = []
    decisions: list[Decision] = []
    # An old window recomputed now while later windows were already judged gets its status, but must
    # not open or clear today's alert: only windows newer than every stored one decide. Label-driven
    # series are the exception: their windows are judged only once final (the label horizon passed),
    # which happens in window order, so a window that just became final is the newest decision.
    label_driven = key["family"] in ("performance", "volume", "kpi")
    decided_until = (
        -(2**63)
        if label_driven
        else max((cols["_start"][i] for i in range(lo, hi) if cols["_new"][i] < 0), default=-(2**63))
    )
    for i in range(lo, hi):
        value, n = _float(cols["value"][i]), _float(cols["n"][i])
        raw = cols["status"][i]
        status = raw if isinstance(raw, str) and raw else "ok"
        ev = th.evaluate(
            t,
            value,
            row_status=status,
            row_threshold=_float(cols["threshold"][i]),
            n=n,
            prior=prior,
            interval=(_float(cols["lower"][i]), _float(cols["upper"][i])),
        )
        statuses.append(ev.status)
        if ev.status == "ok" and value is not None:
            # Only normal windows form the baseline: a breach must not drag "normal" towards itself.
            prior.append((value, n))
        new_idx = int(cols["_new"][i])
        if new_idx < 0:
            continue
        if t.kind != "status" or t.warning is not None or t.critical is not None:
            out.at[new_idx, "status"] = ev.status
            out.at[new_idx, "threshold"] = math.nan if ev.bound is None else ev.bound
        if cols["provisional"][i] in (True, 1) and label_driven:
            continue  # labels still arriving: judged later, when the window is final
        if cols["_start"][i] < decided_until:
            continue
        if th.persistent(statuses, t.persist_n, t.persist_m):
            action = "fire"
        elif ev.status == "ok":
            action = "clear"
        else:
            continue
        recent = list(zip(statuses, cols["_start"][i - len(statuses) + 1 : i + 1], strict=True))[
            -t.persist_m :
        ]
        since = min(s for st, s in recent if th.breaching(st)) if action == "fire" else cols["_start"][i]
        details = {"note": ev.note, "n": n, "method": str(cols["method"][i] or "")}
        decisions.append(
            Decision(
                action,
                key,
                t,
                ev.status,
                value,
                ev.bound,
                ev.baseline,
                _iso_micros(since),
                _iso_micros(cols["_start"][i]),
                _iso_micros(cols["_end"][i]),
                details,
            )
        )
    return decisions
