"""Temp files of the landing zone: named after their writer's process, swept once no writer can use them.

Every file is written under a ``.tmp-…-p<pid>-<tag>`` name and renamed when complete, so a writer
that is killed (OOM, kill -9, power loss) leaves its temp file behind; it was never acknowledged,
so deleting it loses nothing. A temp file is deleted when it is older than ``STALE_AFTER_S``, or
older than ``ORPHAN_AFTER_S`` when the process named in it has ended (the grace covers a writer in
another PID namespace, whose pid means nothing here, as long as it keeps writing).

Standard library only: ``landing_copy`` (imported before DuckDB by the CLI) names its files here.
Directory links are never followed (``real_dirs``): a link planted in the landing zone must not
lead the sweep, or a reader, to files outside it.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("duckwatch.store")

STALE_AFTER_S = 3600.0  # any temp file this old: no writer takes an hour between two writes
ORPHAN_AFTER_S = 300.0  # a temp file whose writing process has ended
PLAN_SUFFIX = ".plan.json"
_OWNER = re.compile(r"(?:^\.tmp-|-)p(\d+)-[0-9a-f]{8}(?:\.plan\.json|\.parquet)$")
_WARNED: set[str] = set()  # links already reported by this process (one warning each, not one per tick)


def temp_path(folder: Path, stem: str, suffix: str = ".parquet") -> Path:
    """A new temp name in ``folder`` that records this process as its writer."""
    prefix = f".tmp-{stem}-" if stem else ".tmp-"
    return folder / f"{prefix}p{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"


def owner_pid(name: str) -> int | None:
    """The writer's pid recorded in a temp file's name (None for names from older versions)."""
    m = _OWNER.search(name)
    return int(m.group(1)) if m else None


def process_alive(pid: int) -> bool:
    """True unless no process with this pid exists (another user's process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is someone else's
        return True
    return True


def warn_link(path: Path) -> None:
    """Say once per process that a link in the data dir was left alone, and what to do."""
    if str(path) in _WARNED:
        return
    _WARNED.add(str(path))
    log.warning(
        "%s is a symbolic link: duckwatch never follows links inside its data dir, so it was not read. "
        "Delete the link (not what it points to); to ingest a file from elsewhere, use `duckwatch ingest`.",
        path,
    )


def is_real_dir(path: Path) -> bool:
    """True for a directory that is not a link (a link is reported by ``warn_link``)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    if stat.S_ISLNK(mode):
        warn_link(path)
        return False
    return stat.S_ISDIR(mode)


def real_dirs(folder: Path) -> Iterator[Path]:
    """The sub-directories of ``folder`` that are not links (``folder`` itself may be one: the
    landing zone may be moved to another disk by its owner)."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:  # removed meanwhile, or unreadable: nothing to list
        return
    for entry in entries:
        if entry.is_symlink():
            warn_link(Path(entry.path))
        elif entry.is_dir(follow_symlinks=False):
            yield Path(entry.path)


def model_dirs(landing: Path) -> Iterator[Path]:
    """Every ``<stream>/<model>`` folder of the landing zone (links skipped)."""
    for stream in real_dirs(landing):
        yield from real_dirs(stream)


def sweep_temp_files(
    landing: Path,
    *,
    stale_after_s: float = STALE_AFTER_S,
    orphan_after_s: float = ORPHAN_AFTER_S,
    now: float | None = None,
) -> int:
    """Delete temp files (and plans without their data file) that no live writer can still be writing."""
    now = time.time() if now is None else now
    removed = 0
    for folder in model_dirs(landing):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = folder / name
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                if name.startswith(".tmp-") or name.endswith(PLAN_SUFFIX):
                    warn_link(path)
                continue
            age = now - st.st_mtime
            if name.startswith(".tmp-"):
                pid = owner_pid(name)
                dead = pid is not None and age > orphan_after_s and not process_alive(pid)
                if not (age > stale_after_s or dead):
                    continue
            elif not (name.endswith(PLAN_SUFFIX) and age > stale_after_s):
                continue
            elif (folder / (name[: -len(PLAN_SUFFIX)] + ".parquet")).exists():
                continue  # a sealed file's plan: it goes with its file
            try:
                path.unlink()
                removed += 1
            except OSError:  # gone meanwhile, or not ours to delete: never a reason to fail
                continue
    return removed
