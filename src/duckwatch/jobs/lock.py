"""One job at a time per data dir, enforced with an OS file lock (released if the process dies)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from duckwatch.errors import DuckwatchError


class JobBusyError(DuckwatchError):
    """Another job process holds the data dir's job lock."""


@contextmanager
def job_lock(locks: Path, name: str = "job") -> Iterator[None]:
    """Hold ``locks/<name>.lock`` exclusively for the duration, or raise JobBusyError at once."""
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise JobBusyError(
                f"another duckwatch job is running on this data dir (pid {holder}); "
                "stop it first or wait for its tick to finish"
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
