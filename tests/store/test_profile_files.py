"""The ledger of merged profile files (store/profile_files.py): seen files, rows per window, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.store import profile_files
from duckwatch.store import profile_queries as q
from duckwatch.store.warehouse import Warehouse

WS = datetime(2026, 1, 1, 23, tzinfo=UTC)


def test_ledger_counts_rows_per_window_and_goes_with_the_profiles(data_dir: DataDir) -> None:
    wh = Warehouse(data_dir)
    try:
        now = datetime(2026, 3, 1, tzinfo=UTC)
        profile_files.record(wh, "m", [("h1", "s1", "v1", "", WS, "", 10, "a.json"),
                                       ("h2", "s2", "v1", "", WS, "", 5, "b.json")], now)  # fmt: skip
        assert profile_files.seen_hashes(wh, "m", ["h1", "h3"]) == {"h1"}
        assert profile_files.seen_hashes(wh, "other", ["h1"]) == set()
        key = ("s1", "v1", "", pd.Timestamp(WS), "")
        assert profile_files.seen_sources(wh, "m")[key] == "a.json"
        found = profile_files.rows_elsewhere(wh, "m", [("v1", "", WS, WS), ("v2", "", WS, WS)])
        assert found == {("v1", "", pd.Timestamp(WS)): 15}
        q.forget_profiles(wh, "m")  # a new reference drops the profiles, and the files with them
        assert profile_files.rows_elsewhere(wh, "m", [("v1", "", WS, WS)]) == {}
        assert profile_files.seen_hashes(wh, "m", ["h1"]) == set()
    finally:
        wh.close()
