"""Sub-commands that grow with the product: schedule, collect, serve, demo, users, monitors, alerts."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {}


def add_parsers(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the extra sub-commands to the CLI tree."""
    p = sub.add_parser("schedule", help="run the job loop (the `schedule` package), until Ctrl-C/SIGTERM")
    p.add_argument("--every", type=float, default=60.0, help="seconds between ticks (default 60)")
    p.add_argument("--max-ticks", type=int, default=0, help="stop after N ticks (0 = forever)")
    data_dir_arg(p)
    HANDLERS["schedule"] = _schedule
    p = sub.add_parser(
        "retention",
        help="drop a model's raw rows of the months before YYYY-MM (summaries stay)",
        epilog="example: duckwatch retention --model fraud --before 2026-01",
    )
    p.add_argument("--model", required=True)
    p.add_argument("--before", required=True, help="first month to keep, YYYY-MM")
    data_dir_arg(p)
    HANDLERS["retention"] = _retention
    # Imported here, when the extra commands are wanted: a core command need not pay for them (cli.py).
    from duckwatch import demo_cli, time_range_cli, users_cli
    from duckwatch.alerting import cli as alerting_cli
    from duckwatch.collector import http_cli
    from duckwatch.readmodels import alerts_cli, report_cli
    from duckwatch.ui import serve_cli

    # Each adds one sub-command with add_parser(sub, data_dir_arg) and handles it with handle(args).
    single = {
        "collect": http_cli,
        "serve": serve_cli,
        "demo": demo_cli,
        "report": report_cli,
        "alerts": alerts_cli,
        "time-range": time_range_cli,
    }
    for name, module in single.items():
        module.add_parser(sub, data_dir_arg)
        HANDLERS[name] = module.handle
    # Adds several sub-commands with add_parsers(sub, data_dir_arg) and a HANDLERS dict.
    from duckwatch.spark import cli as spark_cli

    spark_cli.add_parser(sub, data_dir_arg)
    HANDLERS["spark"] = spark_cli.handle
    users_cli.add_parsers(sub, data_dir_arg)
    HANDLERS.update(users_cli.HANDLERS)
    alerting_cli.add_parsers(sub, data_dir_arg)
    HANDLERS.update(alerting_cli.HANDLERS)


def _retention(args: argparse.Namespace) -> int:
    from duckwatch.config import resolve_data_dir
    from duckwatch.jobs.retention import drop_before

    rows = drop_before(resolve_data_dir(args.data_dir), args.model, args.before)
    print(f"dropped {rows} raw rows of {args.model!r} before {args.before}; metrics and profiles are kept")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from duckwatch.config import resolve_data_dir
    from duckwatch.jobs.loop import run_loop

    return run_loop(resolve_data_dir(args.data_dir), every_s=args.every, max_ticks=args.max_ticks)
