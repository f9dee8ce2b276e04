"""One local Spark session for the Spark tests (starting the JVM is most of their time)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # CI installs Java (.ci/run)
    pytest.skip("Java is not installed: apt-get install openjdk-17-jre-headless", allow_module_level=True)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("duckwatch tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
