"""The column-wise decisions (alerting/decide.py) against a straightforward reference kept here: the
per-window walk the job used before, on random series of every threshold kind."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckwatch.alerting import decide as ad
from duckwatch.alerting import thresholds as th
from duckwatch.store.alerting import Threshold
from duckwatch.store.catalog import ModelInfo

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = ModelInfo(model="churn", model_key=1, display_name="Churn")
COLUMNS = [
    "model", "version", "experiment", "segment", "window_start", "window_end", "family", "metric", "col",
    "value", "lower", "upper", "exact", "method", "threshold", "status", "n", "provisional", "details",
]  # fmt: skip
# (family, metric, col): drift and quality judge each window alone; performance and kpi are label-driven.
SERIES = [("drift", "psi", "age"), ("quality", "null_share", "age"), ("performance", "accuracy", "*"),
          ("kpi", "revenue", "*"), ("estimate", "estimated_accuracy", "*")]  # fmt: skip


def reference(thresholds: list[Threshold], out: pd.DataFrame, history: pd.DataFrame) -> list[ad.Decision]:
    """Every series walked window by window with thresholds.evaluate/persistent (the job's old code)."""
    new = out.assign(_new=range(len(out)))
    history = ad._recent_history(history, out, thresholds)
    combined = pd.concat([history.assign(_new=-1), new] if len(history) else [new], ignore_index=True)
    combined[ad.SERIES] = combined[ad.SERIES].fillna("").astype(str)
    combined["_start"] = ad._micros(combined["window_start"])
    combined["_end"] = ad._micros(combined["window_end"])
    combined = combined.sort_values([*ad.SERIES, "_start", "_new"], kind="stable")
    combined = combined.drop_duplicates([*ad.SERIES, "_start"], keep="last").reset_index(drop=True)
    cols = {c: combined[c].tolist() for c in ("value", "n", "status", "threshold", "_start", "_end", "_new")}
    for c in ("provisional", "method", "lower", "upper"):
        cols[c] = combined[c].tolist()
    keys = list(zip(*(combined[c].tolist() for c in ad.SERIES), strict=True))
    cuts = [0, *(i for i in range(1, len(keys)) if keys[i] != keys[i - 1]), len(keys)]
    decisions: list[ad.Decision] = []
    for lo, hi in itertools.pairwise(cuts):
        news = [i for i in range(lo, hi) if cols["_new"][i] >= 0]
        key = dict(zip(ad.SERIES, keys[lo], strict=True))
        t = th.resolve(thresholds, model="churn", **{k: v for k, v in key.items() if k != "experiment"})
        if news and t is not None:
            decisions += _series(t, key, cols, max(lo, news[0] - ad._walk_back(t)), hi, out)
    decisions.sort(key=lambda d: (d.window_end, d.window_start, d.action != "clear"))
    return decisions


def _series(
    t: Threshold, key: dict[str, str], cols: dict[str, list[Any]], lo: int, hi: int, out: pd.DataFrame
) -> list[ad.Decision]:
    prior: list[tuple[float, float | None]] = []
    statuses: list[str] = []
    decisions = []
    label_driven = key["family"] in ("performance", "volume", "kpi")
    stored = [cols["_start"][i] for i in range(lo, hi) if cols["_new"][i] < 0]
    decided_until = -(2**63) if label_driven or not stored else max(stored)
    for i in range(lo, hi):
        value, n = ad._float(cols["value"][i]), ad._float(cols["n"][i])
        raw = cols["status"][i]
        ev = th.evaluate(
            t,
            value,
            row_status=raw if isinstance(raw, str) and raw else "ok",
            row_threshold=ad._float(cols["threshold"][i]),
            n=n,
            prior=prior,
            interval=(ad._float(cols["lower"][i]), ad._float(cols["upper"][i])),
        )
        statuses.append(ev.status)
        if ev.status == "ok" and value is not None:
            prior.append((value, n))
        new_idx = int(cols["_new"][i])
        if new_idx < 0:
            continue
        if t.kind != "status" or t.warning is not None or t.critical is not None:
            out.at[new_idx, "status"] = ev.status
            out.at[new_idx, "threshold"] = math.nan if ev.bound is None else ev.bound
        if (cols["provisional"][i] in (True, 1) and label_driven) or cols["_start"][i] < decided_until:
            continue
        if th.persistent(statuses, t.persist_n, t.persist_m):
            action = "fire"
        elif ev.status == "ok":
            action = "clear"
        else:
            continue
        starts = cols["_start"][i - len(statuses) + 1 : i + 1]
        recent = list(zip(statuses, starts, strict=True))[-t.persist_m :]
        since = (
            min(s for status, s in recent if th.breaching(status)) if action == "fire" else cols["_start"][i]
        )
        details = {"note": ev.note, "n": n, "method": str(cols["method"][i] or "")}
        iso = ad._iso_micros
        when = (iso(since), iso(cols["_start"][i]), iso(cols["_end"][i]))
        decisions.append(ad.Decision(action, key, t, ev.status, value, ev.bound, ev.baseline, *when, details))
    return decisions


LEVELS = st.one_of(st.none(), st.sampled_from([-0.5, -0.1, 0.0, 0.05, 0.2, 1.0, 2.5]))


@st.composite
def thresholds(draw: st.DrawFn, family: str, tid: int) -> Threshold:
    kind = draw(st.sampled_from(["absolute", "sigma", "relative", "status"]))
    warning, critical = draw(LEVELS), draw(LEVELS)
    if kind != "status" and warning is None and critical is None:
        warning = 0.1
    m = draw(st.integers(1, 4))
    return Threshold(
        id=tid, family=family, kind=kind, direction=draw(st.sampled_from(["above", "below", "both"])),
        warning=warning, critical=critical, persist_n=draw(st.integers(1, m)), persist_m=m,
        lookback=draw(st.integers(1, 5)), severity_policy=draw(st.sampled_from(["page", "annotate"])),
    )  # fmt: skip


VALUES = st.one_of(
    st.sampled_from([math.nan, math.inf, 0.0, 1.0]), st.floats(-2, 3, allow_nan=False, allow_infinity=False)
)
ROW = st.tuples(
    VALUES,  # value
    st.sampled_from(["ok", "ok", "ok", "warning", "critical", "insufficient", "", "stale"]),  # status
    st.sampled_from([0, 100, 150, 400, 1000]),  # n
    st.booleans(),  # provisional
    st.sampled_from([math.nan, -1.0, 0.5]),  # lower
    st.sampled_from([math.nan, 0.6, 3.0]),  # upper
    st.sampled_from([math.nan, 0.1]),  # row threshold
    st.sampled_from(["test", "", None]),  # method
)


def _row(family: str, metric: str, col: str, window: int, cells: tuple[Any, ...]) -> dict[str, Any]:
    value, status, n, provisional, lower, upper, threshold, method = cells
    start = pd.Timestamp(T0 + timedelta(days=window))
    return {
        "model": "churn", "version": "v1", "experiment": "", "segment": "", "window_start": start,
        "window_end": start + pd.Timedelta(days=1), "family": family, "metric": metric, "col": col,
        "value": value, "lower": lower, "upper": upper, "exact": True, "method": method,
        "threshold": threshold, "status": status, "n": n, "provisional": provisional, "details": "",
    }  # fmt: skip


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Threshold], pd.DataFrame, pd.DataFrame]:
    """History windows 0..h-1 (some missing), new windows from k <= h (recomputed ones replace stored)."""
    families = draw(st.lists(st.sampled_from(SERIES), min_size=1, max_size=3, unique=True))
    ts = [draw(thresholds(family, i + 1)) for i, (family, _m, _c) in enumerate(families)]
    h = draw(st.integers(0, 14))
    k = draw(st.integers(0, h))
    w = draw(st.integers(k + 1, k + 8))
    hist, new = [], []
    for family, metric, col in families:
        for i in range(h):
            if i >= k or draw(st.booleans()):
                hist.append(_row(family, metric, col, i, draw(ROW)))
        for i in range(k, w):
            if i == k or draw(st.integers(0, 5)):
                new.append(_row(family, metric, col, i, draw(ROW)))
    out = pd.DataFrame(new, columns=COLUMNS)
    out["threshold"] = out["threshold"].astype("float64")
    out["status"] = out["status"].astype("object")
    return ts, out, pd.DataFrame(hist, columns=COLUMNS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_column_wise_decisions_equal_the_window_by_window_walk(
    scenario: tuple[list[Threshold], pd.DataFrame, pd.DataFrame],
) -> None:
    ts, out, history = scenario
    want_out, got_out = out.copy(), out.copy()
    want = reference(ts, want_out, history)
    got = ad.decide(MODEL, ts, got_out, history)
    pd.testing.assert_frame_equal(got_out, want_out, check_exact=True)
    assert got == want
    # Dropping clears that resolve nothing keeps every decision that changes an alert, and every window.
    opened = {"churn|v1||psi|age|"}
    decided = ad.decide_windows(MODEL, ts, out.copy(), history, _key, opened)
    assert decided.windows == sorted({d.window_end for d in want})
    assert _effective(decided.decisions, opened) == _effective(want, opened) == decided.decisions


def _key(key: dict[str, str]) -> str:
    return "|".join(["churn", *(key[k] for k in ("version", "experiment", "metric", "col", "segment"))])


def _effective(decisions: list[ad.Decision], opened: set[str]) -> list[ad.Decision]:
    """The decisions that change an alert: every fire, and a clear while its key's alert is open."""
    live, kept = set(opened), []
    for d in decisions:
        if d.action == "fire" or _key(d.key) in live:
            kept.append(d)
            if d.action == "fire":
                live.add(_key(d.key))
            else:
                live.discard(_key(d.key))
    return kept


def test_recomputed_old_window_gets_its_status_but_decides_nothing() -> None:
    t = Threshold(id=1, family="drift", kind="absolute", warning=0.1, critical=0.2)
    quiet, breach = (
        (0.0, "ok", 100, False, math.nan, math.nan, math.nan, ""),
        (0.5, "ok", 100, False, 0.0, 1.0, 0.0, ""),
    )
    history = pd.DataFrame([_row("drift", "psi", "age", i, quiet) for i in range(5)], columns=COLUMNS)
    out = pd.DataFrame([_row("drift", "psi", "age", 2, breach)], columns=COLUMNS)
    out["status"] = out["status"].astype("object")
    assert ad.decide(MODEL, [t], out, history) == []
    assert out["status"].tolist() == ["critical"] and out["threshold"].tolist() == [0.2]
