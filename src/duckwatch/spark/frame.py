"""The Spark side: one Spark SQL aggregation turns predictions into mergeable profiles per window.

Each row becomes one item per profiled column (its bucket: reference bin and special value, or
NULL/NaN/inf, or its category), and one GROUP BY (version, experiment, window, column, bucket)
counts the rows and sums, averages and takes the population variance, min and max of the values:
map-side partial aggregation keeps the shuffle to a few thousand rows per window. Bins are found by
a balanced tree of comparisons against the reference's edges (no Python UDF). The driver merges a
column's buckets with Chan's formula, exactly as profiles merge.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duckwatch.errors import BadInputError
from duckwatch.metrics.profile import NumericProfile
from duckwatch.spark.assemble import INF, NAN, NULL, ROWS, VALUE, AggRow, assemble
from duckwatch.spark.files import encode, file_name, write_atomic
from duckwatch.spark.state import ModelState, load_state
from duckwatch.store.catalog import ColumnInfo

warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

from pyspark.sql import Column, DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

__all__ = ["aggregate", "profile", "write_profiles"]

TIME_GUESSES = ("timestamp", "ts", "time", "event_time", "created_at", "datetime")
RESULT_SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType(), False),
        T.StructField("version", T.StringType(), False),
        T.StructField("experiment", T.StringType(), False),
        T.StructField("window_start", T.TimestampType(), False),
        T.StructField("window_start_utc", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("col_id", T.StringType(), False),
        T.StructField("column", T.StringType(), False),
        T.StructField("kind", T.StringType(), False),
        T.StructField("rows", T.LongType(), False),
        T.StructField("window", T.StringType(), False),
        T.StructField("timezone", T.StringType(), False),
        T.StructField("reference", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("profile", T.StringType(), False),
    ]
)


def _col(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _time(df: DataFrame, name: str) -> Column:
    """A row's event time as an instant: naive times are in the session's (= the model's) zone, epoch
    numbers are seconds, or milliseconds/microseconds when the magnitude says so (as landing does)."""
    dtype = df.schema[name].dataType
    c = _col(name)
    if isinstance(dtype, T.TimestampType):
        return c
    if isinstance(dtype, (T.TimestampNTZType, T.DateType)):
        return c.cast("timestamp")
    if isinstance(dtype, T.NumericType):
        x = c.cast("double")
        micros = F.when(F.abs(x) < 1e11, x * 1e6).when(F.abs(x) < 1e14, x * 1e3).otherwise(x)
        return F.timestamp_micros(F.round(micros).cast("long"))
    return c.cast("string").try_cast("timestamp")


def _bins(x: Column, edges: list[float], lo: int, hi: int) -> Column:
    """How many edges are <= x, knowing it lies in [lo, hi]: a balanced tree of comparisons."""
    if lo == hi:
        return F.lit(lo)
    mid = (lo + hi + 1) // 2
    return F.when(x >= F.lit(edges[mid - 1]), _bins(x, edges, mid, hi)).otherwise(
        _bins(x, edges, lo, mid - 1)
    )


def _numeric_item(i: int, x: Column, ref: NumericProfile) -> Column:
    """(column, bucket, special, value, category) of a numeric value, binned as NumericBinning does."""
    edges = [float(e) for e in ref.binning.edges]
    last = len(edges) - 1
    # searchsorted(edges, x, 'right'), with the last finite bin closed: e_K itself is in bin K.
    binned = F.when(x == F.lit(edges[last]), F.lit(last)).otherwise(_bins(x, edges, 0, len(edges)))
    special: Column = F.lit(-1)
    for j, s in reversed(list(enumerate(ref.binning.specials))):
        special = F.when(x == F.lit(float(s)), F.lit(j)).otherwise(special)
    infinite = (x == F.lit(float("inf"))) | (x == F.lit(float("-inf")))
    bucket = (
        F.when(x.isNull(), F.lit(NULL))
        .when(F.isnan(x), F.lit(NAN))
        .when(infinite, F.lit(INF))
        .otherwise(binned)
    )
    finite = x.isNotNull() & ~F.isnan(x) & ~infinite
    return F.struct(
        F.lit(i).alias("c"),
        bucket.alias("b"),
        F.when(finite, special).otherwise(F.lit(-1)).alias("s"),
        F.when(finite, x).alias("x"),
        F.lit(None).cast("string").alias("t"),
    )


def _categorical_item(i: int, value: Column) -> Column:
    return F.struct(
        F.lit(i).alias("c"),
        F.when(value.isNull(), F.lit(NULL)).otherwise(F.lit(VALUE)).alias("b"),
        F.lit(-1).alias("s"),
        F.lit(None).cast("double").alias("x"),
        value.alias("t"),
    )


def aggregate(
    df: DataFrame,
    state: ModelState,
    columns: list[ColumnInfo],
    time_col: str,
    version: Column,
    experiment: Column,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DataFrame:
    """The lazy aggregation (see the module docstring); its rows are `assemble`'s AggRows. Window
    starts are cut in the Spark session's time zone, which `profile` sets to the model's."""
    ts = _time(df, time_col)
    items = [F.struct(F.lit(ROWS).alias("c"), F.lit(0).alias("b"), F.lit(-1).alias("s"),
                      F.lit(None).cast("double").alias("x"), F.lit(None).cast("string").alias("t"))]  # fmt: skip
    for i, col in enumerate(columns):
        ref = state.reference[col.col_id]
        if isinstance(ref, NumericProfile):
            items.append(_numeric_item(i, _col(col.name).try_cast("double"), ref))
        else:
            items.append(_categorical_item(i, _col(col.name).cast("string")))
    rows = df.select(
        ts.alias("_ts"),
        version.cast("string").alias("_v"),
        experiment.cast("string").alias("_e"),
        F.array(*items).alias("_items"),
    )
    if since is not None:
        rows = rows.where(F.col("_ts") >= F.lit(since))
    if until is not None:
        rows = rows.where(F.col("_ts") < F.lit(until))
    unit = state.info.window
    exploded = rows.select(
        "_v", "_e", F.unix_micros(F.date_trunc(unit, F.col("_ts"))).alias("_ws"), F.inline("_items")
    )
    return exploded.groupBy("_v", "_e", "_ws", "c", "b", "s", "t").agg(
        F.count(F.lit(1)).alias("n"),
        F.sum("x").alias("sx"),
        F.avg("x").alias("mx"),
        F.var_pop("x").alias("vx"),
        F.min("x").alias("lo"),
        F.max("x").alias("hi"),
    )


def profile(
    df: DataFrame,
    data_dir: str | Path,
    model: str,
    *,
    time_col: str | None = None,
    version: str = "",
    experiment: str = "",
    version_col: str | None = None,
    experiment_col: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DataFrame:
    """Profiles of ``df`` per (window, version, experiment, segment, column): see `duckwatch.spark.profile`."""
    state = load_state(data_dir, model)
    present = set(df.columns)
    columns = [c for c in state.columns if c.name in present]
    found = time_col or state.time_col or next((n for n in TIME_GUESSES if n in present), None)
    if found is None or found not in present:
        raise BadInputError(
            f"no time column {found or ''} among the input's columns {sorted(present)[:20]}: name it with --time-col"
        )
    for name in (version_col, experiment_col):
        if name is not None and name not in present:
            raise BadInputError(f"no column {name!r} in the input: check --version-col / --experiment-col")
    v = _col(version_col) if version_col else F.lit(version)
    e = _col(experiment_col) if experiment_col else F.lit(experiment)
    source = _source(df, [found, version, experiment, version_col, experiment_col, since, until])
    spark = df.sparkSession
    zone_before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", state.info.timezone)
    try:
        agg = aggregate(df, state, columns, found, v, e, since, until)
        collected: list[AggRow] = [tuple(r) for r in agg.collect()]  # type: ignore[misc]
    finally:
        spark.conf.set("spark.sql.session.timeZone", str(zone_before))
    windows, _dropped = assemble(collected, columns, state.reference)
    names = {c.col_id: c.name for c in columns}
    out = []
    for (ver, exp, ws_us), (n_rows, profiles) in windows.items():
        ws = datetime.fromtimestamp(ws_us / 1e6, tz=UTC)
        for col_id, prof in profiles.items():
            kind = "numeric" if isinstance(prof, NumericProfile) else "categorical"
            out.append((model, ver, exp, ws, ws.isoformat(), "", col_id, names[col_id], kind, n_rows,
                        state.info.window, state.info.timezone, state.digest, source, json.dumps(prof.to_dict())))  # fmt: skip
    return spark.createDataFrame(out, RESULT_SCHEMA)


def _source(df: DataFrame, options: list[Any]) -> str:
    """Names the input: its files and the options that cut it (an in-memory frame: a fresh name)."""
    files = sorted(df.inputFiles())
    if not files:
        return uuid.uuid4().hex
    return hashlib.sha256(json.dumps([files, options], default=str).encode()).hexdigest()


def write_profiles(result: DataFrame, out: Path) -> list[Path]:
    """One file per (window, version, experiment, segment) of `profile`'s result, written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str, str, str], list[Any]] = {}
    for r in result.collect():
        groups.setdefault((r["version"], r["experiment"], r["window_start_utc"], r["segment"]), []).append(r)
    written = []
    for (v, e, ws_text, segment), rows in sorted(groups.items()):
        first = rows[0]
        header = {"model": first["model"], "window": first["window"], "timezone": first["timezone"],
                  "reference": first["reference"], "source": first["source"]}  # fmt: skip
        key = (v, e, datetime.fromisoformat(ws_text), segment)
        profiles = {r["col_id"]: {"kind": r["kind"], "profile": json.loads(r["profile"])} for r in rows}
        path = out / file_name(first["model"], key, first["source"])
        write_atomic(path, encode(header, key, int(first["rows"]), profiles))
        written.append(path)
    return written
