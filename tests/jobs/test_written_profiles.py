"""Profiles a tick has just written are read back as the stored JSON would be, and never across a rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from duckwatch.config import DataDir
from duckwatch.loading.profiling import windows_profiles
from duckwatch.metrics.profile import (
    CategoricalVocabulary,
    NumericBinning,
    profile_categorical,
    profile_numeric,
)
from duckwatch.store.warehouse import Warehouse


def _rows(rng: np.random.Generator) -> list[tuple]:  # type: ignore[type-arg]
    ref = rng.normal(size=5_000)
    binning = NumericBinning.from_reference(ref)
    vocab = CategoricalVocabulary.from_reference(np.array(list("abcab")))
    rows = []
    for day in range(3):
        ws = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)
        x = rng.normal(size=400)
        x[:3] = [np.nan, -0.0, 1e30]
        rows.append(("m", "v1", "", ws, "", "c1", "numeric", profile_numeric(x, binning).to_dict()))
        cats = np.array(list("abcz"))[rng.integers(0, 4, 300)]
        rows.append(("m", "v1", "", ws, "", "c2", "categorical", profile_categorical(cats, vocab).to_dict()))
    return rows


def test_profiles_just_written_equal_the_stored_json(tmp_path: Path, rng: np.random.Generator) -> None:
    data = DataDir(tmp_path / "d").ensure()
    rows = _rows(rng)
    windows = [("v1", "", r[3]) for r in rows[::2]]
    wh = Warehouse(data)
    try:
        wh.upsert_profiles(rows)
        assert len(wh.written_profiles("m")) == 6
        remembered = windows_profiles(wh, "m", windows)
    finally:
        wh.close()
    fresh = Warehouse(data)
    try:
        parsed = windows_profiles(fresh, "m", windows)
    finally:
        fresh.close()
    assert remembered.keys() == parsed.keys() and len(parsed) == 3
    for key, profiles in parsed.items():
        for col_id, profile in profiles.items():
            assert repr(remembered[key][col_id].to_dict()) == repr(profile.to_dict())


def test_a_rollback_forgets_what_it_wrote(tmp_path: Path, rng: np.random.Generator) -> None:
    data = DataDir(tmp_path / "d").ensure()
    wh = Warehouse(data)
    try:
        with pytest.raises(RuntimeError), wh.transaction():
            wh.upsert_profiles(_rows(rng))
            raise RuntimeError("killed half-way")
        assert wh.written_profiles("m") == {}
        assert windows_profiles(wh, "m", [("v1", "", datetime(2026, 1, 1, tzinfo=UTC))]) == {}
    finally:
        wh.close()
