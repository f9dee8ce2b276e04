"""The landing zone's folders: what waits for the job, quarantined rows, and the rows files hold.

Nothing here follows a symbolic link: a link planted in ``landing/`` (to another model's data, or to
/etc/passwd) is never listed, read or shown; it is reported once per process (landing_temp.warn_link).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from duckwatch.store.duck import fsync_dir, fsync_file
from duckwatch.store.input_checks import cap_raw, shorten
from duckwatch.store.landing_copy import seal_new
from duckwatch.store.landing_temp import is_real_dir, real_dirs, temp_path, warn_link

LANDING_STREAMS = ("predictions", "outcomes", "inputs", "reference", "quarantine")
REASON_KEEP_CHARS = 2000  # a row's reasons joined; each value they quote is cut at 200 characters already
QUARANTINE_SCHEMA = pa.schema(
    [
        ("_batch", pa.string()),
        ("_row", pa.int64()),
        ("_stream", pa.string()),
        ("_version", pa.string()),
        ("_experiment", pa.string()),
        ("_reason", pa.string()),
        ("_raw", pa.string()),
        ("_received_at", pa.timestamp("us", tz="UTC")),
        ("_ts", pa.timestamp("us", tz="UTC")),  # event time when readable (absent: NULL)
    ]
)


def write_quarantine(rows: list[dict[str, object]], landing: Path, model: str, batch_id: str) -> Path:
    """Seal quarantined rows (with their reason and raw text, both capped) for the job to keep."""
    folder = landing / "quarantine" / model
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{batch_id}.parquet"
    tmp = temp_path(folder, batch_id)
    capped = [
        {
            **row,
            "_reason": shorten(str(row.get("_reason") or ""), REASON_KEEP_CHARS),
            "_raw": None if row.get("_raw") is None else cap_raw(str(row["_raw"])),
        }
        for row in rows
    ]
    pq.write_table(pa.Table.from_pylist(capped, schema=QUARANTINE_SCHEMA), tmp)
    fsync_file(tmp)
    seal_new(tmp, final)
    fsync_dir(folder)
    return final


def pending(landing: Path, stream: str, model: str) -> list[Path]:
    """Sealed files waiting for the job, oldest first (temp files and links are never listed)."""
    folder = landing / stream / model
    if not (is_real_dir(landing / stream) and is_real_dir(folder)):
        return []
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if e.name.endswith(".parquet") and not e.name.startswith(".tmp-")]
    except FileNotFoundError:  # removed meanwhile: nothing waits
        return []
    out: list[Path] = []
    for entry in entries:
        if entry.is_symlink():
            warn_link(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            out.append(Path(entry.path))
    return sorted(out)


def pending_models(landing: Path) -> set[str]:
    """Models with sealed files waiting in any stream."""
    out: set[str] = set()
    for stream in LANDING_STREAMS:
        if is_real_dir(landing / stream):
            out.update(p.name for p in real_dirs(landing / stream) if pending(landing, stream, p.name))
    return out


def count_rows(paths: Iterable[Path]) -> int:
    """Rows in sealed Parquet files, from their footers only."""
    total = 0
    for p in paths:
        try:
            total += pq.ParquetFile(p).metadata.num_rows
        except FileNotFoundError:  # ingested and removed by the job meanwhile: counted there now
            continue
    return total
