"""A labelled model's life for the pinned-equivalence test: run with the duckwatch first on sys.path.

python equivalence_scenario.py ROOT WINDOW ROWS DAYS OUT.parquet: predictions over DAYS days with a
planted shift, 70% of labels late, a first tick, 2% label corrections, a relabel tick; then every metric row
(without its computation time) is written to OUT.parquet.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick


def _frame(
    rng: np.random.Generator, n: int, start: str, prefix: str, days: int, shift: float = 0.0
) -> pd.DataFrame:
    x = rng.normal(size=(n, 4))
    t = np.sort(rng.uniform(0, days * 86400, n))
    x[:, 1] += shift * (t > days / 2 * 86400)
    score = 1 / (1 + np.exp(-(x[:, 0] + rng.normal(scale=0.5, size=n))))
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    df["cat"] = rng.choice(list("abcd"), n)
    df["id"] = [f"{prefix}{i}" for i in range(n)]
    df["ts"] = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(t, unit="s")
    df["score"] = score
    df["prediction"] = (score > 0.5).astype(int)
    df["label"] = (rng.random(n) < np.clip(score + 0.2 * (t > days * 2 / 3 * 86400), 0, 1)).astype(int)
    return df


def main(root: str, window: str, n: int, days: int, out: str) -> None:
    rng = np.random.default_rng(1)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with Collector(root) as c:
        c.declare("m", window=window, id="id", timestamp="ts", scores=["score"], prediction="prediction",
                  label="label")  # fmt: skip
        c.log_reference("m", _frame(rng, n // 4, "2025-11-01", "ref", days))
        p = _frame(rng, n, "2026-01-01", "p", days, shift=0.3)
        c.log_predictions("m", p.drop(columns=["label"]))
        late = p.sample(frac=0.7, random_state=1)
        c.log_outcomes("m", late[["id", "label"]], id="id", label="label")
    assert run_tick(DataDir(Path(root)), now=now, notify=False).errors == []
    ids = rng.choice(n, n // 50, replace=False)
    fixes = pd.DataFrame({"id": [f"p{i}" for i in ids], "label": rng.integers(0, 2, len(ids))})
    with Collector(root) as c:
        c.log_outcomes("m", fixes, id="id", label="label")
    assert run_tick(DataDir(Path(root)), now=now, notify=False).errors == []
    con = duckdb.connect(str(Path(root) / "warehouse.duckdb"), read_only=True)
    con.execute(f"COPY (SELECT * EXCLUDE (computed_at) FROM metric_results) TO '{out}' (FORMAT parquet)")
    con.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
