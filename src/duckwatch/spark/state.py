"""What a Spark pass needs from the data dir: the model's roles, window, time zone and reference."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from duckwatch.config import DataDir, resolve_data_dir
from duckwatch.errors import BadInputError
from duckwatch.jobs.lock import JobBusyError, job_lock
from duckwatch.loading.profile_scan import Profile
from duckwatch.loading.profiling import load_reference, profiled_columns
from duckwatch.metrics.profile import NumericProfile
from duckwatch.store import catalog
from duckwatch.store.catalog import ColumnInfo, ModelInfo, row_window_size
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse

__all__ = ["ModelState", "check_time_window", "load_state", "reference_digest"]

LOCK_WAIT_S = 120.0  # a running tick holds the warehouse: wait for it this long


@dataclass(frozen=True)
class ModelState:
    """A model as the Spark pass sees it: settings, the profiled columns with a reference, the digest."""

    info: ModelInfo
    columns: list[ColumnInfo]
    reference: dict[str, Profile]
    digest: str
    time_col: str | None


def check_time_window(info: ModelInfo) -> None:
    """Refuse row-count windows: rows in a lake have no arrival order to count them by."""
    if row_window_size(info.window):
        raise BadInputError(
            f"model {info.model!r} has windows of {info.window!r}: rows in a lake have no arrival order, "
            "so Spark profiles only time windows; set an hour, day, week or month window "
            "(duckwatch monitors apply) or profile this model locally"
        )


def load_state(data_dir: str | Path | DataDir, model: str, wait_s: float = LOCK_WAIT_S) -> ModelState:
    """Read the model's settings and reference profiles (briefly holding the job lock)."""
    data = data_dir if isinstance(data_dir, DataDir) else resolve_data_dir(data_dir)
    if not data.settings.exists():
        raise BadInputError(f"no duckwatch data dir at {data.root}: run `duckwatch init` there first")
    settings = Settings(data.settings)
    info = catalog.get_model(settings, model)
    if info is None:
        raise BadInputError(f"unknown model {model!r} in {data.root}: load its reference first")
    check_time_window(info)
    cols = profiled_columns(catalog.get_columns(settings, model))
    reference = _read_reference(data, model, wait_s)
    if not reference:
        raise BadInputError(
            f"model {model!r} has no reference profiles yet: load a reference with "
            f"`duckwatch reference FILE --model {model}` and run `duckwatch run` once"
        )
    times = [c.name for c in catalog.get_columns(settings, model) if c.role == "timestamp"]
    use = [c for c in cols if c.col_id in reference]
    return ModelState(info, use, reference, reference_digest(reference), times[0] if times else None)


def _read_reference(data: DataDir, model: str, wait_s: float) -> dict[str, Profile]:
    """The reference profiles; the warehouse has one owner, so this waits for a running tick."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with job_lock(data.locks):
                wh = Warehouse(data)
                try:
                    return load_reference(wh, model)
                finally:
                    wh.close()
        except JobBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def reference_digest(reference: dict[str, Profile]) -> str:
    """A fingerprint of the reference's bins and vocabularies: profiles merge only on the same ones."""
    parts: list[object] = []
    for col_id in sorted(reference):
        ref = reference[col_id]
        if isinstance(ref, NumericProfile):
            parts.append([col_id, "numeric", ref.binning.edges.tolist(), list(ref.binning.specials)])
        else:
            vocab = ref.vocabulary
            parts.append([col_id, "categorical", list(vocab.values), sorted(vocab.other_values)])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()
