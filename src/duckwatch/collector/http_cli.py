"""`duckwatch collect`: serve the HTTP collector with uvicorn (127.0.0.1 by default), token required."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from duckwatch.collector.http_guard import HOSTS_ENV, ORIGINS_ENV, split_list
from duckwatch.collector.http_token import TOKEN_ENV, TOKEN_FILE


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the `collect` sub-command to the CLI tree."""
    p = sub.add_parser(
        "collect",
        help="serve the HTTP collector (POST /v1/models/{model}/predictions and /outcomes)",
        description="Serve the HTTP collector; a 2xx answer means the rows are durable. "
        "Writes need 'Authorization: Bearer <token>' and 'Content-Type: application/json'. "
        "Open /openapi.json for the schema.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--token-file",
        default=None,
        help=f"read the token from this file (default: ${TOKEN_ENV}, else DATA/{TOKEN_FILE}, "
        "generated owner-only at the first start)",
    )
    p.add_argument(
        "--token", default=None, help="the token itself (visible to every user in `ps`: prefer --token-file)"
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help=f"another host name clients (or a proxy) use to reach the collector; repeatable (also ${HOSTS_ENV})",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help=f"a web origin allowed to write, e.g. https://app.example.com; repeatable (also ${ORIGINS_ENV})",
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
    from duckwatch.collector.http_token import resolve_token
    from duckwatch.config import resolve_data_dir
    from duckwatch.errors import DuckwatchError

    if args.max_body_mb <= 0:
        print("--max-body-mb must be positive, e.g. --max-body-mb 10", file=sys.stderr)
        return 2
    if args.idempotency_days <= 0:
        print("--idempotency-days must be positive, e.g. --idempotency-days 7", file=sys.stderr)
        return 2
    data = resolve_data_dir(args.data_dir)
    try:
        data.ensure()
        token = resolve_token(data.root, token=args.token, token_file=args.token_file)
    except DuckwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.token is not None:
        print(
            f"warning: --token is visible to every user of this machine in `ps`; use --token-file or ${TOKEN_ENV}",
            file=sys.stderr,
        )
    # The path, never the token: this output often lands in log files that others read.
    made = "generated a new token in" if token.created else "token from"
    print(
        f"duckwatch collector on http://{args.host}:{args.port}: writes need 'Authorization: Bearer <token>' "
        f"({made} {token.source})",
        file=sys.stderr,
        flush=True,
    )
    app = create_app(
        data.root,
        token=token.value,
        max_body_bytes=int(args.max_body_mb * 1_000_000),
        idempotency_ttl_days=args.idempotency_days,
        token_source=token.source,
        allowed_hosts=[args.host, *args.allow_host, *split_list(os.environ.get(HOSTS_ENV))],
        allowed_origins=[*args.allow_origin, *split_list(os.environ.get(ORIGINS_ENV))],
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
