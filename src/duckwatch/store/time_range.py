"""The accepted range of event times: one setting per data dir, overridable per process by environment.

A row whose event time lies outside [min_time, arrival + max_future_days) is quarantined at ingestion,
whatever the path (SDK, ``duckwatch ingest``, HTTP): a year-99999 or 1900 time is a bug upstream, and
a window that far out would break every reader. The range is kept in ``settings.sqlite``
(``duckwatch time-range``); ``$DUCKWATCH_MIN_TIME`` and ``$DUCKWATCH_MAX_FUTURE_DAYS`` override it in
one process. An override that cannot be read is logged and ignored: a collector never stops on it.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from duckwatch.errors import BadInputError
from duckwatch.store.settings import Settings, audit, utcnow

MIN_TIME_ENV = "DUCKWATCH_MIN_TIME"
MAX_FUTURE_DAYS_ENV = "DUCKWATCH_MAX_FUTURE_DAYS"
DEFAULT_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_MAX_FUTURE_DAYS = 365.0
MAX_FUTURE_DAYS_LIMIT = 36_525.0  # a century: every bound stays a date Python and pandas can print
_KEYS = ("min_time", "max_future_days")
# Settings of the whole data dir (key -> text), created by the first ``save``: until then every
# value is its default, and the settings store's numbered migrations stay free for its owners.
_TABLE = (
    "CREATE TABLE IF NOT EXISTS data_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, updated_by TEXT NOT NULL)"
)
T = TypeVar("T")
log = logging.getLogger("duckwatch.store")


@dataclass(frozen=True)
class TimeRange:
    """Event times accepted: from ``min_time`` (inclusive) to arrival + ``max_future_days`` (exclusive)."""

    min_time: datetime = DEFAULT_MIN_TIME
    max_future_days: float = DEFAULT_MAX_FUTURE_DAYS

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """[lower, upper) for rows arriving at ``now`` (the upper bound moves with it)."""
        return self.min_time, now + timedelta(days=self.max_future_days)


def parse_min_time(text: str) -> datetime:
    """An ISO-8601 date or date-time (UTC when it names no zone), from year 1 to 9999."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadInputError(
            f"minimum event time {text!r} is not an ISO-8601 date-time: use e.g. 2020-01-01 or "
            "2020-01-01T00:00:00Z"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_max_future_days(text: str | float) -> float:
    """Days past arrival still accepted: a number from 0 to a century."""
    try:
        days = float(text)
    except ValueError as exc:
        raise BadInputError(f"max future days {text!r} is not a number: use e.g. 365") from exc
    if not math.isfinite(days) or not 0 <= days <= MAX_FUTURE_DAYS_LIMIT:
        raise BadInputError(
            f"max future days {text!r} must be between 0 and {MAX_FUTURE_DAYS_LIMIT:.0f}: use e.g. 365"
        )
    return days


def stored(settings: Settings) -> TimeRange:
    """The data dir's own range (defaults where nothing was set), without environment overrides."""
    return load(settings, environ={})


def load(settings: Settings, environ: Mapping[str, str] | None = None) -> TimeRange:
    """The range in force in this process: the data dir's setting, overridden by the environment."""
    env = os.environ if environ is None else environ
    try:
        rows = settings.query("SELECT key, value FROM data_settings WHERE key IN (?, ?)", _KEYS)
    except sqlite3.OperationalError as exc:  # never saved: no table yet
        if "no such table" not in str(exc):
            raise
        rows = []
    kept = {str(r["key"]): str(r["value"]) for r in rows}
    return TimeRange(
        _pick(kept.get("min_time"), env.get(MIN_TIME_ENV), parse_min_time, DEFAULT_MIN_TIME, MIN_TIME_ENV),
        _pick(
            kept.get("max_future_days"),
            env.get(MAX_FUTURE_DAYS_ENV),
            parse_max_future_days,
            DEFAULT_MAX_FUTURE_DAYS,
            MAX_FUTURE_DAYS_ENV,
        ),
    )


def _pick(kept: str | None, override: str | None, parse: Callable[[str], T], default: T, env: str) -> T:
    if override:
        try:
            return parse(override)
        except BadInputError as exc:
            log.error("duckwatch: ignoring $%s: %s", env, exc)
    if kept is not None:
        try:
            return parse(kept)
        except BadInputError as exc:  # validated when saved; never fatal for a collector
            log.error("duckwatch: ignoring the stored event-time range: %s", exc)
    return default


def save(
    settings: Settings,
    *,
    actor: str,
    min_time: str | None = None,
    max_future_days: str | None = None,
    reason: str = "",
) -> TimeRange:
    """Validate and store the data dir's range (only the parts given), with an audit entry."""
    values: dict[str, str] = {}
    if min_time is not None:
        values["min_time"] = parse_min_time(min_time).isoformat()
    if max_future_days is not None:
        values["max_future_days"] = repr(parse_max_future_days(max_future_days))
    before = stored(settings)
    with settings.write() as con:
        con.execute(_TABLE)
        for key, value in values.items():
            con.execute(
                "INSERT INTO data_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (key, value, utcnow(), actor),
            )
        if values:
            audit(
                con,
                actor=actor,
                action="set_time_range",
                target="data dir",
                before=_as_dict(before),
                after={**_as_dict(before), **values},
                reason=reason,
            )
    return stored(settings)


def _as_dict(rng: TimeRange) -> dict[str, str]:
    return {"min_time": rng.min_time.isoformat(), "max_future_days": repr(rng.max_future_days)}


def fmt(ts: datetime) -> str:
    """A bound as people read it (UTC, to the second)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def out_of_range_tail(lo: datetime, hi: datetime) -> str:
    """What follows "timestamp <value>" in the quarantine reason of a time outside [lo, hi)."""
    return (
        f" is outside the accepted range {fmt(lo)} to {fmt(hi)} (exclusive): fix the event time at the "
        "source (ISO-8601 such as 2026-01-31T12:00:00Z, or epoch seconds, milliseconds or microseconds "
        "since 1970) and log the row again, or change the range with `duckwatch time-range` "
        f"(${MIN_TIME_ENV}, ${MAX_FUTURE_DAYS_ENV})"
    )
