"""`duckwatch time-range`: show or set the event times every ingest path accepts (one setting per data dir)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from duckwatch.config import resolve_data_dir


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `duckwatch time-range` to the CLI tree."""
    p = sub.add_parser(
        "time-range",
        help="show or set the accepted event-time range (rows outside it are quarantined)",
        epilog="example: duckwatch time-range --min-time 2020-01-01 --max-future-days 30 --reason 'no replays'",
    )
    p.add_argument("--min-time", default=None, help="earliest accepted time, ISO-8601 (default 1970-01-01)")
    p.add_argument(
        "--max-future-days", default=None, help="days past a batch's arrival still accepted (default 365)"
    )
    p.add_argument("--reason", default="", help="why (kept in the audit log)")
    p.add_argument("--actor", default="cli", help="who (kept in the audit log)")
    data_dir_arg(p)


def handle(args: argparse.Namespace) -> int:
    """Run `duckwatch time-range`: set what is given, then print the range in force."""
    from duckwatch.store import time_range
    from duckwatch.store.settings import Settings

    settings = Settings(resolve_data_dir(args.data_dir).ensure().settings)
    if args.min_time is not None or args.max_future_days is not None:
        time_range.save(
            settings,
            actor=args.actor,
            min_time=args.min_time,
            max_future_days=args.max_future_days,
            reason=args.reason,
        )
    kept, used = time_range.stored(settings), time_range.load(settings)
    lo, hi = used.bounds(datetime.now(UTC))
    print(
        f"data dir setting: from {time_range.fmt(kept.min_time)}, up to {kept.max_future_days:g} days ahead"
    )
    if used != kept:
        print(f"this process ({time_range.MIN_TIME_ENV} / {time_range.MAX_FUTURE_DAYS_ENV}): overridden")
    print(f"accepted now: {time_range.fmt(lo)} (inclusive) to {time_range.fmt(hi)} (exclusive)")
    return 0
