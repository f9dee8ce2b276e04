"""Sub-commands that grow with the product: schedule, collect, serve, demo, users, monitors, alerts."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {}

# module -> the sub-command it adds with add_parser(sub, data_dir_arg) and handles with handle(args)
_SINGLE = {
    "collect": "duckwatch.collector.http_cli",
    "serve": "duckwatch.ui.serve_cli",
    "demo": "duckwatch.demo_cli",
    "report": "duckwatch.readmodels.report_cli",
    "alerts": "duckwatch.readmodels.alerts_cli",
    "time-range": "duckwatch.time_range_cli",
}
# modules that add several sub-commands with add_parsers(sub, data_dir_arg) and a HANDLERS dict
_MULTI = ("duckwatch.users_cli", "duckwatch.jobs.alerting_cli")


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
    for name, module_name in _SINGLE.items():
        module = importlib.import_module(module_name)
        module.add_parser(sub, data_dir_arg)
        HANDLERS[name] = module.handle
    for module_name in _MULTI:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        module.add_parsers(sub, data_dir_arg)
        HANDLERS.update(module.HANDLERS)


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
