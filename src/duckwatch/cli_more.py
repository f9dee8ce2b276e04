"""Sub-commands that grow with the product: schedule, collect, serve, demo, users, monitors."""

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


def _schedule(args: argparse.Namespace) -> int:
    from duckwatch.config import resolve_data_dir
    from duckwatch.jobs.loop import run_loop

    return run_loop(resolve_data_dir(args.data_dir), every_s=args.every, max_ticks=args.max_ticks)
