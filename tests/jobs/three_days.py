"""A small scored model over three daily windows, for the engine tests (calculators, upgrade)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir


def three_days(
    root: Path, rng: np.random.Generator, n: int, labelled_reference: bool
) -> tuple[DataDir, pd.DataFrame]:
    """Model ``m``: ``n`` scored predictions over 2026-01-01..03 (daily windows) and a reference of the
    same rows (with a label when ``labelled_reference``); returns the data dir and the predictions."""
    df = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "ts": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 86400, n)), "s"),
            "score": rng.uniform(size=n),
            "x": rng.normal(size=n),
        }
    )
    data = DataDir(root).ensure()
    with Collector(data.root) as c:
        if labelled_reference:
            c.declare("m", window="day", id="id", timestamp="ts", scores=["score"], label="label")
            c.log_reference("m", df.assign(label=(df["score"] > 0.5).astype(int)))
        else:
            c.declare("m", window="day", id="id", timestamp="ts", scores=["score"])
            c.log_reference("m", df.drop(columns=["id", "ts"]))
        c.log_predictions("m", df)
    return data, df
