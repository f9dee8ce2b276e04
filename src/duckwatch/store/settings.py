"""The settings store: SQLite in WAL mode, safe under concurrent writers (BEGIN IMMEDIATE)."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from duckwatch.config import owner_only
from duckwatch.store.audit_trail import audit, utcnow
from duckwatch.store.duck import migrations
from duckwatch.store.settings_steps import STEPS

__all__ = ["Settings", "audit", "utcnow"]

log = logging.getLogger("duckwatch.store")


class Settings:
    """Short-lived SQLite connections to ``settings.sqlite``; every write is one IMMEDIATE transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._migrated = False
        self._batches: dict[int, sqlite3.Connection] = {}  # thread id -> the connection of its batch

    def _connect(self) -> sqlite3.Connection:
        if not self._migrated:
            _owner_only_files(self.path)
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA secure_delete=ON")  # a rewritten value leaves no copy in free space
        if not self._migrated:
            self._migrate(con)
        return con

    def _migrate(self, con: sqlite3.Connection) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
            )
            done = {r[0] for r in con.execute("SELECT version FROM schema_version")}
            scrub = False
            for version, name, sql in migrations("settings"):
                if version in done:
                    continue
                for statement in _split_sql(sql):
                    con.execute(statement)
                step = STEPS.get(version)
                if step is not None:  # a Python step of this version, in the same transaction
                    scrub = step(con, self.path) or scrub
                con.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, utcnow()),
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if scrub:
            _scrub(con, self.path)
        self._migrated = True

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run this thread's reads and writes on one connection, in one transaction committed at the end.

        Opening a connection (and committing with synchronous=FULL) for each of thousands of small reads
        and writes cost seconds per tick. Each ``write()`` inside keeps its all-or-nothing through a
        savepoint, and the writes that completed are committed even when the block raises, as they were
        when every write committed on its own. Other threads keep their own connections; nesting is a no-op.
        """
        thread = threading.get_ident()
        if thread in self._batches:
            yield
            return
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            self._batches[thread] = con
            try:
                yield
            finally:
                del self._batches[thread]
                con.execute("COMMIT")
        finally:
            con.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue instead of failing)."""
        held = self._batches.get(threading.get_ident())
        if held is not None:
            held.execute("SAVEPOINT batch_write")
            try:
                yield held
            except BaseException:
                held.execute("ROLLBACK TO batch_write")
                held.execute("RELEASE batch_write")
                raise
            held.execute("RELEASE batch_write")
            return
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read connection (WAL readers never block writers)."""
        held = self._batches.get(threading.get_ident())
        if held is not None:
            yield held
            return
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query as dicts."""
        with self.read() as con:
            return [dict(r) for r in con.execute(sql, params).fetchall()]

    def schema_version(self) -> int:
        """The settings schema version recorded in the file."""
        rows = self.query("SELECT max(version) AS v FROM schema_version")
        return int(rows[0]["v"] or 0)


def _owner_only_files(path: Path) -> None:
    """Create settings.sqlite 0600 (whatever the umask) and tighten an older, wider file and its WAL/SHM."""
    with suppress(OSError):  # a missing folder or a read-only file: sqlite3.connect reports it as before
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    # SQLite gives -wal and -shm the database file's permissions when it creates them.
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        owner_only(candidate)


def _scrub(con: sqlite3.Connection, path: Path) -> None:
    """Rebuild the file so rewritten values leave no copy in free pages or the WAL (best effort)."""
    try:
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as exc:  # another process holds the file: the data is already redacted
        log.warning("could not compact %s after redacting secrets (%s); run VACUUM on it later", path, exc)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped.strip():
            continue
        buf.append(stripped)
        text = "\n".join(buf)
        if stripped.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            buf = []
    if buf and "\n".join(buf).strip():
        statements.append("\n".join(buf))
    return statements
