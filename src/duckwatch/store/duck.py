"""DuckDB connections with the per-process limits, time zone and lock-retry policy of DESIGN.md."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TypeVar

import duckdb

from duckwatch.errors import StorageError

T = TypeVar("T")

MEMORY_LIMIT = os.environ.get("DUCKWATCH_DUCKDB_MEMORY", "2GB")
THREADS = int(os.environ.get("DUCKWATCH_DUCKDB_THREADS", "2"))


def _configure(con: duckdb.DuckDBPyConnection, timezone: str) -> None:
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET threads = {THREADS}")
    # The host's zone is DuckDB's default; windows must never depend on the machine.
    con.execute(f"SET TimeZone = '{_tz(timezone)}'")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = true")


def _tz(timezone: str) -> str:
    if not all(ch.isalnum() or ch in "/_+-" for ch in timezone):
        raise StorageError(f"invalid time zone {timezone!r}: use an IANA name such as 'Europe/Berlin'")
    return timezone


def memory() -> duckdb.DuckDBPyConnection:
    """An in-memory connection (used for reading user files and validating batches)."""
    con = duckdb.connect(":memory:")
    _configure(con, "UTC")
    return con


def warm_up(con: duckdb.DuckDBPyConnection) -> None:
    """Run one trivial query, so that a connection's first real query pays no lazy start-up."""
    con.execute("SELECT 1").fetchall()


def is_lock_error(exc: BaseException) -> bool:
    """True when DuckDB refused to open a file because another process holds its lock."""
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def with_lock_retry(fn: Callable[[], T], *, timeout: float = 30.0) -> T:
    """Run ``fn``, retrying with jittered backoff while DuckDB reports a file lock."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            return fn()
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)


def open_file(path: Path, *, read_only: bool, timezone: str = "UTC") -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with limits set; read-only opens retry transparently on a lock."""

    def _open() -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(path), read_only=read_only)

    try:
        con = with_lock_retry(_open)
    except duckdb.Error as exc:
        raise StorageError(f"cannot open {path}: {exc}") from exc
    _configure(con, timezone)
    return con


@contextmanager
def reading(path: Path, timezone: str = "UTC") -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A short-lived read-only connection to a published file, or None when it does not exist yet."""
    if not path.exists():
        yield None
        return
    con = open_file(path, read_only=True, timezone=timezone)
    try:
        yield con
    finally:
        con.close()


def migrations(kind: str) -> list[tuple[int, str, str]]:
    """Numbered migration scripts shipped in the package for ``kind`` ('warehouse' or 'settings')."""
    folder = resources.files("duckwatch.store") / "migrations" / kind
    out = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply pending warehouse migrations in order; return the schema version now recorded."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    for version, name, sql in migrations("warehouse"):
        if version in done:
            continue
        con.execute("BEGIN")
        con.execute(sql)
        con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
        con.execute("COMMIT")
    rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
    row = rows[0] if rows else None
    return int(row[0]) if row and row[0] is not None else 0


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
