"""Password sign-in with a lockout per (user, client address) kept in the settings store.

After ``LOCK_AFTER`` failures in a row, each further failure locks that pair for a delay that doubles
from one second up to fifteen minutes. While locked, even the right password is refused (it is not
checked at all), with the time to retry. Success clears the counter. The counter lives on the server,
so a new browser session, tab or cleared cookie does not reset it; other clients are not locked out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from duckwatch.store import sessions
from duckwatch.store.settings import Settings, audit
from duckwatch.store.users import verify

__all__ = ["FIRST_DELAY_S", "LOCK_AFTER", "MAX_DELAY_S", "Outcome", "lock_delay", "sign_in"]

LOCK_AFTER = 5
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 900.0
WRONG = "Unknown user or wrong password."


@dataclass(frozen=True)
class Outcome:
    """A sign-in's result: a started session, or the message to show."""

    started: sessions.Started | None
    user: str
    role: str
    message: str
    retry_at: datetime | None = None


def lock_delay(failures: int) -> float:
    """Seconds a (user, client) pair stays locked after ``failures`` failures in a row (0: not locked)."""
    if failures < LOCK_AFTER:
        return 0.0
    return min(FIRST_DELAY_S * 2.0 ** (failures - LOCK_AFTER), MAX_DELAY_S)


def _locked_message(until: datetime, at: datetime) -> str:
    wait = max(1, math.ceil((until - at).total_seconds()))
    return (
        f"Too many failed sign-ins for this user from this address: try again in {wait} s "
        f"(after {until.strftime('%H:%M:%S')} UTC)."
    )


def sign_in(
    settings: Settings, name: str, password: str, client: str, now: datetime | None = None
) -> Outcome:
    """Check the lockout, then the password; start a session on success, count a failure otherwise."""
    at = now if now is not None else datetime.now(UTC)
    client = client or "local"
    rows = settings.query(
        "SELECT failures, locked_until FROM signin_failures WHERE user = ? AND client = ?", (name, client)
    )
    if rows and rows[0]["locked_until"]:
        locked = datetime.fromisoformat(rows[0]["locked_until"])
        if locked > at:
            return Outcome(None, name, "", _locked_message(locked, at), locked)
    found = verify(settings, name, password)
    if found is not None:
        with settings.write() as con:
            con.execute("DELETE FROM signin_failures WHERE user = ? AND client = ?", (name, client))
        started = sessions.start(settings, found.name, found.role, client, now=at)
        return Outcome(started, found.name, found.role, "")
    with settings.write() as con:
        row = con.execute(
            "SELECT failures FROM signin_failures WHERE user = ? AND client = ?", (name, client)
        ).fetchone()
        failures = (int(row[0]) if row else 0) + 1
        delay = lock_delay(failures)
        until = at + timedelta(seconds=delay) if delay else None
        con.execute(
            "INSERT INTO signin_failures (user, client, failures, locked_until, last_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (user, client) DO UPDATE SET failures = excluded.failures, "
            "locked_until = excluded.locked_until, last_at = excluded.last_at",
            (name, client, failures, None if until is None else until.isoformat(), at.isoformat()),
        )
        if failures == LOCK_AFTER:  # the moment a lockout starts, once per run of failures
            audit(
                con,
                actor=f"sign-in from {client}",
                action="user.lockout",
                target=name,
                after={"failures": failures, "locked_until": until.isoformat() if until else None},
                reason=f"{LOCK_AFTER} failed sign-ins in a row",
            )
    if until is None:
        return Outcome(None, name, "", WRONG)
    return Outcome(None, name, "", f"{WRONG} {_locked_message(until, at)}", until)
