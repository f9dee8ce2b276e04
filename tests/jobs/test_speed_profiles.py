"""The column-chunked, SQL-counted profile scan equals profiling one table of every column, exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from duckwatch.calculators.volume import window_volumes as _window_volumes
from duckwatch.config import DataDir
from duckwatch.loading import profile_scan
from duckwatch.loading.profile_scan import columns_frame, group_rows, profile_column, scan_profiles
from duckwatch.store.catalog import ColumnInfo, ModelInfo
from duckwatch.store.warehouse import Warehouse, raw_table

COLS = [
    ColumnInfo("x", "x", "feature", "numeric"),
    ColumnInfo("y", "y", "feature", "numeric"),
    ColumnInfo("k", "k", "feature", "numeric"),
    ColumnInfo("c", "c", "feature", "categorical"),
    ColumnInfo("d", "d", "segment", "categorical"),
]


def _rows(rng: np.random.Generator, n: int, days: int = 3, null_keys: bool = True) -> pa.Table:
    x = rng.normal(size=n)
    x[rng.uniform(size=n) < 0.03] = np.nan
    x[rng.uniform(size=n) < 0.01] = np.inf
    ts = np.datetime64("2026-01-01", "us") + rng.integers(0, days * 86_400_000_000, n).astype(
        "timedelta64[us]"
    )
    version = rng.choice(["", "v2"], n).astype(object)
    if null_keys:
        version[rng.uniform(size=n) < 0.01] = None
    return pa.table(
        {
            "_version": pa.array(version, pa.string()),
            "_experiment": pa.array([""] * n),
            "_ts": pa.array(ts, pa.timestamp("us", tz="UTC"), mask=(rng.uniform(size=n) < 0.01) & null_keys),
            "x": pa.array(x, mask=rng.uniform(size=n) < 0.05),
            "y": rng.lognormal(3, 1, n).round(2),
            "k": np.full(n, 7.0),
            "c": pa.array(
                rng.choice(["a", "b", "", *[f"z{i}" for i in range(300)]], n), mask=rng.uniform(size=n) < 0.1
            ),
            "d": rng.choice(["north", "south"], n),
        }
    )


def _load(data: DataDir, tmp_path: Path, table: pa.Table, name: str) -> Warehouse:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(table, path, row_group_size=7_000)
    wh = Warehouse(data)
    wh.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet(?)", [str(path)])
    return wh


def _dump(profile: Any) -> str:
    return json.dumps(profile.to_dict())


def _plain(
    wh: Warehouse, sql: str, params: list[Any], ref: dict[str, Any] | None
) -> dict[Any, dict[str, str]]:
    """The previous path: one table of every column, grouped in numpy, then each column profiled."""
    table = wh.arrow(sql, params)
    arrays = columns_frame(table, COLS)
    groups: dict[Any, Any] = group_rows(table) if "ws" in table.column_names else {None: None}
    out: dict[Any, dict[str, str]] = {}
    for key, idx in groups.items():
        norm = None if key is None else (key[0], key[1], pd.Timestamp(key[2]).tz_convert("UTC"))
        out[norm] = {
            c.col_id: _dump(profile_column(arrays[c.col_id], None if ref is None else ref[c.col_id], idx))
            for c in COLS
        }
    return out


@pytest.mark.parametrize(("threads", "cells"), [(1, 1), (2, 1), (2, 4_000_000)])
def test_scan_equals_profiling_one_table(
    data_dir: DataDir,
    tmp_path: Path,
    rng: np.random.Generator,
    monkeypatch: pytest.MonkeyPatch,
    threads: int,
    cells: int,
) -> None:
    monkeypatch.setattr(profile_scan, "THREADS", threads)
    monkeypatch.setattr(profile_scan, "CHUNK_CELLS", cells)  # 1: a chunk of THREADS columns per query
    wh = _load(data_dir, tmp_path, _rows(rng, 30_000), "speed_rows")
    try:
        reference = scan_profiles(wh, "speed_rows", [], COLS, lambda _c: None, None)[None]
        plain_ref = _plain(wh, f"SELECT {', '.join(c.col_id for c in COLS)} FROM speed_rows", [], None)[None]
        assert {k: _dump(v) for k, v in reference.items()} == plain_ref

        found = scan_profiles(wh, "speed_rows", [], COLS, lambda c: reference[c.col_id], "day")
        cols = ", ".join(c.col_id for c in COLS)
        plain = _plain(
            wh,
            f"SELECT _version, _experiment, date_trunc('day', _ts) AS ws, {cols} FROM speed_rows",
            [],
            reference,
        )
        assert len(found) == 6  # 2 versions x 3 days; rows with a NULL version or time are in none
        assert list(found) == sorted(found, key=lambda k: (k[0], k[1], k[2]))  # type: ignore[index]
        assert {k: {c: _dump(p) for c, p in v.items()} for k, v in found.items()} == plain

        # One (version, experiment, day): the columns are read alone, without keys or grouping.
        where = "speed_rows WHERE _version = ? AND _ts >= ? AND _ts < ?"
        day = [
            pd.Timestamp("2026-01-02", tz="UTC").to_pydatetime(),
            pd.Timestamp("2026-01-03", tz="UTC").to_pydatetime(),
        ]
        one = scan_profiles(wh, where, ["v2", *day], COLS, lambda c: reference[c.col_id], "day")
        plain_one = _plain(
            wh,
            f"SELECT _version, _experiment, date_trunc('day', _ts) AS ws, {cols} FROM {where}",
            ["v2", *day],
            reference,
        )
        assert len(one) == 1
        assert {k: {c: _dump(p) for c, p in v.items()} for k, v in one.items()} == plain_one
        assert scan_profiles(wh, where, ["nope", *day], COLS, lambda c: reference[c.col_id], "day") == {}
    finally:
        wh.close()


@pytest.mark.parametrize("history", [False, True])
def test_window_volumes_equal_counting_rows(
    data_dir: DataDir, tmp_path: Path, rng: np.random.Generator, history: bool
) -> None:
    # Without history each (version, experiment) has one bucket; with it, several, counted when their
    # windows were computed (one call per earlier day, as ticks would) and read back from window_state.
    info = ModelInfo(model="m", model_key=77, display_name="m")
    table = _rows(rng, 20_000, days=1, null_keys=False)
    if history:
        early = _rows(rng, 5_000, days=6, null_keys=False)
        shifted = early.column("_ts").to_numpy() - np.timedelta64(7, "D")
        table = pa.concat_tables(
            [table, early.set_column(2, "_ts", pa.array(shifted, pa.timestamp("us", tz="UTC")))]
        )
    pred = raw_table(77, "predictions")
    wh = _load(data_dir, tmp_path, table, pred)
    try:
        frame = wh.arrow(f"SELECT _version AS v, date_trunc('day', _ts) AS ws FROM {pred}").to_pandas()
        counts = frame.groupby(["v", "ws"]).size()
        wh.execute(
            "INSERT INTO window_state (model, version, experiment, window_start, window_end, dirty, dirty_since, computed_at, row_count) SELECT 'm', v, '', ws, ws + INTERVAL 1 day, true, NULL, NULL, NULL "
            f"FROM (SELECT DISTINCT _version AS v, date_trunc('day', _ts) AS ws FROM {pred})"
        )
        day = pd.Timestamp("2026-01-01", tz="UTC")
        for (v, ws), _n in sorted(counts.items(), key=lambda kv: kv[0][1]):
            if ws < day:  # earlier windows, computed by earlier ticks
                _window_volumes(
                    wh, info, [(v, "", ws.to_pydatetime(), (ws + pd.Timedelta(days=1)).to_pydatetime())]
                )
        windows = [
            (v, "", day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime())
            for v in ("", "v2", "v3")
        ]
        got = _window_volumes(wh, info, windows)
        for (v, _e, _ws, _we), (n, prev, _basis) in zip(windows, got, strict=True):
            assert n == int(counts.get((v, day), 0))
            earlier = [
                float(c)
                for (cv, cws), c in counts.items()
                if cv == v and day - pd.Timedelta(days=14) <= cws < day
            ]
            assert sorted(prev) == sorted(earlier)
            assert len(prev) == (6 if history and v != "v3" else 0)
        assert got[2][:2] == (0, [])
        # Every computed window's count is kept, equal to counting its raw rows.
        kept = dict(
            ((v, pd.Timestamp(ws)), n)
            for v, ws, n in wh.rows(
                "SELECT version, window_start, row_count FROM window_state WHERE row_count IS NOT NULL"
            )
        )
        assert {k: int(v) for k, v in counts.items()} == kept
        # Many windows at once (a backfill) take the grouped scan and give the same counts.
        many = [
            (v, "", ws.to_pydatetime(), (ws + pd.Timedelta(days=1)).to_pydatetime())
            for (v, ws) in counts.index
        ]
        many += [
            (
                "v9",
                "",
                (day + pd.Timedelta(days=d)).to_pydatetime(),
                (day + pd.Timedelta(days=d + 1)).to_pydatetime(),
            )
            for d in range(40)
        ]
        assert [n for n, _prev, _basis in _window_volumes(wh, info, many)] == [int(c) for c in counts] + [
            0
        ] * 40
    finally:
        wh.close()


@pytest.mark.parametrize(
    ("versions", "days", "in_order"),
    # in window order; uint8 and uint16 radix sorts; more key combinations than a bincount suits
    [(2, 5, True), (2, 5, False), (3, 400, False), (3000, 400, False)],
)
def test_groups_equal_pandas_groupby(
    rng: np.random.Generator, versions: int, days: int, in_order: bool
) -> None:
    """Row positions per (version, experiment, window): pandas' groupby, NULL keys in no group."""
    n = 30_000
    version = rng.choice([*(f"v{i}" for i in range(versions)), None], n)
    experiment = rng.choice(["", "b", "c", None], n, p=[0.6, 0.2, 0.15, 0.05])
    start = pd.Timestamp("2026-01-01", tz="UTC")
    day = rng.integers(0, days, n)
    if in_order:
        version, experiment, day = np.full(n, "v1"), np.full(n, ""), np.sort(day)
    ws = pd.Series(start + pd.to_timedelta(day, unit="D"))
    if not in_order:
        ws[rng.random(n) < 0.01] = pd.NaT
    table = pa.table(
        {
            "_version": pa.array(version.tolist(), pa.string()),
            "_experiment": pa.array(experiment.tolist(), pa.string()),
            "ws": pa.array(ws, pa.timestamp("us", tz="UTC")),
        }
    )
    got = {(k[0], k[1], pd.Timestamp(k[2])): idx for k, idx in group_rows(table).items()}
    frame = pd.DataFrame({"v": version, "e": experiment, "ws": ws})
    want = {k: np.asarray(idx) for k, idx in frame.groupby(["v", "e", "ws"], dropna=True).indices.items()}
    assert list(got) == sorted(want, key=lambda k: (k[0], k[1], k[2]))
    for key, idx in want.items():
        rows = np.arange(n) if got[key] is None else got[key]
        assert np.array_equal(rows, np.sort(idx)), key
