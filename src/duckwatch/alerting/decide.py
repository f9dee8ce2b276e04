"""Thresholds applied to metric series: the status of every new window, and which alerts fire or clear.

`evaluate_and_alert` (alerting/alerts.py) turns these decisions into alerts, incidents and notifications.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from duckwatch.alerting import thresholds as th
from duckwatch.alerting.reference import Bands, judge_reference, parse_bands
from duckwatch.alerting.series import Judged, judge, persistence
from duckwatch.store.alerting import Threshold
from duckwatch.store.catalog import ModelInfo

SERIES = ["version", "experiment", "family", "metric", "col", "segment"]
LABEL_DRIVEN = ("performance", "volume", "kpi")
_NEVER = -(2**63)
_READ = [*SERIES, "window_start", "window_end", "value", "n", "status", "threshold", "lower", "upper",
         "provisional", "method", "details"]  # fmt: skip


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


@dataclass(frozen=True)
class Decided:
    """The decisions to apply, in order, and every window end (ISO text, sorted) that had a decision,
    including clears dropped as no-ops: the incident grouping runs after each of those windows."""

    decisions: list[Decision]
    windows: list[str]


def decide(
    model: ModelInfo, thresholds: list[Threshold], out: pd.DataFrame, history: pd.DataFrame
) -> list[Decision]:
    """Evaluate every series (in window order) and fill status/threshold of the new rows in ``out``."""
    return decide_windows(model, thresholds, out, history).decisions


def decide_windows(
    model: ModelInfo,
    thresholds: list[Threshold],
    out: pd.DataFrame,
    history: pd.DataFrame,
    alert_key: Callable[[dict[str, str]], str] | None = None,
    open_keys: Collection[str] = (),
) -> Decided:
    """`decide`, series by series with numpy, and the windows that had a decision. With ``alert_key``, a
    clear is kept only while an alert is open under its key (``open_keys`` at first, then as the
    decisions before it open and resolve alerts): any other clear would resolve nothing."""
    rows = _Rows(out, history, thresholds)
    status_out = out["status"].to_numpy(dtype=object, copy=True)
    threshold_out = out["threshold"].to_numpy(dtype="float64", copy=True)
    picked: list[tuple[_Series, np.ndarray, np.ndarray]] = []  # series, its decision rows, which fire
    for lo, hi, key in rows.spans():
        news = np.flatnonzero(rows.new[lo:hi] >= 0)
        if not len(news):
            continue
        scope = {k: v for k, v in key.items() if k != "experiment"}
        t = th.resolve(thresholds, model=model.model, **scope)
        if t is not None and t.kind == "reference" and not rows.bands(lo, hi).present().any():
            # No labelled reference (or a segment): the next threshold in line judges the series.
            t = th.resolve([x for x in thresholds if x.kind != "reference"], model=model.model, **scope)
        if t is None:
            continue
        lo = max(lo, lo + int(news[0]) - _walk_back(t))
        series = _Series(key, t, lo, rows.judge(t, lo, hi))
        new = rows.new[lo:hi]
        fresh = new >= 0
        if t.kind != "status" or t.warning is not None or t.critical is not None:
            status_out[new[fresh]] = series.judged.status[fresh]
            threshold_out[new[fresh]] = series.judged.bound[fresh]
        fires, series.since = persistence(series.judged.status, t.persist_n, t.persist_m)
        decides = fresh & (fires | (series.judged.status == "ok"))
        # An old window recomputed now while later windows were already judged gets its status, but must
        # not open or clear today's alert: only windows newer than every stored one decide. Label-driven
        # series are the exception: their windows are judged only once final (the label horizon passed),
        # which happens in window order, so a window that just became final is the newest decision.
        if key["family"] in LABEL_DRIVEN:
            decides &= ~rows.provisional[lo:hi]  # labels still arriving: judged later, when final
        else:
            stored = rows.start[lo:hi][~fresh]
            decides &= rows.start[lo:hi] >= (stored.max() if len(stored) else _NEVER)
        at = np.flatnonzero(decides)
        if len(at):
            picked.append((series, at, fires[at]))
    out["status"] = pd.Series(status_out, index=out.index, dtype=out["status"].dtype)
    out["threshold"] = threshold_out
    ends = np.concatenate([rows.end[s.lo + at] for s, at, _f in picked]) if picked else np.zeros(0, np.int64)
    windows = sorted(_iso_micros(e) for e in np.unique(ends).tolist())
    chosen = _in_order(rows, picked, alert_key, open_keys)
    methods = rows.methods([series.lo + i for series, i, _fire in chosen])
    decisions = [
        rows.decision(series, i, fire, method)
        for (series, i, fire), method in zip(chosen, methods, strict=True)
    ]
    return Decided(decisions, windows)


def _in_order(
    rows: _Rows,
    picked: list[tuple[_Series, np.ndarray, np.ndarray]],
    alert_key: Callable[[dict[str, str]], str] | None,
    open_keys: Collection[str],
) -> list[tuple[_Series, int, bool]]:
    """(series, walked window, fires) of every decision, in the order they apply: by window end, start
    (as ISO text), clears first, then series order. With ``alert_key``, a clear is left out when no alert
    is open under its key at that point: applying it would change nothing (most of the ~100k of a
    720-window tick)."""
    keys = [alert_key(series.key) for series, _at, _f in picked] if alert_key else []
    live = set(open_keys) | {key for key, (_s, _at, fires) in zip(keys, picked, strict=False) if fires.any()}
    parts = []
    for n, (_series, at, fires) in enumerate(picked):
        every = alert_key is None or keys[n] in live
        parts.append((n, at if every else at[fires], fires if every else fires[fires]))
    if not parts:
        return []
    which = np.concatenate([np.full(len(at), n) for n, at, _f in parts])
    walked = np.concatenate([at for _n, at, _f in parts])
    fire = np.concatenate([fires for _n, _at, fires in parts])
    row = np.array([series.lo for series, _at, _f in picked], dtype=np.int64)[which] + walked
    # Stable: equal keys keep series order, then window order.
    order = np.lexsort((fire, _text_rank(rows.start[row]), _text_rank(rows.end[row]))).tolist()
    chosen = [(int(which[i]), int(walked[i]), bool(fire[i])) for i in order]
    if alert_key is None:
        return [(picked[n][0], i, f) for n, i, f in chosen]
    is_open = dict.fromkeys(open_keys, True)
    out: list[tuple[_Series, int, bool]] = []
    for n, i, f in chosen:
        if f or is_open.get(keys[n], False):
            is_open[keys[n]] = f  # a fire opens or refreshes the alert, a clear resolves it
            out.append((picked[n][0], i, f))
    return out


def _text_rank(micros: np.ndarray) -> np.ndarray:
    """Each time's rank in the order of its ISO text (the order decisions apply in)."""
    distinct, inverse = np.unique(micros, return_inverse=True)
    texts = [_iso_micros(u) for u in distinct.tolist()]
    rank = np.empty(len(texts), dtype=np.int64)
    rank[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts))
    return rank[inverse]


class _Series:
    """One series' threshold, the first row it walks from, and its judged windows."""

    def __init__(self, key: dict[str, str], t: Threshold, lo: int, judged: Judged) -> None:
        self.key, self.threshold, self.lo, self.judged = key, t, lo, judged
        self.since = np.zeros(0, dtype=np.int64)


class _Rows:
    """History and new rows of every series, oldest first, a recomputed window replacing its stored copy;
    the columns a decision reads, as numpy arrays."""

    def __init__(self, out: pd.DataFrame, history: pd.DataFrame, thresholds: list[Threshold]) -> None:
        new = out[[c for c in _READ if c in out]].assign(_new=range(len(out)))
        history = _recent_history(history, out, thresholds)
        history = history[[c for c in _READ if c in history]]
        parts = [history.assign(_new=-1), new] if len(history) else [new]
        combined = pd.concat(parts, ignore_index=True)
        keys = combined[SERIES].fillna("").astype(str)
        code = keys.groupby(SERIES, sort=True).ngroup().to_numpy()
        start, new_idx = _micros(combined["window_start"]), combined["_new"].to_numpy()
        # New rows sort after history rows of the same window; the last of each window is kept.
        order = np.lexsort((new_idx, start, code))
        code, start = code[order], start[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = (code[1:] != code[:-1]) | (start[1:] != start[:-1])
        self.order = order[last]
        self.code, self.start, self.new = code[last], start[last], new_idx[self.order]
        self.end = _micros(combined["window_end"])[self.order]
        self.keys, self.combined = keys, combined
        self.value, self.n = self._floats("value"), self._floats("n")
        self.threshold, self.lower, self.upper = (self._floats(c) for c in ("threshold", "lower", "upper"))
        self.status = _statuses(combined["status"].take(self.order))
        flags = (
            _flags(combined["provisional"]) if "provisional" in combined else np.zeros(len(combined), bool)
        )
        self.provisional = flags[self.order]

    def spans(self) -> list[tuple[int, int, dict[str, str]]]:
        """[lo, hi) and the key of each series, in key order."""
        cuts = [0, *(np.flatnonzero(self.code[1:] != self.code[:-1]) + 1).tolist(), len(self.code)]
        spans = [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]
        firsts = self.keys.iloc[self.order[[lo for lo, _hi in spans]]].itertuples(index=False, name=None)
        return [
            (lo, hi, dict(zip(SERIES, key, strict=True))) for (lo, hi), key in zip(spans, firsts, strict=True)
        ]

    def methods(self, at: list[int]) -> list[Any]:
        """The method of sorted rows ``at``, as the frame holds it."""
        if "method" not in self.combined:
            return [None] * len(at)
        return list(self.combined["method"].take(self.order[at]).tolist()) if at else []

    def bands(self, lo: int, hi: int) -> Bands:
        """The reference bands in the details of rows [lo, hi)."""
        if "details" not in self.combined:
            return parse_bands([None] * (hi - lo))
        return parse_bands(self.combined["details"].take(self.order[lo:hi]).tolist())

    def judge(self, t: Threshold, lo: int, hi: int) -> Judged:
        """Rows [lo, hi) of one series judged against ``t``."""
        cut = slice(lo, hi)
        if t.kind == "reference":
            return judge_reference(t, self.value[cut], self.n[cut], self.status[cut], self.bands(lo, hi))
        return judge(
            t, self.value[cut], self.n[cut], self.status[cut], self.threshold[cut], self.lower[cut],
            self.upper[cut],
        )  # fmt: skip

    def decision(self, series: _Series, i: int, fire: bool, method: Any) -> Decision:
        """The decision of the series' ``i``-th walked window."""
        row, judged = series.lo + i, series.judged
        start = int(self.start[row])
        since = int(self.start[series.lo + int(series.since[i])]) if fire else start
        value, n = _optional(self.value[row]), _optional(self.n[row])
        return Decision(
            "fire" if fire else "clear",
            series.key,
            series.threshold,
            str(judged.status[i]),
            value,
            float(judged.bound[i]) if judged.has_bound[i] else None,
            float(judged.baseline[i]) if judged.has_baseline[i] else None,
            _iso_micros(since),
            _iso_micros(start),
            _iso_micros(int(self.end[row])),
            {"note": str(judged.note[i]), "n": n, "method": str(method or "")},
        )

    def _floats(self, column: str) -> np.ndarray:
        """``_float`` of every kept row: float64, NaN where it gives None."""
        if column not in self.combined:
            return np.full(len(self.order), np.nan)
        values = self.combined[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            out = values.to_numpy(dtype="float64", na_value=np.nan)[self.order]
        else:
            taken = values.iloc[self.order].tolist()
            out = np.array([math.nan if (f := _float(v)) is None else f for v in taken], dtype="float64")
        out[~np.isfinite(out)] = np.nan
        return out


def _optional(value: float) -> float | None:
    return None if value != value else float(value)


def _statuses(values: pd.Series) -> np.ndarray:
    """A row's status as judged: its text, or 'ok' where it is missing, empty or not text."""
    codes, distinct = pd.factorize(values.to_numpy(dtype=object))  # a few distinct statuses
    judged = [v if isinstance(v, str) and v else "ok" for v in distinct.tolist()]
    return np.array([*judged, "ok"], dtype=object)[codes]  # code -1 (missing) picks the last


def _flags(values: pd.Series) -> np.ndarray:
    """``value in (True, 1)`` per row."""
    if pd.api.types.is_bool_dtype(values) and not values.hasnans:
        return values.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values):
        flags: np.ndarray = values.to_numpy(dtype="float64", na_value=np.nan) == 1
        return flags
    return np.array([v in (True, 1) for v in values.tolist()], dtype=bool)
