"""`duckwatch report`: write a model's dated, printable HTML report for a period."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from duckwatch.config import resolve_data_dir
from duckwatch.errors import BadInputError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it as YYYY-MM-DD") from exc


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `duckwatch report` to the CLI tree."""
    p = sub.add_parser(
        "report",
        help="write a self-contained, printable HTML report of one model for a period",
        epilog="example: duckwatch report --model fraud --from 2026-01-01 --to 2026-01-31 --out fraud-jan.html",
    )
    p.add_argument("--model", required=True)
    p.add_argument(
        "--from", dest="start", type=_day, default=None, help="first day, YYYY-MM-DD (default: all)"
    )
    p.add_argument(
        "--to", dest="end", type=_day, default=None, help="last day, YYYY-MM-DD, inclusive (default: all)"
    )
    p.add_argument("--out", required=True, help="HTML file to write")
    data_dir_arg(p)


def handle(args: argparse.Namespace) -> int:
    """Run `duckwatch report`."""
    from duckwatch.readmodels.report import build_report

    data = resolve_data_dir(args.data_dir)
    try:
        html = build_report(data, args.model, args.start, args.end, now=datetime.now(UTC))
    except BadInputError as exc:
        print(f"error: {exc}")
        return 2
    out = Path(args.out)
    if out.parent and not out.parent.is_dir():
        print(f"error: folder {out.parent} does not exist: create it or choose another --out")
        return 2
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out} ({len(html.encode('utf-8')):,} bytes)")
    return 0
