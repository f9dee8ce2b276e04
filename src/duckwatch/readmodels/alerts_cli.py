"""`duckwatch alerts`: incidents with the same words and timeline as the app (readmodels.incident_view)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from duckwatch.config import resolve_data_dir

__all__ = ["add_parser", "handle"]


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `duckwatch alerts` to the CLI tree."""
    p = sub.add_parser(
        "alerts",
        help="list incidents (started, detected, acknowledged, resolved) and their alerts",
        epilog="times are in each model's time zone, named; --format json adds ISO times and ids",
    )
    p.add_argument("--model", default=None)
    p.add_argument("--state", choices=("open", "acknowledged", "resolved"), default=None)
    p.add_argument("--format", choices=("table", "json"), default="table")
    data_dir_arg(p)


def handle(args: argparse.Namespace) -> int:
    """Run `duckwatch alerts`."""
    from duckwatch.readmodels.incident_view import MOMENTS, load
    from duckwatch.readmodels.metric_words import metric_name
    from duckwatch.store.incidents import list_alerts
    from duckwatch.store.settings import Settings

    data = resolve_data_dir(args.data_dir).ensure()
    settings = Settings(data.settings)
    incidents = load(data, args.model, args.state)
    if args.format == "json":
        out = []
        for inc in incidents:
            line, texts = inc.pop("timeline"), inc.pop("when")
            inc["timeline"] = {k: texts[k] for k in MOMENTS} | {"found_by_backfill": line.by_backfill}
            # The stored durations count from the backfill's clock; these follow the timeline (null = not measured).
            for key, delta in (
                ("time_to_detect_s", line.time_to_detect()),
                ("time_to_resolve_s", line.time_to_resolve()),
            ):
                inc[key] = None if delta is None else delta.total_seconds()
            inc["alerts"] = list_alerts(settings, incident_id=inc["id"])
            out.append(inc)
        print(json.dumps(out, indent=2, default=str))
        return 0
    if not incidents:
        print("no incidents" + (f" in state {args.state}" if args.state else ""))
        return 0
    for inc in incidents:
        print(f"#{inc['id']} [{inc['severity']}] {inc['state']:<12} {inc['headline']}")
        print(f"    {inc['timeline'].line()}")
        print(f"    {inc['timeline'].durations()}")
        if inc["cause"]:
            print(f"    likely cause: {inc['cause']}")
        for a in list_alerts(settings, incident_id=inc["id"]):
            col = f" of {a['col']}" if a["col"] else ""
            print(
                f"    - {metric_name(a['metric'])}{col} = {a['value']} [{a['metric']}] "
                f"({a['severity']}, {a['policy']}, {a['state']})"
            )
    return 0
