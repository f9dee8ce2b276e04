"""Reference bands are kept in the store: read back equal, fitted again only for another reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.calculators.reference_bands import fit_performance_bands, kept_bands
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.metrics.reference_band import Band
from duckwatch.store import catalog
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse


def _reference(rng: np.random.Generator, n: int) -> pd.DataFrame:
    score = rng.uniform(size=n)
    return pd.DataFrame({"score": score, "label": (rng.uniform(size=n) < score).astype(int)})


def _bands(data: DataDir, fit: object) -> dict[str, Band]:
    settings = Settings(data.settings)
    info = catalog.get_model(settings, "m")
    assert info is not None
    wh = Warehouse(data)
    try:
        return kept_bands(wh, info, catalog.get_columns(settings, "m"), "performance", fit)  # type: ignore[arg-type]
    finally:
        wh.close()


def _fit(data: DataDir) -> dict[str, Band]:
    settings = Settings(data.settings)
    info = catalog.get_model(settings, "m")
    assert info is not None
    wh = Warehouse(data)
    try:
        return fit_performance_bands(wh, info, catalog.get_columns(settings, "m"))
    finally:
        wh.close()


def test_bands_are_read_back_until_the_reference_changes(tmp_path: Path, rng: np.random.Generator) -> None:
    data = DataDir(tmp_path / "d").ensure()
    with Collector(data.root) as c:
        c.declare("m", task="binary", window="day")
        c.log_reference("m", _reference(rng, 3_000), scores="score", label="label")
    run_tick(data, notify=False)
    fitted = _bands(data, lambda: _fit(data))
    assert fitted and fitted == _fit(data)

    def refuse() -> dict[str, Band]:
        raise AssertionError("fitted again although the reference did not change")

    assert _bands(data, refuse) == fitted  # bitwise: floats go through JSON unchanged
    with Collector(data.root) as c:
        c.log_reference("m", _reference(rng, 1_000), scores="score", label="label")
    run_tick(data, notify=False)
    with pytest.raises(AssertionError, match="fitted again"):
        _bands(data, refuse)
    assert _bands(data, lambda: _fit(data)) == _fit(data) != fitted
