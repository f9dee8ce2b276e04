"""The window loader: many windows in one query equal one query per window, row for row."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.loading import window_loader
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse
from tests.conftest import make_predictions

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by every column (the per-window query has no order)."""
    cols = sorted(frame.columns)
    return frame[cols].sort_values(cols, na_position="first").reset_index(drop=True)


@pytest.mark.parametrize("with_outcomes", [True, False])
def test_batched_windows_equal_one_query_per_window(
    data_dir: DataDir, rng: np.random.Generator, with_outcomes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Collector(data_dir.root) as c:
        c.declare("m", window="day", values=["revenue"])
        for version in ("v1", "v2"):
            pred = make_predictions(rng, 4320, start="2026-01-01", freq="1min", prefix=f"{version}-")
            pred["revenue"] = rng.gamma(2.0, 10.0, len(pred))
            # Day 1 carries labels inline, day 2 only through outcomes, day 3 has none at all.
            pred["label"] = np.where(
                pred["ts"] < pd.Timestamp("2026-01-02", tz="UTC"), pred["prediction"], np.nan
            )
            c.log_predictions("m", pred, version=version, id="request_id", timestamp="ts", label="label")
            if with_outcomes:
                day2 = pred[
                    (pred["ts"] >= pd.Timestamp("2026-01-02", tz="UTC"))
                    & (pred["ts"] < pd.Timestamp("2026-01-03", tz="UTC"))
                ]
                first = pd.DataFrame({"request_id": day2["request_id"], "label": 1, "revenue": 5.0})
                c.log_outcomes("m", first, id="request_id")
                # Corrections: the last arrival wins; some correct inline labels of day 1 too.
                fix = pd.concat([first.head(100), pred.head(50)[["request_id"]].assign(label=0, revenue=1.0)])
                c.log_outcomes("m", fix.assign(label=0), id="request_id")
    assert run_tick(data_dir, now=NOW, notify=False).errors == []
    info = catalog.get_model(Settings(data_dir.settings), "m")
    assert info is not None
    columns = catalog.get_columns(Settings(data_dir.settings), "m")
    monkeypatch.setattr(window_loader, "MAX_BATCH_ROWS", 3000)  # several batches, a window never split
    wh = Warehouse(data_dir)
    try:
        wh.set_timezone(info.timezone)
        windows = [
            (str(v), str(e), ws, we)
            for v, e, ws, we in wh.rows(
                "SELECT version, experiment, window_start, window_end FROM window_state WHERE model = 'm' "
                "ORDER BY version, window_start"
            )
        ]
        assert len(windows) == 6
        batched = window_loader.joined_windows(wh, info, columns, windows, [1440] * len(windows))
        for window, got in zip(windows, batched, strict=True):
            one = window_loader.joined_window(wh, info, columns, *window)
            assert len(got) == 1440
            pd.testing.assert_frame_equal(_canonical(got), _canonical(one), check_dtype=True)
        # Rows come in one canonical order whatever the batching: seeded intervals do not move.
        monkeypatch.setattr(window_loader, "MAX_BATCH_ROWS", 10**9)
        whole = window_loader.joined_windows(wh, info, columns, windows[::-1], [1440] * len(windows))
        for got, again in zip(batched, whole[::-1], strict=True):
            pd.testing.assert_frame_equal(got, again)
    finally:
        wh.close()
