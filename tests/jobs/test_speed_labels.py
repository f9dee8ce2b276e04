"""Label parsing per distinct value equals parsing every value as text; the ingest path skips pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from duckwatch.calculators.labels import _binary_text, binary
from duckwatch.convert import to_arrow

SERIES = [
    pd.Series([1.0, 0.0, np.nan, 2.0, 1e20, 0.5]),
    pd.Series([1.0, 0.0, -0.0, np.nan]),  # -0.0 would hash like 0.0: parsed as text
    pd.Series(np.arange(300) % 3),
    pd.Series(np.array([1, 0, 2], dtype=np.uint8)),
    pd.Series(np.array([1.0, 0.0, 2.5], dtype=np.float32)),
    pd.Series([True, False, True]),
    pd.Series([True, None, False], dtype="boolean"),
    pd.Series([1, None, 2], dtype="Int64"),
    pd.Series([1.0, None, 2.0], dtype="Float64"),
    pd.Series([None, None], dtype=object),
    pd.Series([np.nan, np.nan]),
    pd.Series([], dtype=object),
    pd.Series([], dtype=float),
    pd.Series(["1", "yes", " Yes ", None, "no", "TRUE"], dtype=object),
    pd.Series(["1", "2", None], dtype="string"),
]


@pytest.mark.parametrize("positive", ["1", "2", "true", "0.0", "2.0", "1e+20", "yes"])
def test_binary_equals_text_parsing(positive: str) -> None:
    for values in SERIES:
        got, expected = binary(values, positive), _binary_text(values, positive)
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected, equal_nan=True), (values.tolist(), values.dtype, positive)


def test_binary_on_a_large_float_column(rng: np.random.Generator) -> None:
    y = pd.Series((rng.random(200_000) < 0.3).astype(float))
    y[::7] = np.nan
    assert np.array_equal(binary(y, "1"), _binary_text(y, "1"), equal_nan=True)


def test_convert_does_not_import_pandas_but_still_takes_frames() -> None:
    code = "import sys, duckwatch.convert; assert 'pandas' not in sys.modules, 'pandas imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    table = to_arrow(pd.DataFrame({"a": [1.0, np.nan], 3: ["x", None]}))
    assert table.column_names == ["a", "3"]
    assert table.column("a").null_count == 1
    assert to_arrow(pa.table({"a": [1]})).num_rows == 1


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([1, 0, 1, None], dtype="Int64"),
        pd.Series([True, False, None], dtype="boolean"),
        pd.Series([1.0, 0.0, np.nan]),
        pd.Series([2, 3, 2]),
        pd.Series([True, False]),
    ],
    ids=["nullable-int", "nullable-bool", "float", "other-ints", "bool"],
)
@pytest.mark.parametrize("positive", ["1", "0", "3", "true"])
def test_kept_distinct_answers_equal_the_text_rule_for_every_dtype(values: pd.Series, positive: str) -> None:
    for _ in range(2):  # the second call is served from the kept answers
        np.testing.assert_array_equal(binary(values, positive), _binary_text(values, positive))
