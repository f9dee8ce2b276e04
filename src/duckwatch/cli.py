"""The `duckwatch` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duckwatch import cli_export, cli_models
from duckwatch.config import DATA_DIR_ENV, resolve_data_dir
from duckwatch.errors import DuckwatchError

if TYPE_CHECKING:
    from duckwatch.store.landing_copy import BackgroundCopy

# Suffixes of files landed whole (store.files.FORMATS, without importing it: it imports pyarrow).
_SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet"}

EPILOG = """examples:
  duckwatch init
  duckwatch ingest predictions preds.parquet --model credit --version v2 --id-col request_id --time-col ts --score-col p_default
  duckwatch ingest outcomes labels.csv --model credit --id-col request_id --label-col defaulted
  duckwatch reference train.parquet --model credit --score-col p_default --label-col defaulted
  duckwatch run                      # one job tick: ingest, compute, alert, publish
  duckwatch models --format json
  duckwatch quarantine --model credit
  duckwatch export metrics --model credit --format csv --out credit.csv
"""

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register a sub-command handler (modules add their own, e.g. serve, collect, demo)."""

    def wrap(fn: Handler) -> Handler:
        _COMMANDS[name] = fn
        return fn

    return wrap


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        help=f"duckwatch data dir (default: ${DATA_DIR_ENV} or ./data)",
    )


CORE = ("init", "ingest", "reference", "models", "quarantine", "run", "status", "export")


def build_parser(extras: bool = True) -> argparse.ArgumentParser:
    """The argparse tree for every sub-command (``extras=False``: only the core ones, defined here)."""
    parser = argparse.ArgumentParser(
        prog="duckwatch",
        description="Local ML monitoring: collect predictions and outcomes, compute drift, quality and "
        "performance, alert, and browse it all in a Streamlit app.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a data dir")
    _data_dir_arg(p)

    p = sub.add_parser(
        "ingest",
        help="append a CSV/Parquet/JSON-lines file",
        epilog="example: duckwatch ingest predictions preds.csv --model fraud --id-col txn_id --score-col p",
    )
    p.add_argument("stream", choices=["predictions", "outcomes", "inputs", "profiles"])
    p.add_argument(
        "file", type=Path, help="the file (profiles: the directory `duckwatch spark profile` wrote)"
    )
    p.add_argument("--model", required=True)
    p.add_argument("--version", default="")
    p.add_argument("--experiment", default="")
    cli_models.add_role_args(p)
    _data_dir_arg(p)

    p = sub.add_parser("reference", help="set reference (training/baseline) data for a model")
    p.add_argument("file", type=Path)
    p.add_argument("--model", required=True)
    p.add_argument("--version", default="")
    cli_models.add_role_args(p)
    _data_dir_arg(p)

    p = sub.add_parser(
        "models",
        help="list models, versions, rows per stream, quarantined rows; `models set` changes a model's window",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    _data_dir_arg(p)
    cli_models.add_models_set(p, _data_dir_arg)

    cli_export.add_quarantine_parser(sub, _data_dir_arg)

    p = sub.add_parser("run", help="one job tick: ingest, compute new/dirty windows, alert, publish")
    p.add_argument("--no-notify", action="store_true", help="compute and alert but send nothing (backfills)")
    p.add_argument("--quiet", action="store_true")
    _data_dir_arg(p)

    p = sub.add_parser("status", help="is the job alive? last tick, errors, backlog")
    p.add_argument(
        "--stale-after", type=float, default=600.0, help="seconds without a tick that count as stale"
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    _data_dir_arg(p)

    cli_export.add_export_parser(sub, _data_dir_arg)

    if extras:
        from duckwatch import cli_more

        cli_more.add_parsers(sub, _data_dir_arg)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `duckwatch` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # A core command need not import the extra commands' modules (~0.15 s per process).
    core = bool(argv) and argv[0] in CORE
    args = build_parser(extras=not core).parse_args(argv)
    handler = _COMMANDS.get(args.cmd)
    if handler is None:
        from duckwatch import cli_more

        handler = cli_more.HANDLERS[args.cmd]
    try:
        return handler(args)
    except DuckwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


@command("init")
def _init(args: argparse.Namespace) -> int:
    from duckwatch.store.settings import Settings

    data = resolve_data_dir(args.data_dir).ensure()
    version = Settings(data.settings).schema_version()
    print(f"data dir ready: {data.root} (settings schema v{version})")
    return 0


def _ingest_file(args: argparse.Namespace, stream: str) -> int:
    from duckwatch.store.input_checks import check_input_file

    # A directory, an empty file or a CSV named .parquet is refused here, before anything is written.
    check_input_file(args.file, args.file_format)
    data = resolve_data_dir(args.data_dir)
    copy = None
    if (
        args.file_format or _SUFFIX_FORMATS.get(args.file.suffix.lower())
    ) == "parquet" and args.file.is_file():
        # Parquet files are validated where they lie and sealed as a byte copy (never re-encoded).
        # The copy (and the wait for the disk) starts now, while DuckDB is imported and the file
        # validated; it only becomes visible once both passed.
        from duckwatch.names import check_model_name
        from duckwatch.store.landing_copy import start_copy

        copy = start_copy(args.file, data.landing, stream, check_model_name(args.model))
    try:
        return _ingest_with(args, stream, data.root, copy)
    finally:
        if copy is not None:
            copy.discard()  # no-op once sealed


def _ingest_with(args: argparse.Namespace, stream: str, root: Path, copy: BackgroundCopy | None) -> int:
    from duckwatch.collector.sdk import Collector
    from duckwatch.store.files import FileRead, read_file

    version = args.version if stream != "outcomes" else ""
    experiment = getattr(args, "experiment", "") if stream == "predictions" else ""
    read = FileRead(None, []) if copy is not None else read_file(args.file, args.file_format)
    with Collector(root) as col:
        roles = cli_models.roles_of(args)
        window = cli_models.check_new_window(col.settings, args.model, args.window)
        if window is not None:
            roles["window"] = window
        if roles:
            col.declare(args.model, **roles)
        if read.table is None:
            res = col.log_parquet(
                args.model, stream, args.file, version=version, experiment=experiment, copy=copy
            )
        elif stream == "reference":
            res = col.log_reference(args.model, read.table, version=version)
        elif stream == "outcomes":
            res = col.log_outcomes(args.model, read.table)
        elif stream == "inputs":
            res = col.log_inputs(args.model, read.table, version=version)
        else:
            res = col.log_predictions(args.model, read.table, version=version, experiment=experiment)
        if read.rejects:
            col.quarantine_lines(
                args.model, stream, [(n, f"malformed line: {msg}", raw) for n, msg, raw in read.rejects]
            )
    bad = res.quarantined + len(read.rejects)
    print(
        f"{args.file.name}: {res.landed} rows landed for model {args.model!r} ({stream}), {bad} quarantined"
    )
    for reason in res.reasons[:10]:
        print(f"  quarantined: {reason}")
    for n, msg, _ in read.rejects[:10]:
        print(f"  line {n}: {msg}")
    if bad:
        print(f"  see them with: duckwatch quarantine --model {args.model}")
    print("  the next `duckwatch run` (or the running job) takes them in")
    return 0 if res.landed or not bad else 1


@command("ingest")
def _ingest(args: argparse.Namespace) -> int:
    if args.stream == "profiles":  # profile files from a Spark pass (duckwatch/spark), not rows
        from duckwatch.spark.cli import ingest_profiles_command

        return ingest_profiles_command(args)
    return _ingest_file(args, args.stream)


@command("reference")
def _reference(args: argparse.Namespace) -> int:
    return _ingest_file(args, "reference")


@command("models")
def _models(args: argparse.Namespace) -> int:
    from duckwatch.readmodels.views import models_overview

    if getattr(args, "models_cmd", None) == "set":
        return cli_models.models_set(args)

    data = resolve_data_dir(args.data_dir)
    rows = models_overview(data)
    if args.format == "json":
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no models yet: log predictions with the SDK, `duckwatch ingest`, or `duckwatch demo`")
        return 0
    print(
        _table(
            rows,
            [
                "model",
                "versions",
                "predictions",
                "outcomes",
                "inputs",
                "reference",
                "quarantined",
                "pending",
                "first_ts",
                "last_ts",
            ],
        )
    )
    return 0


@command("run")
def _run(args: argparse.Namespace) -> int:
    from duckwatch.jobs.tick import run_tick

    data = resolve_data_dir(args.data_dir)
    say = None if args.quiet else (lambda msg: print(f"  {msg}", file=sys.stderr))
    report = run_tick(data, notify=not args.no_notify, progress=say)
    print(
        f"tick done in {report.duration_s:.2f}s: {report.rows_ingested} rows ingested, "
        f"{report.windows_computed} windows computed, {len(report.models)} models, {len(report.errors)} errors"
    )
    for err in report.errors:
        print(f"  error: {err}", file=sys.stderr)
    return 1 if report.errors else 0


@command("status")
def _status(args: argparse.Namespace) -> int:
    from duckwatch.readmodels.views import job_status

    data = resolve_data_dir(args.data_dir)
    st = job_status(data, stale_after_s=args.stale_after)
    if args.format == "json":
        print(json.dumps(st, indent=2, default=str))
    else:
        for key, value in st.items():
            print(f"{key:>16}: {value}")
    return 0 if st["state"] == "ok" else 1


command("quarantine")(cli_export.quarantine)
command("export")(cli_export.export)


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


# Short-lived commands whose process ends right after they return.
FAST_EXIT = ("ingest", "reference", "run")


def console() -> None:
    """The `duckwatch` console script: `main`, then, for the short-lived commands, a quick exit.

    When they return, everything they wrote is committed, fsynced and closed. What a normal exit
    still does is free every object and module one by one (~0.1-0.15 s once pandas is loaded), which
    the operating system does at once; exit handlers (the SDK's flush) and worker threads still run.
    """
    code = main()
    if sys.argv[1:2] and sys.argv[1] in FAST_EXIT:
        _fast_exit(code)
    raise SystemExit(code)


def _fast_exit(code: int) -> None:
    import atexit
    import logging
    import os
    import threading

    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: the output has nowhere to go, the exit code still matters
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    console()
