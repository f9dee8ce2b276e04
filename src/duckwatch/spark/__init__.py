"""Profiles computed on Spark where the data lives, merged into the warehouse by the job.

`profile` runs one Spark SQL aggregation over a DataFrame of predictions and returns the mergeable
profiles of every (window, version, experiment, segment) as a small DataFrame; `write_profiles` writes
them as files that ``duckwatch ingest profiles DIR --model M`` merges. pyspark is imported only when
these functions run (``pip install 'duckwatch[spark]'``); the ingest side never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["profile", "write_profiles"]


def profile(df: Any, data_dir: str | Path, model: str, **options: Any) -> Any:
    """Profiles of the rows of ``df`` (a Spark DataFrame) against the model's reference in ``data_dir``.

    Args:
        df: predictions with the model's column names, its time column included.
        data_dir: the duckwatch data dir holding the model's roles, window, time zone and reference.
        model: the model's name.
        **options: ``time_col``, ``version`` or ``version_col``, ``experiment`` or ``experiment_col``,
            ``since``/``until`` (datetimes; naive = the model's time zone).

    Returns:
        A Spark DataFrame with one row per (window, version, experiment, segment, column).
    """
    from duckwatch.spark.frame import profile as run

    return run(df, data_dir, model, **options)


def write_profiles(result: Any, out: str | Path) -> list[Path]:
    """Write what `profile` returned as one file per (window, version, experiment, segment) in ``out``.

    Args:
        result: the DataFrame `profile` returned.
        out: a directory (created when missing).

    Returns:
        The files written.
    """
    from duckwatch.spark.frame import write_profiles as write

    return write(result, Path(out))
