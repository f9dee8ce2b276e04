"""Profile files: one JSON document per (window, version, experiment, segment), written atomically.

A file names the model, its window unit and time zone, the reference it was binned against (a digest
of its bins) and the input it was profiled from; ``duckwatch ingest profiles`` checks all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duckwatch.errors import BadInputError
from duckwatch.loading.profile_scan import Profile
from duckwatch.loading.profiling import profile_from_dict

__all__ = ["FORMAT", "ProfileFile", "encode", "file_name", "read_profile_file", "write_atomic"]

FORMAT = "duckwatch-profiles/1"
SUFFIX = ".dwprofile.json"


@dataclass(frozen=True)
class ProfileFile:
    """One profile file as read back: its header, window key, row count and profiles per column id."""

    path: Path
    content_hash: str
    model: str
    window: str
    timezone: str
    reference: str
    source: str
    version: str
    experiment: str
    window_start: datetime
    segment: str
    rows: int
    profiles: dict[str, Profile]


def encode(
    header: dict[str, Any],
    key: tuple[str, str, datetime, str],
    rows: int,
    profiles: dict[str, dict[str, Any]],
) -> bytes:
    """The bytes of one file (keys sorted: the same profiles give the same bytes)."""
    v, e, ws, segment = key
    doc = {
        **header,
        "format": FORMAT,
        "version": v,
        "experiment": e,
        "window_start": ws.astimezone(UTC).isoformat(),
        "segment": segment,
        "rows": int(rows),
        "profiles": profiles,
    }
    return json.dumps(doc, sort_keys=True, allow_nan=False).encode()


def file_name(model: str, key: tuple[str, str, datetime, str], source: str) -> str:
    """A file's name: model, window start, and a digest of the rest of its key and its input."""
    v, e, ws, segment = key
    digest = hashlib.sha256(json.dumps([v, e, segment, source]).encode()).hexdigest()[:16]
    return f"{model}-{ws.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest}{SUFFIX}"


def write_atomic(path: Path, content: bytes) -> None:
    """Write under a temporary name, fsync, rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def list_profile_files(directory: Path) -> list[Path]:
    """The profile files of a directory, by name."""
    if not directory.is_dir():
        raise BadInputError(
            f"{directory} is not a directory: give the --out directory of `duckwatch spark profile`"
        )
    return sorted(p for p in directory.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))


def read_profile_file(path: Path) -> ProfileFile:
    """Parse and check one file; a bad file is a BadInputError naming it."""
    content = path.read_bytes()
    try:
        doc = json.loads(content)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT!r}")
        profiles = {
            str(col_id): profile_from_dict(str(item["kind"]), item["profile"])
            for col_id, item in doc["profiles"].items()
        }
        ws = datetime.fromisoformat(str(doc["window_start"]))
        if ws.tzinfo is None:
            raise ValueError("window_start has no time zone")
        return ProfileFile(
            path=path,
            content_hash=hashlib.sha256(content).hexdigest(),
            model=str(doc["model"]),
            window=str(doc["window"]),
            timezone=str(doc["timezone"]),
            reference=str(doc["reference"]),
            source=str(doc["source"]),
            version=str(doc["version"]),
            experiment=str(doc["experiment"]),
            window_start=ws.astimezone(UTC),
            segment=str(doc["segment"]),
            rows=int(doc["rows"]),
            profiles=profiles,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(
            f"{path.name} is not a duckwatch profile file ({exc}); give the --out directory of "
            "`duckwatch spark profile`"
        ) from exc
