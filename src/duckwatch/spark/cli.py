"""``duckwatch spark profile`` and ``duckwatch ingest profiles``: profile on Spark, merge into the job."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duckwatch.config import resolve_data_dir
from duckwatch.errors import BadInputError

__all__ = ["add_parser", "handle", "ingest_profiles_command"]

JAVA_HINT = "install Java 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"


def add_parser(sub: Any, data_dir_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``spark profile`` to the CLI tree."""
    p = sub.add_parser(
        "spark", help="profile predictions on Spark where they live (README: Running on Spark)"
    )
    inner = p.add_subparsers(dest="spark_cmd", required=True, metavar="SUBCOMMAND")
    q = inner.add_parser(
        "profile",
        help="write mergeable profiles of Parquet predictions, per window, for `duckwatch ingest profiles`",
        epilog="example: duckwatch spark profile --model credit --input s3a://lake/preds/2026-12-07 --out profiles/",
    )
    q.add_argument("--model", required=True)
    q.add_argument("--input", action="append", required=True, help="Parquet file or directory (repeatable)")
    q.add_argument("--out", required=True, type=Path, help="directory for the profile files")
    q.add_argument(
        "--master", default="local[*]", help="Spark master URL (default local[*]; yarn, spark://...)"
    )
    q.add_argument("--since", help="first event time to profile (ISO-8601; naive = model time zone)")
    q.add_argument("--until", help="profile event times before this one")
    q.add_argument("--time-col", help="event time column (default: the model's, else a conventional name)")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--version", default="", help="the model version of every row")
    g.add_argument("--version-col", help="column holding each row's model version")
    h = q.add_mutually_exclusive_group()
    h.add_argument("--experiment", default="", help="the experiment of every row")
    h.add_argument("--experiment-col", help="column holding each row's experiment")
    data_dir_arg(q)


def _when(text: str | None, tz: str, flag: str) -> datetime | None:
    if text is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise BadInputError(
            f"{flag} {text!r} is not a date-time: use ISO-8601 such as 2026-01-31T12:00:00Z"
        ) from exc
    ts = ts.tz_localize(tz) if ts.tzinfo is None else ts
    return ts.tz_convert("UTC").to_pydatetime()


def handle(args: argparse.Namespace) -> int:
    """Run ``spark profile``."""
    from duckwatch.spark.state import load_state

    data = resolve_data_dir(args.data_dir)
    state = load_state(data, args.model)  # fails fast, before Spark starts, on a bad model or reference
    since = _when(args.since, state.info.timezone, "--since")
    until = _when(args.until, state.info.timezone, "--until")
    spark = _session(args.master)
    try:
        from duckwatch.spark.frame import profile, write_profiles

        try:
            df = spark.read.parquet(*args.input)
        except Exception as exc:  # Spark's AnalysisException names the path
            raise BadInputError(
                f"cannot read {', '.join(args.input)} as Parquet: {str(exc).splitlines()[0]}"
            ) from exc
        result = profile(
            df, data.root, args.model, time_col=args.time_col, version=args.version,
            version_col=args.version_col, experiment=args.experiment, experiment_col=args.experiment_col,
            since=since, until=until,
        )  # fmt: skip
        written = write_profiles(result, args.out)
    finally:
        spark.stop()
    print(f"wrote {len(written)} profile files to {args.out}")
    print(f"  merge them with: duckwatch ingest profiles {args.out} --model {args.model}")
    return 0


def _session(master: str) -> Any:
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: no lookup of the host's name
    try:
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise BadInputError("pyspark is not installed: pip install 'duckwatch[spark]'") from exc
    builder = SparkSession.builder.appName("duckwatch spark profile")
    builder = (
        builder.master(master)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.ui.enabled", "false")
    )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # PySparkRuntimeError JAVA_GATEWAY_EXITED when Java is missing
        raise BadInputError(f"could not start Spark ({str(exc).splitlines()[0]}): {JAVA_HINT}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def ingest_profiles_command(args: argparse.Namespace) -> int:
    """Run ``ingest profiles DIR --model M`` under the job lock."""
    from duckwatch.jobs.lock import job_lock
    from duckwatch.spark.ingest import ingest_profiles

    data = resolve_data_dir(args.data_dir)
    if not data.settings.exists():
        raise BadInputError(f"no duckwatch data dir at {data.root}: run `duckwatch init` first")
    with job_lock(data.locks):
        report = ingest_profiles(data, args.model, args.file, datetime.now(UTC))
    print(
        f"{len(report.merged)} profile files merged ({report.rows} rows, {report.windows} windows marked dirty), "
        f"{len(report.already)} already merged, {len(report.same_input)} of an input already merged"
    )
    for line in report.same_input[:10]:
        print(f"  skipped: {line}", file=sys.stderr)
    if report.merged:
        print("  the next `duckwatch run` (or the running job) computes their windows")
    return 0
