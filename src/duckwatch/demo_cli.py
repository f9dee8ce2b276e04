"""`duckwatch demo`: the parser here, the generator (numpy, pandas, the SDK) imported only when it runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from duckwatch.config import resolve_data_dir


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `duckwatch demo` to the CLI tree."""
    p = sub.add_parser("demo", help="create a demo data dir: six models, 60 days, planted incidents")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    p.add_argument("--days", type=int, default=60, help="days of history (default 60, at least 21)")
    p.add_argument("--force", action="store_true", help="write into a data dir that already has data")
    data_dir_arg(p)


def handle(args: argparse.Namespace) -> int:
    """Run `duckwatch demo`."""
    from duckwatch.demo import generate, is_empty

    data = resolve_data_dir(args.data_dir)
    if not getattr(args, "force", False) and not is_empty(data):
        print(
            f"{data.root} already holds data; the demo only writes into an empty data dir. "
            "Use another --data-dir, or --force to add the demo models to it."
        )
        return 2
    summary = generate(data.ensure(), seed=args.seed, days=args.days)
    print(f"demo data in {data.root}; planted incidents:")
    for inc in summary["incidents"]:
        print(f"  {inc['window_start']}  {inc['model']:<15} {inc['severity']:<8} {inc['what']}")
    return 1 if summary["tick_errors"] else 0
