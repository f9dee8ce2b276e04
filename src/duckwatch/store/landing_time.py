"""A landing batch's event-time checks: missing, not a date-time, or outside the accepted range.

The range (store/time_range.py) is [lo, hi) with hi = the batch's arrival + max future days, so
every ingest path (row by row, and the Parquet byte copy, which falls back to row by row when a
row is bad) quarantines the same rows with the same reasons.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from duckwatch.store.input_checks import SHORT_CHARS
from duckwatch.store.sql_text import literal
from duckwatch.store.time_range import out_of_range_tail

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TWO_DAYS_US = 2 * 86_400_000_000  # more than any time zone's offset
_NOT_A_TIME = " is not a date-time: use ISO-8601 such as 2026-01-31T12:00:00Z"


def short_value(column: str) -> str:
    """SQL: ``column`` as text for a reason, cut to its first 200 characters and its length when longer
    (input_checks.shorten in SQL: a 50 MB value must not make a 50 MB reason)."""
    v = f"CAST({column} AS VARCHAR)"
    n = SHORT_CHARS
    return f"(CASE WHEN length({v}) > {n} THEN left({v}, {n}) || '… (' || length({v}) || ' characters)' ELSE {v} END)"


def _us(ts: datetime) -> int:
    """Microseconds since 1970 (UTC): bounds compare as integers, since a TIMESTAMPTZ constant is
    cast again on every row (~0.3 s per million rows here)."""
    return (ts - _EPOCH) // timedelta(microseconds=1)


def time_reason(ts_index: int, ts_kind: str, expr: str, lo: datetime | None, hi: datetime | None) -> str:
    """SQL giving a row's event-time quarantine reason, or NULL when its time is fine.

    ``expr``: the row's time as TIMESTAMPTZ, NULL where the text or number cannot be one (times of
    other kinds than date/time columns, converted once per row by the caller).
    """
    s = f"s{ts_index}"
    value = f"'timestamp ' || {short_value(s)}"
    outside = literal(out_of_range_tail(lo, hi)) if lo is not None and hi is not None else None
    checks = [f"WHEN {s} IS NULL THEN {literal('missing timestamp')}"]
    if ts_kind == "timestamp":  # a date/time column cast to TIMESTAMPTZ either succeeds or raises
        conv = f"CAST({s} AS TIMESTAMPTZ)"
        if lo is not None and hi is not None:
            # Read as UTC, a wall-clock time two days inside the bounds is inside them in any zone:
            # only the other rows pay for the conversion in the model's zone.
            inner = (_us(lo) + _TWO_DAYS_US, _us(hi) - _TWO_DAYS_US)
            # The cast is free for TIMESTAMPTZ and lets nanosecond columns (pandas) in: epoch_us has
            # no TIMESTAMPTZ_NS form. Any zone's reading is inside the two days of slack.
            us = f"epoch_us(CAST({s} AS TIMESTAMPTZ))"
            checks.append(f"WHEN {us} >= {inner[0]} AND {us} < {inner[1]} THEN NULL")
    else:
        conv = f"({expr})"
        if ts_kind == "epoch" and outside is not None:
            # A finite epoch number no date-time can hold (e.g. 1e20) is a time out of any range.
            checks.append(f"WHEN {conv} IS NULL AND isfinite(CAST({s} AS DOUBLE)) THEN {value} || {outside}")
        checks.append(f"WHEN {conv} IS NULL THEN {value} || {literal(_NOT_A_TIME)}")
    if outside is not None:
        checks.append(f"WHEN NOT ({in_range(conv, lo, hi)}) THEN {value} || {outside}")
    return f"CASE {' '.join(checks)} END"


def in_range(conv: str, lo: datetime | None, hi: datetime | None) -> str:
    """SQL true when the TIMESTAMPTZ ``conv`` lies in [lo, hi) (always true without bounds)."""
    if lo is None or hi is None:
        return "true"
    return f"epoch_us({conv}) >= {_us(lo)} AND epoch_us({conv}) < {_us(hi)}"
