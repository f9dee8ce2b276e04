"""`duckwatch export` and `duckwatch quarantine`: tables read out as CSV, JSON or Parquet.

CSV text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
return) are written with a leading ``'``, as the app's "Download CSV" does; ``--raw`` writes them as
stored, for scripts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from duckwatch.config import resolve_data_dir
from duckwatch.errors import DuckwatchError

RAW_HELP = (
    "CSV: write text cells as stored; by default a cell starting with = + - @ (a spreadsheet formula) "
    "gets a leading ' so spreadsheets show it as text"
)


def add_quarantine_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `duckwatch quarantine` to the CLI tree."""
    p = sub.add_parser("quarantine", help="show rows that were set aside, with the reason")
    p.add_argument("--model", required=True)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--raw", action="store_true", help=RAW_HELP)
    data_dir_arg(p)


def add_export_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `duckwatch export` to the CLI tree."""
    p = sub.add_parser("export", help="read out what the app shows, as CSV or Parquet")
    p.add_argument("what", choices=["metrics", "quarantine", "windows"])
    p.add_argument("--model", required=True)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", type=Path, help="output file (default: stdout for CSV)")
    p.add_argument("--raw", action="store_true", help=RAW_HELP)
    data_dir_arg(p)


def quarantine(args: argparse.Namespace) -> int:
    """Run `duckwatch quarantine`."""
    from duckwatch.readmodels.views import quarantine_rows
    from duckwatch.safe_text import csv_text

    data = resolve_data_dir(args.data_dir)
    frame = quarantine_rows(data, args.model, args.limit)
    if args.format == "json":
        print(frame.to_json(orient="records", date_format="iso"))
    elif args.format == "csv":
        sys.stdout.write(csv_text(frame, raw=args.raw))
    elif frame.empty:
        print(f"no quarantined rows for {args.model!r}")
    else:
        print(frame.to_string(index=False, max_colwidth=80))
    return 0


def export(args: argparse.Namespace) -> int:
    """Run `duckwatch export`."""
    from duckwatch.readmodels.views import export_frame
    from duckwatch.safe_text import csv_text

    data = resolve_data_dir(args.data_dir)
    frame = export_frame(data, args.what, args.model)
    if args.format == "parquet":
        if args.out is None:
            raise DuckwatchError("--out FILE is required for --format parquet")
        frame.to_parquet(args.out, index=False)
    elif args.out is None:
        sys.stdout.write(csv_text(frame, raw=args.raw))
    else:
        args.out.write_text(csv_text(frame, raw=args.raw), encoding="utf-8")
    if args.out is not None:
        print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)
    return 0
