"""`duckwatch collect`: serve the HTTP collector with uvicorn (127.0.0.1 by default)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

TOKEN_ENV = "DUCKWATCH_TOKEN"


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the `collect` sub-command to the CLI tree."""
    p = sub.add_parser(
        "collect",
        help="serve the HTTP collector (POST /v1/models/{model}/predictions and /outcomes)",
        description="Serve the HTTP collector; a 2xx answer means the rows are durable. "
        "Open /openapi.json for the schema.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--token",
        default=None,
        help=f"require 'Authorization: Bearer <token>' (default: ${TOKEN_ENV}; none = no auth)",
    )
    p.add_argument("--max-body-mb", type=float, default=10.0, help="largest request body in MB (default 10)")
    p.add_argument(
        "--idempotency-days",
        type=float,
        default=7.0,
        help="how long an Idempotency-Key is remembered after its first use (default 7 days)",
    )
    data_dir_arg(p)


def handle(args: argparse.Namespace) -> int:
    """Run the collector until Ctrl-C/SIGTERM."""
    import uvicorn

    from duckwatch.collector.http import create_app

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.max_body_mb <= 0:
        print("--max-body-mb must be positive, e.g. --max-body-mb 10", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        print(
            f"warning: serving on {args.host} without a token; set --token or ${TOKEN_ENV}",
            file=sys.stderr,
        )
    if args.idempotency_days <= 0:
        print("--idempotency-days must be positive, e.g. --idempotency-days 7", file=sys.stderr)
        return 2
    app = create_app(
        args.data_dir,
        token=token,
        max_body_bytes=int(args.max_body_mb * 1_000_000),
        idempotency_ttl_days=args.idempotency_days,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
