"""The settings store: SQLite in WAL mode, safe under concurrent writers (BEGIN IMMEDIATE)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duckwatch.store.duck import migrations


def utcnow() -> str:
    """The current UTC time as an ISO-8601 string (the settings store's timestamp format)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Settings:
    """Short-lived SQLite connections to ``settings.sqlite``; every write is one IMMEDIATE transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._migrated = False

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=30000")
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
            for version, name, sql in migrations("settings"):
                if version in done:
                    continue
                for statement in _split_sql(sql):
                    con.execute(statement)
                con.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, utcnow()),
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._migrated = True

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue instead of failing)."""
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


def audit(
    con: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> None:
    """Append one audit entry inside the caller's write transaction."""
    con.execute(
        "INSERT INTO audit (at, actor, action, target, before, after, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            utcnow(),
            actor,
            action,
            target,
            None if before is None else json.dumps(before, sort_keys=True, default=str),
            None if after is None else json.dumps(after, sort_keys=True, default=str),
            reason,
        ),
    )


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
