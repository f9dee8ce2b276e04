"""Merge profile files into the warehouse, once each, and mark their windows dirty.

The caller holds the job lock (the warehouse has one owner). A file whose content hash was merged
before is skipped; so is a file of an input and window already merged from another file (the same
input profiled again gives other float sums, hence another hash, but must not count twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from duckwatch.config import DataDir
from duckwatch.errors import BadInputError
from duckwatch.loading.inputs import mark_windows_dirty
from duckwatch.loading.profile_scan import Profile
from duckwatch.loading.profiling import load_reference, profile_from_json
from duckwatch.metrics.profile import NumericProfile, merge
from duckwatch.spark.files import ProfileFile, list_profile_files, read_profile_file
from duckwatch.spark.state import check_time_window, reference_digest
from duckwatch.store import catalog, dirty_windows, profile_files
from duckwatch.store import profile_queries as q
from duckwatch.store.catalog import ModelInfo
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import Warehouse

__all__ = ["IngestProfilesReport", "ingest_profiles"]

WindowCol = tuple[str, str, pd.Timestamp, str]  # version, experiment, start (UTC), column id


@dataclass
class IngestProfilesReport:
    """What one ``ingest profiles`` did."""

    merged: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    same_input: list[str] = field(default_factory=list)
    rows: int = 0
    windows: int = 0


def ingest_profiles(data: DataDir, model: str, directory: Path, now: datetime) -> IngestProfilesReport:
    """Merge the profile files of ``directory`` for ``model`` (see the module docstring)."""
    settings = Settings(data.settings)
    info = catalog.get_model(settings, model)
    if info is None:
        raise BadInputError(f"unknown model {model!r}: load its reference and run `duckwatch run` first")
    check_time_window(info)
    files = [read_profile_file(p) for p in list_profile_files(directory)]
    columns = catalog.get_columns(settings, model)
    kinds = {c.col_id: c.dtype for c in columns}
    report = IngestProfilesReport()
    wh = Warehouse(data)
    try:
        wh.set_timezone(info.timezone)
        reference = load_reference(wh, model)
        digest = reference_digest(reference)
        for f in files:
            _check(f, info, digest, kinds)
        with wh.transaction():
            fresh = _unseen(wh, model, files, report)
            if fresh:
                _merge(wh, info, fresh)
                # A model profiled only on Spark still has a (empty) predictions table, so the job
                # computes its windows as any other model's.
                wh.ensure_raw_table(info.model_key, "predictions", columns)
                ledger = [
                    (
                        f.content_hash,
                        f.source,
                        f.version,
                        f.experiment,
                        f.window_start,
                        f.segment,
                        f.rows,
                        f.path.name,
                    )
                    for f in fresh
                ]
                profile_files.record(wh, model, ledger, now)
                keys = sorted({(f.version, f.experiment, f.window_start) for f in fresh})
                source, params = dirty_windows.windows_of_ends([(v, e, ws, ws) for v, e, ws in keys])
                mark_windows_dirty(wh, info, [source], params)
                report.windows = len(keys)
                report.rows = sum(f.rows for f in fresh if f.segment == "")
    finally:
        wh.close()
    return report


def _check(f: ProfileFile, info: ModelInfo, digest: str, kinds: dict[str, str]) -> None:
    """Refuse a file of another model, window, time zone or reference, or of unknown columns."""
    if f.model != info.model:
        raise BadInputError(f"{f.path.name} holds profiles of model {f.model!r}, not {info.model!r}")
    if f.window != info.window or f.timezone != info.timezone:
        raise BadInputError(
            f"{f.path.name} was cut in {f.window} windows in {f.timezone}; model {info.model!r} now uses "
            f"{info.window} windows in {info.timezone}: run `duckwatch spark profile` again"
        )
    if f.reference != digest:
        raise BadInputError(
            f"{f.path.name} was binned against another reference than model {info.model!r}'s current one: "
            "run `duckwatch spark profile` again"
        )
    for col_id, profile in f.profiles.items():
        kind = "numeric" if isinstance(profile, NumericProfile) else "categorical"
        if kinds.get(col_id) != kind:
            raise BadInputError(f"{f.path.name}: column {col_id} is not a {kind} column of {info.model!r}")


def _unseen(
    wh: Warehouse, model: str, files: list[ProfileFile], report: IngestProfilesReport
) -> list[ProfileFile]:
    """The files not merged before (by content hash, then by input and window)."""
    hashes = profile_files.seen_hashes(wh, model, [f.content_hash for f in files])
    sources = profile_files.seen_sources(wh, model)
    fresh: list[ProfileFile] = []
    for f in files:
        key = (f.source, f.version, f.experiment, pd.Timestamp(f.window_start), f.segment)
        if f.content_hash in hashes:
            report.already.append(f.path.name)
        elif key in sources:
            report.same_input.append(f"{f.path.name} (same input and window as {sources[key]})")
        else:
            fresh.append(f)
            hashes.add(f.content_hash)
            sources[key] = f.path.name
            report.merged.append(f.path.name)
    return fresh


def _merge(wh: Warehouse, info: ModelInfo, files: list[ProfileFile]) -> None:
    """Add the files' profiles to the stored ones of their windows (whole-window profiles only)."""
    starts = sorted({f.window_start for f in files})
    merged: dict[WindowCol, tuple[str, Profile]] = {}
    for v, e, ws, col_id, kind, text in q.stored_window_profiles(wh, info.model, starts):
        merged[(str(v), str(e), _utc(ws), str(col_id))] = (str(kind), profile_from_json(kind, text))
    touched: set[WindowCol] = set()
    for f in files:
        if f.segment != "":
            continue  # profiles of a segment's rows: no calculator reads them yet
        for col_id, part in f.profiles.items():
            key = (f.version, f.experiment, _utc(f.window_start), col_id)
            old = merged.get(key)
            kind = "numeric" if isinstance(part, NumericProfile) else "categorical"
            merged[key] = (kind, merge(old[1], part) if old is not None else part)
            touched.add(key)
    rows: list[tuple[str, str, str, datetime, str, str, str, dict[str, Any]]] = [
        (
            info.model,
            v,
            e,
            ws.to_pydatetime(),
            "",
            col_id,
            merged[(v, e, ws, col_id)][0],
            merged[(v, e, ws, col_id)][1].to_dict(),
        )
        for v, e, ws, col_id in sorted(touched)
    ]
    wh.upsert_profiles(rows)


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
