"""`duckwatch ingest FILE.parquet`: the byte copy started early is sealed only after validation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from duckwatch.cli import main
from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.store.landing import pending
from duckwatch.store.landing_copy import BackgroundCopy
from duckwatch.store.landing_files import plan_path
from tests.conftest import make_predictions


def _leftovers(data: DataDir) -> list[str]:
    return sorted(p.name for p in data.landing.glob("*/*/.tmp-*"))


def _ingest(data: DataDir, path: Path) -> int:
    args = ["ingest", "predictions", str(path), "--model", "m", "--id-col", "request_id"]
    return main([*args, "--score-col", "score", "--data-dir", str(data.root)])


def test_good_file_is_sealed_as_byte_copy_with_plan(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    src = tmp_path / "preds.parquet"
    make_predictions(rng, 500).to_parquet(src, index=False)
    assert _ingest(data_dir, src) == 0
    [sealed] = pending(data_dir.landing, "predictions", "m")
    assert sealed.read_bytes() == src.read_bytes()
    assert plan_path(sealed).is_file()
    assert _leftovers(data_dir) == []


def test_file_with_bad_rows_discards_the_early_copy(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    frame = make_predictions(rng, 200)
    frame.loc[3, "score"] = 1.5  # not a probability: the file goes row by row
    src = tmp_path / "preds.parquet"
    frame.to_parquet(src, index=False)
    assert _ingest(data_dir, src) == 0
    [sealed] = pending(data_dir.landing, "predictions", "m")
    assert not plan_path(sealed).exists()  # re-encoded, not byte-copied
    assert pd.read_parquet(sealed).shape[0] == 199
    assert _leftovers(data_dir) == []


def test_invalid_model_name_starts_no_copy(
    data_dir: DataDir, rng: np.random.Generator, tmp_path: Path
) -> None:
    src = tmp_path / "preds.parquet"
    make_predictions(rng, 10).to_parquet(src, index=False)
    code = main(["ingest", "predictions", str(src), "--model", "../x", "--data-dir", str(data_dir.root)])
    assert code == 2
    assert not list(data_dir.root.parent.glob("**/.tmp-*"))


def test_source_changed_during_copy_is_refused_and_cleaned(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    src.write_bytes(b"x" * 1000)
    folder = tmp_path / "landing" / "predictions" / "m"
    copy = BackgroundCopy(src, folder)
    with src.open("ab") as fh:
        fh.write(b"more")
    with pytest.raises(BadInputError, match="changed while it was being ingested"):
        copy.seal(folder / "b.parquet")
    copy.discard()
    assert os.listdir(folder) == []


def test_sealed_copy_survives_discard(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    src.write_bytes(b"abc")
    folder = tmp_path / "landing" / "predictions" / "m"
    copy = BackgroundCopy(src, folder)
    copy.seal(folder / "b.parquet")
    copy.discard()
    assert os.listdir(folder) == ["b.parquet"]
    assert (folder / "b.parquet").read_bytes() == b"abc"
