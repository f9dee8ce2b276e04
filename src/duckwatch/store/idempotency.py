"""Idempotency keys: each remembered per (scope, model, stream) with the fingerprint of its batch.

A key names one batch. The first request with a key claims it; the same key with the same batch
then answers what the first answer was (nothing is written twice), the same key with another batch
is refused (nothing is overwritten or dropped), and a key whose batch is still being written is
reported as in flight. Keys are forgotten ``ttl_s`` after their first use (default 7 days), which
outlives any job tick. The batch id a key yields also hashes the batch's content, so even a key
reused after it was forgotten can never overwrite or be deduplicated into another batch.

The ledger is its own SQLite file (WAL, ``BEGIN IMMEDIATE``): every collector process of a data dir
shares it, and neither the job nor the app ever opens it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duckwatch.errors import BadInputError, KeyConflictError, KeyInFlightError

__all__ = [
    "DEFAULT_TTL_S",
    "LEDGER_FILE",
    "Claim",
    "KeyLedger",
]

LEDGER_FILE = "idempotency.sqlite"
DEFAULT_TTL_S = 7 * 86_400.0
# A claim not acknowledged or released within this time was left by a process that died mid-write:
# the same batch may then be sent again (its batch id is stable, so it still lands once). A claim
# whose process is gone is taken over at once: taking over is always safe (same content, same batch
# id, sealed files are never replaced), so a process id reused by another program costs only a wait.
LEASE_S = 30.0
_PURGE_EVERY_S = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    model TEXT NOT NULL,
    stream TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'open', 'done')),
    owner TEXT,
    lease_until REAL,
    answer TEXT,
    first_seen REAL NOT NULL,
    PRIMARY KEY (scope, model, stream, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_first_seen ON idempotency_keys (first_seen);
"""


@dataclass(frozen=True)
class Claim:
    """A claimed key; ``answer`` is the first answer when the same batch was already acknowledged."""

    scope: str
    model: str
    stream: str
    key: str
    fingerprint: str
    owner: str
    answer: dict[str, Any] | None = None


def _owner_alive(owner: str) -> bool:
    """False when the claiming process (on this machine) no longer exists."""
    try:
        pid = int(owner.split("-", 1)[0])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, OSError):  # not ours to signal, or an unreadable owner: assume it lives
        return True
    return True


class KeyLedger:
    """The data dir's idempotency keys (``idempotency.sqlite``), shared by every collector process."""

    def __init__(self, root: Path, ttl_s: float = DEFAULT_TTL_S, lease_s: float = LEASE_S) -> None:
        if ttl_s <= 0:
            raise BadInputError(f"idempotency key lifetime must be positive, got {ttl_s} s")
        self.path = root / LEDGER_FILE
        self.ttl_s = ttl_s
        self.lease_s = lease_s
        self._ready = False
        self._purged_at = 0.0

    def _connect(self) -> sqlite3.Connection:
        if not self._ready and not self.path.exists():
            # Created owner-only: the ledger holds fingerprints of tokens and of every keyed batch.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA busy_timeout=30000")
        if not self._ready:
            con.executescript(_SCHEMA)
            self._ready = True
        return con

    def claim(
        self, scope: str, model: str, stream: str, key: str, fingerprint: str, now: float | None = None
    ) -> Claim:
        """Claim ``key`` for the batch with ``fingerprint``; raise if it names another batch or is in flight."""
        now = time.time() if now is None else now
        owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        claim = Claim(scope, model, stream, key, fingerprint, owner)
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                if now - self._purged_at >= _PURGE_EVERY_S:
                    con.execute("DELETE FROM idempotency_keys WHERE first_seen < ?", (now - self.ttl_s,))
                    self._purged_at = now
                row = con.execute(
                    "SELECT fingerprint, state, owner, lease_until, answer, first_seen FROM idempotency_keys "
                    "WHERE scope = ? AND model = ? AND stream = ? AND key = ?",
                    (scope, model, stream, key),
                ).fetchone()
                if row is not None and row[5] < now - self.ttl_s:  # forgotten, even if not purged yet
                    con.execute(
                        "DELETE FROM idempotency_keys WHERE scope = ? AND model = ? AND stream = ? AND key = ?",
                        (scope, model, stream, key),
                    )
                    row = None
                if row is None:
                    con.execute(
                        "INSERT INTO idempotency_keys (scope, model, stream, key, fingerprint, state, owner, "
                        "lease_until, first_seen) VALUES (?, ?, ?, ?, ?, 'in_flight', ?, ?, ?)",
                        (scope, model, stream, key, fingerprint, owner, now + self.lease_s, now),
                    )
                else:
                    claim = self._existing(claim, row, now)
                    if claim.answer is None:
                        con.execute(
                            "UPDATE idempotency_keys SET state = 'in_flight', owner = ?, lease_until = ? "
                            "WHERE scope = ? AND model = ? AND stream = ? AND key = ?",
                            (owner, now + self.lease_s, scope, model, stream, key),
                        )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()
        return claim

    def _existing(self, claim: Claim, row: tuple[Any, ...], now: float) -> Claim:
        fingerprint, state, owner, lease_until, answer, first_seen = row
        if fingerprint != claim.fingerprint:
            since = datetime.fromtimestamp(first_seen, UTC).isoformat(timespec="seconds")
            days = self.ttl_s / 86_400
            raise KeyConflictError(
                f"idempotency key {claim.key!r} was already used at {since} for a different batch of "
                f"{claim.model!r} ({claim.stream}); nothing was written. Use a new key for new rows "
                f"(a key is remembered for {days:g} days), and resend a batch only with its own key"
            )
        if state == "done":
            return replace(claim, answer=json.loads(answer))
        live = state == "in_flight" and lease_until is not None and lease_until > now
        if live and _owner_alive(owner):
            raise KeyInFlightError(
                f"a request with idempotency key {claim.key!r} for {claim.model!r} ({claim.stream}) is "
                "still being written; retry in a second: it will answer what that request answered"
            )
        return claim

    def acknowledge(self, claim: Claim, answer: dict[str, Any]) -> None:
        """The batch is durable: later claims of the same key and batch get ``answer``."""
        self._finish(claim, "done", json.dumps(answer, sort_keys=True))

    def release(self, claim: Claim, *, nothing_written: bool) -> None:
        """The claim ended without an acknowledgement; the key stays bound to its batch unless nothing was written."""
        if nothing_written:
            self._finish(claim, None, None)
        else:
            self._finish(claim, "open", None)

    def _finish(self, claim: Claim, state: str | None, answer: str | None) -> None:
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            where = "WHERE scope = ? AND model = ? AND stream = ? AND key = ? AND owner = ?"
            ident = (claim.scope, claim.model, claim.stream, claim.key, claim.owner)
            if state is None:
                con.execute(f"DELETE FROM idempotency_keys {where}", ident)
            else:
                con.execute(
                    f"UPDATE idempotency_keys SET state = ?, answer = ?, lease_until = NULL {where}",
                    (state, answer, *ident),
                )
            con.execute("COMMIT")
        finally:
            con.close()
