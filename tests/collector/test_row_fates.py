"""Property tests: every generated row meets the fate its generator gave it (landed or quarantined with
the right reason), whatever the mix of types, NaN/inf, empty strings, unicode and extreme numbers."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duckwatch import Collector
from duckwatch.store.files import read_file

_COUNTER = itertools.count()

GOOD_SCORE = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
BAD_SCORE = st.one_of(
    st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(min_value=1.0001, max_value=1e300),
    st.floats(max_value=-1e-9, min_value=-1e300), st.just("abc"), st.just(""),
)  # fmt: skip
FEATURE = st.one_of(
    st.none(), st.integers(-(2**62), 2**62), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.booleans(), st.just(1e-300), st.just(-1e300),
)  # fmt: skip
GOOD_TS = st.sampled_from(["2026-01-01T00:00:00Z", "2026-02-03 04:05:06", "2026-03-31T23:59:59+02:00"])
BAD_TS = st.sampled_from(["not a date", "2026-13-45", "yesterday"])


@st.composite
def rows(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows plus the fate of each: '' = lands, otherwise a fragment of the quarantine reason."""
    n = draw(st.integers(1, 25))
    out: list[dict[str, Any]] = []
    fates: dict[str, str] = {}
    used: list[str] = []
    for i in range(n):
        kind = draw(
            st.sampled_from(["good", "good", "good", "no_id", "empty_id", "dup", "bad_score", "bad_ts"])
        )
        rid = f"r{i}-" + draw(st.text(alphabet="abcé漢😀", max_size=3))
        row: dict[str, Any] = {"id": rid, "ts": draw(GOOD_TS), "score": draw(GOOD_SCORE), "x": draw(FEATURE)}
        fate = ""
        if kind == "no_id":
            row["id"], fate = None, "missing id"
        elif kind == "empty_id":
            row["id"], fate = "  ", "missing id"
        elif kind == "dup" and used:
            row["id"], fate = draw(st.sampled_from(used)), "duplicate id"
        elif kind == "bad_score":
            row["score"], fate = draw(BAD_SCORE), "probability in [0, 1]"
        elif kind == "bad_ts":
            row["ts"], fate = draw(BAD_TS), "not a date-time"
        if not fate:
            used.append(row["id"])
        out.append(row)
        fates[f"{i}"] = fate
    return out, fates


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=rows())
def test_each_row_meets_its_generated_fate(
    tmp_path: Path, batch: tuple[list[dict[str, Any]], dict[str, str]]
) -> None:
    data, fates = batch
    model = f"m{next(_COUNTER)}"
    with Collector(tmp_path / "d") as c:
        result = c.log_predictions(model, data, id="id", timestamp="ts", scores=["score"])
    expected_bad = {i for i, f in fates.items() if f}
    assert result.quarantined == len(expected_bad)
    assert result.landed == len(data) - len(expected_bad)
    landed = _ids(tmp_path / "d" / "landing" / "predictions" / model)
    assert sorted(landed) == sorted(str(data[int(i)]["id"]) for i, f in fates.items() if not f)
    quarantined = _quarantine(tmp_path / "d" / "landing" / "quarantine" / model)
    assert set(quarantined) == {int(i) for i in expected_bad}
    for i in expected_bad:
        assert fates[i] in quarantined[int(i)], (fates[i], quarantined[int(i)])


def _ids(folder: Path) -> list[str]:
    return [i for f in sorted(folder.glob("*.parquet")) for i in pq.read_table(f).column("_id").to_pylist()]


def _quarantine(folder: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    for f in sorted(folder.glob("*.parquet")):
        t = pq.read_table(f)
        out.update(zip(t.column("_row").to_pylist(), t.column("_reason").to_pylist(), strict=True))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 1)), min_size=1, max_size=20),
    bad_at=st.sets(st.integers(0, 19), max_size=5),
)
def test_malformed_csv_and_json_lines_are_kept_with_their_line(
    tmp_path: Path, good: list[tuple[int, float]], bad_at: set[int]
) -> None:
    csv_lines, json_lines, bad_csv, bad_json = ["id,score"], [], 0, 0
    for i, (rid, score) in enumerate(good):
        if i in bad_at:
            csv_lines.append(f'"r{rid},{score},extra,"oops')  # unterminated quote and extra fields
            json_lines.append('{"id": "r' + str(rid) + '", "score": ')  # truncated object
            bad_csv += 1
            bad_json += 1
        else:
            csv_lines.append(f"r{rid},{score}")
            json_lines.append(json.dumps({"id": f"r{rid}", "score": score}))
    (tmp_path / "f.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    (tmp_path / "f.jsonl").write_text("\n".join(json_lines) + "\n", encoding="utf-8")
    for name, bad in (("f.csv", bad_csv), ("f.jsonl", bad_json)):
        read = read_file(tmp_path / name)
        assert read.table.num_rows + len(read.rejects) == len(good), name
        assert len(read.rejects) == bad, name
        assert all(line >= 1 and msg for line, msg, _raw in read.rejects), name
